"""The dashboard's request guards, because a page on localhost can be reached by any other page the
browser has open:

- Control actions (halt, resume) need a credential the page does not hand out: the token given to
  the command (``--token``, ``--token-file`` or ``KXBTC_DASHBOARD_TOKEN``), either in the
  ``X-Kxbtc-Token`` header (scripts) or as the session cookie ``/api/login`` sets once the operator
  typed the token into the page (HttpOnly, SameSite=Strict). None: 401; a wrong one: 403.
- CSRF: every POST whose ``Origin`` (or ``Sec-Fetch-Site``) says it comes from another site is
  refused (403) before anything else; the SameSite=Strict cookie is not sent cross-site either.
- DNS rebinding: while listening on a loopback address, requests whose Host header names anything but
  127.0.0.1, localhost or ::1 are refused (403).
- The page loads nothing from elsewhere (Content-Security-Policy ``default-src 'self'``) and cannot be
  framed (``frame-ancestors 'none'``), so the Halt button cannot be clickjacked.

Errors become JSON here too: 503 when the database is missing or unreadable (the message names the
file), and under ``/api/`` every HTTP error.
"""

from __future__ import annotations

import hmac
import ipaddress
import sqlite3

from aiohttp import web
from aiohttp.typedefs import Handler

from kxbtc.dashboard.context import DASHBOARD, Dashboard, error_response
from kxbtc.errors import KxbtcError
from kxbtc.ops.queries import DatabaseUnusable
from kxbtc.store.connection import StoreError

TOKEN_HEADER = "X-Kxbtc-Token"
SESSION_COOKIE = "kxbtc_session"
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})

_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self';"
    " base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@web.middleware
async def guard_host(request: web.Request, handler: Handler) -> web.StreamResponse:
    state = request.app[DASHBOARD]
    host = (request.url.host or "").strip("[]").lower()
    if state.allowed_hosts is not None and host not in state.allowed_hosts:
        return error_response(
            403, f"refused: unexpected Host header {request.host!r} (DNS rebinding guard)", state.db
        )
    return await handler(request)


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers["Content-Security-Policy"] = _CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Database trouble as 503 naming the file; under /api/ every HTTP error is JSON too."""
    db = request.app[DASHBOARD].db
    try:
        return await handler(request)
    except DatabaseUnusable as exc:
        return error_response(503, str(exc), db, waiting=not db.exists())
    except sqlite3.DatabaseError as exc:
        if "not a database" in str(exc) or "malformed" in str(exc):
            return error_response(
                503, f"{db}: the file is not a valid kxbtc database (corrupt or not SQLite)", db
            )
        return error_response(503, f"{db}: {exc}", db)
    except sqlite3.Error as exc:
        return error_response(503, f"{db}: {exc}", db)
    except StoreError as exc:
        return error_response(503, str(exc), db)
    except KxbtcError as exc:
        return error_response(500, str(exc), db)
    except web.HTTPException as exc:
        if not request.path.startswith("/api/"):
            raise
        return error_response(exc.status, exc.text or exc.reason, db)


def same_origin(request: web.Request) -> bool:
    """False when the browser says the request comes from another site (Origin or Sec-Fetch-Site)."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("Origin")
    if origin is None:
        return True  # not a browser's cross-site request: browsers send Origin on every POST
    return origin.lower() == f"{request.scheme}://{request.host}".lower()


def check_origin(request: web.Request) -> Dashboard:
    state = request.app[DASHBOARD]
    if not same_origin(request):
        raise web.HTTPForbidden(text="refused: cross-site request (Origin does not match this dashboard)")
    return state


def token_matches(state: Dashboard, sent: str) -> bool:
    return hmac.compare_digest(sent.encode(), state.token.encode())


def has_session(request: web.Request) -> bool:
    state = request.app[DASHBOARD]
    session = request.cookies.get(SESSION_COOKIE, "")
    return bool(session) and any(hmac.compare_digest(session, known) for known in state.sessions)


def check_control(request: web.Request) -> Dashboard:
    """Let a control action through only from this site and with the token (header) or a session."""
    state = check_origin(request)
    sent = request.headers.get(TOKEN_HEADER)
    if sent is not None:
        if not token_matches(state, sent):
            raise web.HTTPForbidden(text=f"refused: the {TOKEN_HEADER} header does not carry the token")
        return state
    if request.cookies.get(SESSION_COOKIE):
        if not has_session(request):
            raise web.HTTPForbidden(text="refused: the session has expired; unlock the controls again")
        return state
    raise web.HTTPUnauthorized(
        text=f"refused: halt and resume need the dashboard's token (unlock the controls, or {TOKEN_HEADER})"
    )
