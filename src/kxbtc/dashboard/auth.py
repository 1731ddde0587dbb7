"""Unlocking the dashboard's controls: the operator posts the token once, and gets a session cookie.

``POST /api/login`` with ``{"token": "..."}``: on a match, a random session id is set as the cookie
``kxbtc_session`` (HttpOnly, so no script can read it; SameSite=Strict, so no other site's request
carries it; Path=/). Sessions live in this process's memory: a restart locks the controls again.
After ``MAX_FAILURES`` wrong tokens within ``FAILURE_WINDOW_S`` further attempts get 429 until the window
passes. ``POST /api/logout`` forgets the session; ``GET /api/session`` says whether this browser may act.
"""

from __future__ import annotations

import secrets

from aiohttp import web

from kxbtc.dashboard.guards import SESSION_COOKIE, check_origin, has_session, token_matches

MAX_FAILURES = 10
FAILURE_WINDOW_S = 60.0


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/login", _login)
    app.router.add_post("/api/logout", _logout)
    app.router.add_get("/api/session", _session)


async def _login(request: web.Request) -> web.Response:
    state = check_origin(request)
    now = state.clock.monotonic()
    state.failed_logins[:] = [t for t in state.failed_logins if now - t < FAILURE_WINDOW_S]
    if len(state.failed_logins) >= MAX_FAILURES:
        raise web.HTTPTooManyRequests(text="too many wrong tokens; wait a minute and try again")
    try:
        body = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(text='the body must be JSON: {"token": "..."}') from None
    sent = body.get("token") if isinstance(body, dict) else None
    if not isinstance(sent, str) or not token_matches(state, sent.strip()):
        state.failed_logins.append(now)
        raise web.HTTPForbidden(text="wrong token")
    session = secrets.token_urlsafe(32)
    state.sessions.add(session)
    response = web.json_response({"authorized": True})
    response.set_cookie(
        SESSION_COOKIE, session, httponly=True, samesite="Strict", path="/", secure=request.secure
    )
    return response


async def _logout(request: web.Request) -> web.Response:
    state = check_origin(request)
    state.sessions.discard(request.cookies.get(SESSION_COOKIE, ""))
    response = web.json_response({"authorized": False})
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


async def _session(request: web.Request) -> web.Response:
    return web.json_response({"authorized": has_session(request)})
