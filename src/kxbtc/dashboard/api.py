"""The dashboard's JSON API: reads answered as ``kxbtc status/positions/orders/fills/pnl --json`` do (the
same builders), plus the equity curve, risk events, decisions and LLM calls; and the kill switch.

Every read opens its own short-lived read-only connection in a worker thread, so a dashboard left open
never holds a lock on the engine's database. The only writes are ``POST /api/halt`` (JSON body
``{"reason": "..."}``) and ``POST /api/resume``; they do exactly what ``kxbtc halt`` / ``kxbtc resume``
do (``kxbtc.ops.kill_switch``), once ``kxbtc.dashboard.guards.check_control`` lets them through.
The live markets are in ``kxbtc.dashboard.markets`` (one snapshot, and the event stream).
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable
from contextlib import closing
from typing import TypeVar

from aiohttp import web

from kxbtc.dashboard import auth, payloads
from kxbtc.dashboard.context import DASHBOARD, Dashboard
from kxbtc.dashboard.guards import check_control
from kxbtc.dashboard.markets import market_events, markets_payload
from kxbtc.ops import kill_switch, queries
from kxbtc.ops.kill_switch import DEFAULT_HALT_REASON
from kxbtc.ops.pnl_report import GROUPINGS
from kxbtc.ops.render import JsonObject

DEFAULT_LIMIT = 50
#: Open market streams at once (a page holds one).
MAX_STREAMS = 16
MAX_LIMIT = 1000

T = TypeVar("T")


def add_routes(app: web.Application) -> None:
    """Register every ``/api/`` endpoint on ``app``."""
    app.router.add_get("/api/status", _status)
    app.router.add_get("/api/positions", _positions)
    app.router.add_get("/api/orders", _orders)
    app.router.add_get("/api/fills", _fills)
    app.router.add_get("/api/pnl", _pnl)
    app.router.add_get("/api/equity", _equity)
    app.router.add_get("/api/risk_events", _risk_events)
    app.router.add_get("/api/decisions", _decisions)
    app.router.add_get("/api/llm", _llm)
    app.router.add_get("/api/markets", _markets)
    app.router.add_get("/api/markets/stream", _markets_stream)
    app.router.add_post("/api/halt", _halt)
    app.router.add_post("/api/resume", _resume)
    auth.add_routes(app)


# -- reads ------------------------------------------------------------------------------------------


async def _read(request: web.Request, build: Callable[[sqlite3.Connection, Dashboard], T]) -> T:
    """Run ``build`` on a fresh read-only connection in a worker thread; the connection is closed after."""
    state = request.app[DASHBOARD]

    def work() -> T:
        with closing(queries.open_readonly(state.db)) as conn:
            return build(conn, state)

    return await asyncio.to_thread(work)


def _limit(request: web.Request) -> int:
    text = request.query.get("limit", str(DEFAULT_LIMIT))
    try:
        limit = int(text)
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_LIMIT:
        raise web.HTTPBadRequest(text=f"limit must be a whole number from 1 to {MAX_LIMIT}, not {text!r}")
    return limit


def _json(payload: JsonObject) -> web.Response:
    return web.json_response(payload)


async def _status(request: web.Request) -> web.Response:
    return _json(await _read(request, lambda conn, s: payloads.status(conn, s.db, s.clock.time_ns())))


async def _positions(request: web.Request) -> web.Response:
    return _json(await _read(request, lambda conn, s: payloads.positions(conn, s.db)))


async def _orders(request: web.Request) -> web.Response:
    status, limit = request.query.get("status") or None, _limit(request)
    return _json(await _read(request, lambda conn, s: payloads.orders(conn, s.db, status, limit)))


async def _fills(request: web.Request) -> web.Response:
    limit = _limit(request)
    return _json(await _read(request, lambda conn, s: payloads.fills(conn, s.db, limit)))


async def _pnl(request: web.Request) -> web.Response:
    by = request.query.get("by", "strategy")
    matching = [choice for choice in GROUPINGS if choice == by]
    if not matching:
        raise web.HTTPBadRequest(text=f"by must be one of {', '.join(GROUPINGS)}, not {by!r}")
    grouping = matching[0]
    return _json(await _read(request, lambda conn, s: payloads.pnl(conn, s.db, grouping)))


async def _equity(request: web.Request) -> web.Response:
    return _json(await _read(request, lambda conn, s: payloads.equity(conn, s.db)))


async def _risk_events(request: web.Request) -> web.Response:
    limit = _limit(request)
    return _json(await _read(request, lambda conn, s: payloads.risk_events(conn, s.db, limit)))


async def _decisions(request: web.Request) -> web.Response:
    limit = _limit(request)
    return _json(await _read(request, lambda conn, s: payloads.decisions(conn, s.db, limit)))


async def _llm(request: web.Request) -> web.Response:
    limit = _limit(request)
    return _json(await _read(request, lambda conn, s: payloads.llm(conn, s.db, limit, s.clock.time_ns())))


async def _markets(request: web.Request) -> web.Response:
    return _json(await _read(request, lambda conn, s: markets_payload(conn, s.db, s.clock.time_ns())))


async def _markets_stream(request: web.Request) -> web.StreamResponse:
    """Server-sent events: a ``markets`` snapshot at once, then one per database poll (about 1 Hz)."""
    state = request.app[DASHBOARD]
    if state.streams[0] >= MAX_STREAMS:  # each stream reads the database every second: bounded
        raise web.HTTPServiceUnavailable(text=f"too many open market streams (at most {MAX_STREAMS})")
    state.streams[0] += 1
    try:
        return await _stream(request, state)
    finally:
        state.streams[0] -= 1


async def _stream(request: web.Request, state: Dashboard) -> web.StreamResponse:
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    )
    await response.prepare(request)

    async def read() -> JsonObject:
        return await _read(request, lambda conn, s: markets_payload(conn, s.db, s.clock.time_ns()))

    async def sleep(seconds: float) -> None:
        # Wake early when the server shuts down, so an open page never holds the shutdown up.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(state.closing.wait(), seconds)

    try:
        async for frame in market_events(read, sleep, state.stream_poll_s):
            if state.closing.is_set():
                break
            await response.write(frame)
    except ConnectionResetError:  # the page went away
        pass
    return response


async def _halt_reason(request: web.Request) -> str:
    if not request.can_read_body:
        return DEFAULT_HALT_REASON
    try:
        body = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(text='the body must be JSON: {"reason": "..."}') from None
    reason = body.get("reason", DEFAULT_HALT_REASON) if isinstance(body, dict) else None
    if not isinstance(reason, str) or not reason.strip():
        raise web.HTTPBadRequest(text="reason must be a non-empty string (an empty reason means running)")
    return reason.strip()


async def _halt(request: web.Request) -> web.Response:
    state = check_control(request)
    reason = await _halt_reason(request)
    previous = await asyncio.to_thread(kill_switch.halt, state.db, reason, state.clock.time_ns())
    return _json({"db": str(state.db), "halted": True, "reason": reason, "previous": previous})


async def _resume(request: web.Request) -> web.Response:
    state = check_control(request)
    was = await asyncio.to_thread(kill_switch.resume, state.db, state.clock.time_ns())
    return _json({"db": str(state.db), "halted": False, "resumed": bool(was), "was": was})
