"""``kxbtc dashboard``: one local web page with the running system's state, read from its database.

The server reads the SQLite file the engine writes, read-only: every request opens its own short-lived
read-only connection (in a worker thread), so a dashboard left open never holds a lock on the engine's
database. The JSON endpoints answer as ``kxbtc status/positions/orders/fills/pnl --json`` do (the same
builders, ``kxbtc.ops.reports``), plus the equity curve, risk events, decisions and LLM calls.

The only writes are the kill switch, ``POST /api/halt`` (JSON body ``{"reason": "..."}``) and
``POST /api/resume``; they do exactly what ``kxbtc halt`` / ``kxbtc resume`` do (``kxbtc.ops.kill_switch``:
the kv key "halted" plus a risk event, which the running engine polls).

Guards, because a page on localhost can be reached by any other page the browser has open:

- CSRF: the two writes are refused (403) unless they carry this process's random token in the
  ``X-Kxbtc-Token`` header. The token is embedded only in the page this server serves; another site
  can neither read that page nor send a custom header to this origin without a CORS preflight, which
  is never granted.
- DNS rebinding: while listening on a loopback address, requests whose Host header names anything but
  127.0.0.1, localhost or ::1 are refused (403).
- The page loads nothing from elsewhere (Content-Security-Policy ``default-src 'self'``) and cannot be
  framed (``frame-ancestors 'none'``), so the Halt button cannot be clickjacked.

Errors are JSON ``{"error": "...", "db": "..."}`` with an HTTP status: 503 when the database is missing
or unreadable (the message names the file), 400 for a bad parameter, 403 for a refused write.
"""

from __future__ import annotations

import asyncio
import hmac
import html
import ipaddress
import secrets
import signal
import sqlite3
import sys
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
from aiohttp import web
from aiohttp.typedefs import Handler

from kxbtc.clock import Clock, SystemClock
from kxbtc.dashboard import payloads
from kxbtc.errors import KxbtcError
from kxbtc.exit_codes import EXIT_FAILURE, EXIT_USAGE
from kxbtc.ops import kill_switch, queries
from kxbtc.ops.kill_switch import DEFAULT_HALT_REASON
from kxbtc.ops.pnl_report import GROUPINGS
from kxbtc.ops.queries import DatabaseUnusable
from kxbtc.ops.render import JsonObject
from kxbtc.store.db import StoreError

DEFAULT_DB = "kxbtc.db"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
TOKEN_HEADER = "X-Kxbtc-Token"
DEFAULT_LIMIT = 50
MAX_LIMIT = 1000
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})

_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self';"
    " base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_ASSET_TYPES = {"app.js": "text/javascript", "style.css": "text/css"}

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Dashboard:
    """What every request needs: the database, the clock, the write token and the page."""

    db: Path
    clock: Clock
    token: str
    refresh_s: float
    #: Host names accepted in the Host header; None accepts any (the user chose a non-loopback --host).
    allowed_hosts: frozenset[str] | None
    page: str
    assets: dict[str, bytes]


DASHBOARD = web.AppKey("dashboard", Dashboard)


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _static(name: str) -> str:
    return resources.files("kxbtc.dashboard").joinpath("static", name).read_text(encoding="utf-8")


def create_app(
    db: Path,
    clock: Clock,
    *,
    refresh_s: float = 2.0,
    token: str | None = None,
    bind_host: str = DEFAULT_HOST,
) -> web.Application:
    """The dashboard's web application over the database at ``db``."""
    token = token or secrets.token_urlsafe(32)
    page = (
        _static("index.html")
        .replace("__KXBTC_TOKEN__", html.escape(token))
        .replace("__KXBTC_REFRESH_MS__", str(round(refresh_s * 1000)))
        .replace("__KXBTC_DB__", html.escape(str(db)))
    )
    app = web.Application(middlewares=[_guard_host, _json_errors])
    app.on_response_prepare.append(_security_headers)
    app[DASHBOARD] = Dashboard(
        db=db,
        clock=clock,
        token=token,
        refresh_s=refresh_s,
        allowed_hosts=LOOPBACK_NAMES | {bind_host.strip("[]").lower()} if is_loopback(bind_host) else None,
        page=page,
        assets={name: _static(name).encode() for name in _ASSET_TYPES},
    )
    app.router.add_get("/", _index)
    app.router.add_get("/static/{name}", _asset)
    app.router.add_get("/api/status", _status)
    app.router.add_get("/api/positions", _positions)
    app.router.add_get("/api/orders", _orders)
    app.router.add_get("/api/fills", _fills)
    app.router.add_get("/api/pnl", _pnl)
    app.router.add_get("/api/equity", _equity)
    app.router.add_get("/api/risk_events", _risk_events)
    app.router.add_get("/api/decisions", _decisions)
    app.router.add_get("/api/llm", _llm)
    app.router.add_post("/api/halt", _halt)
    app.router.add_post("/api/resume", _resume)
    return app


# -- middlewares ------------------------------------------------------------------------------------


def _error(status: int, message: str, db: Path, **extra: Any) -> web.Response:
    return web.json_response({"error": message, "db": str(db), **extra}, status=status)


@web.middleware
async def _guard_host(request: web.Request, handler: Handler) -> web.StreamResponse:
    state = request.app[DASHBOARD]
    host = (request.url.host or "").strip("[]").lower()
    if state.allowed_hosts is not None and host not in state.allowed_hosts:
        return _error(
            403, f"refused: unexpected Host header {request.host!r} (DNS rebinding guard)", state.db
        )
    return await handler(request)


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers["Content-Security-Policy"] = _CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"


@web.middleware
async def _json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Database trouble as 503 naming the file; under /api/ every HTTP error is JSON too."""
    db = request.app[DASHBOARD].db
    try:
        return await handler(request)
    except DatabaseUnusable as exc:
        return _error(503, str(exc), db, waiting=not db.exists())
    except sqlite3.DatabaseError as exc:
        if "not a database" in str(exc) or "malformed" in str(exc):
            return _error(503, f"{db}: the file is not a valid kxbtc database (corrupt or not SQLite)", db)
        return _error(503, f"{db}: {exc}", db)
    except sqlite3.Error as exc:
        return _error(503, f"{db}: {exc}", db)
    except StoreError as exc:
        return _error(503, str(exc), db)
    except KxbtcError as exc:
        return _error(500, str(exc), db)
    except web.HTTPException as exc:
        if not request.path.startswith("/api/"):
            raise
        return _error(exc.status, exc.text or exc.reason, db)


# -- the page ---------------------------------------------------------------------------------------


async def _index(request: web.Request) -> web.Response:
    return web.Response(text=request.app[DASHBOARD].page, content_type="text/html", charset="utf-8")


async def _asset(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in _ASSET_TYPES:
        raise web.HTTPNotFound()
    body = request.app[DASHBOARD].assets[name]
    return web.Response(body=body, content_type=_ASSET_TYPES[name], charset="utf-8")


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


# -- the kill switch --------------------------------------------------------------------------------


def _check_token(request: web.Request) -> Dashboard:
    state = request.app[DASHBOARD]
    sent = request.headers.get(TOKEN_HEADER, "")
    if not hmac.compare_digest(sent.encode(), state.token.encode()):
        raise web.HTTPForbidden(text=f"refused: the {TOKEN_HEADER} header must carry this dashboard's token")
    return state


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
    state = _check_token(request)
    reason = await _halt_reason(request)
    previous = await asyncio.to_thread(kill_switch.halt, state.db, reason, state.clock.time_ns())
    return _json({"db": str(state.db), "halted": True, "reason": reason, "previous": previous})


async def _resume(request: web.Request) -> web.Response:
    state = _check_token(request)
    was = await asyncio.to_thread(kill_switch.resume, state.db, state.clock.time_ns())
    return _json({"db": str(state.db), "halted": False, "resumed": bool(was), "was": was})


# -- the command ------------------------------------------------------------------------------------


def url_for(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"http://{shown}:{port}/"


def _fail(message: str, code: int) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    raise SystemExit(code)


def _check_database(db: Path) -> None:
    """Exit 2 (1 for a locked or failing file) with one line naming the file unless the database reads."""
    try:
        with closing(queries.open_readonly(db)):
            pass
    except DatabaseUnusable as exc:
        _fail(str(exc), EXIT_USAGE)
    except sqlite3.DatabaseError as exc:
        if "not a database" in str(exc) or "malformed" in str(exc):
            _fail(f"{db}: the file is not a valid kxbtc database (corrupt or not SQLite)", EXIT_USAGE)
        _fail(f"{db}: {exc}", EXIT_FAILURE)
    except sqlite3.Error as exc:
        _fail(f"{db}: {exc}", EXIT_FAILURE)


async def serve(app: web.Application, host: str, port: int) -> None:
    """Serve ``app`` until SIGINT or SIGTERM, after printing ``dashboard: URL``; OSError if it cannot
    listen there."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        bound_port = int(runner.addresses[0][1])
        click.echo(f"dashboard: {url_for(host, bound_port)}")
        sys.stdout.flush()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()


def _clock() -> Clock:
    """The system clock, unless the invoker passed ``obj={"clock": ...}`` (as the ops commands allow)."""
    obj = click.get_current_context().obj
    clock = obj.get("clock") if isinstance(obj, dict) else None
    return clock if clock is not None else SystemClock()


@click.command("dashboard")
@click.option(
    "--db",
    "db",
    type=click.Path(path_type=Path, dir_okay=True),
    envvar="KXBTC_STORE__PATH",
    default=DEFAULT_DB,
    show_default=True,
    help="The store's SQLite file (env KXBTC_STORE__PATH).",
)
@click.option(
    "--host", default=DEFAULT_HOST, show_default=True, help="Address to listen on (0.0.0.0 exposes it)."
)
@click.option("--port", type=click.IntRange(0, 65535), default=DEFAULT_PORT, show_default=True)
@click.option(
    "--refresh-s",
    type=click.FloatRange(min=0.2),
    default=2.0,
    show_default=True,
    help="How often the page refreshes, in seconds.",
)
@click.option("--wait", is_flag=True, help="Start even if the database is missing; the page waits for it.")
def dashboard(db: Path, host: str, port: int, refresh_s: float, wait: bool) -> None:
    """A local web page with the live state: status, equity curve, positions, orders, fills, P&L, risk
    events, decisions and LLM calls, with a Halt / Resume kill switch. Read-only otherwise."""
    if not wait:
        _check_database(db)
    app = create_app(db, _clock(), refresh_s=refresh_s, bind_host=host)
    try:
        asyncio.run(serve(app, host, port))
    except OSError as exc:
        _fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}", EXIT_FAILURE)
