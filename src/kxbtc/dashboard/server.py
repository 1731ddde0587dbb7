"""``kxbtc dashboard``: one local web page with the running system's state, read from its database.

The server reads the SQLite file the engine writes, read-only: every request opens its own short-lived
read-only connection (in a worker thread), so a dashboard left open never holds a lock on the engine's
database. The JSON endpoints answer as ``kxbtc status/positions/orders/fills/pnl --json`` do (the same
builders, ``kxbtc.ops.reports``), plus the equity curve, risk events, decisions and LLM calls.

The only writes are the kill switch, ``POST /api/halt`` (JSON body ``{"reason": "..."}``) and
``POST /api/resume``; they do exactly what ``kxbtc halt`` / ``kxbtc resume`` do (``kxbtc.ops.kill_switch``:
the kv key "halted" plus a risk event, which the running engine polls). They need the control token,
which the page never contains: the operator gives it to this command (``--token``, ``--token-file`` or
``KXBTC_DASHBOARD_TOKEN``; without one on a loopback address a random one is printed to the terminal)
and types it into the page (``kxbtc.dashboard.auth``). Listening on any other address needs one.

The page and its assets are served here; the guards are in ``kxbtc.dashboard.guards``, the JSON
endpoints in ``kxbtc.dashboard.api``.
"""

from __future__ import annotations

import asyncio
import html
import secrets
import signal
import sqlite3
import sys
from contextlib import closing
from importlib import resources
from pathlib import Path
from typing import NoReturn

import click
from aiohttp import web

from kxbtc.clock import Clock, SystemClock
from kxbtc.dashboard import api
from kxbtc.dashboard.context import DASHBOARD, Dashboard
from kxbtc.dashboard.guards import LOOPBACK_NAMES, guard_host, is_loopback, json_errors, security_headers
from kxbtc.exit_codes import EXIT_FAILURE, EXIT_USAGE
from kxbtc.ops import queries
from kxbtc.ops.queries import DatabaseUnusable

DEFAULT_DB = "kxbtc.db"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
TOKEN_ENV = "KXBTC_DASHBOARD_TOKEN"
MIN_TOKEN_CHARS = 12
_ASSET_TYPES = {"app.js": "text/javascript", "style.css": "text/css"}


def _static(name: str) -> str:
    return resources.files("kxbtc.dashboard").joinpath("static", name).read_text(encoding="utf-8")


def create_app(
    db: Path,
    clock: Clock,
    *,
    refresh_s: float = 2.0,
    token: str | None = None,
    bind_host: str = DEFAULT_HOST,
    stream_poll_s: float = 1.0,
) -> web.Application:
    """The dashboard's web application over the database at ``db``; ``token`` unlocks the controls
    (a random one nobody knows when None: the controls stay locked)."""
    token = token or secrets.token_urlsafe(32)
    page = (
        _static("index.html")
        .replace("__KXBTC_REFRESH_MS__", str(round(refresh_s * 1000)))
        .replace("__KXBTC_DB__", html.escape(str(db)))
    )
    app = web.Application(middlewares=[guard_host, json_errors])
    app.on_response_prepare.append(security_headers)
    app[DASHBOARD] = Dashboard(
        db=db,
        clock=clock,
        token=token,
        refresh_s=refresh_s,
        allowed_hosts=LOOPBACK_NAMES | {bind_host.strip("[]").lower()} if is_loopback(bind_host) else None,
        page=page,
        assets={name: _static(name).encode() for name in _ASSET_TYPES},
        stream_poll_s=stream_poll_s,
    )
    app.on_shutdown.append(_close_streams)
    app.router.add_get("/", _index)
    app.router.add_get("/static/{name}", _asset)
    api.add_routes(app)
    return app


async def _close_streams(app: web.Application) -> None:
    app[DASHBOARD].closing.set()


# -- the page ---------------------------------------------------------------------------------------


async def _index(request: web.Request) -> web.Response:
    return web.Response(text=request.app[DASHBOARD].page, content_type="text/html", charset="utf-8")


async def _asset(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in _ASSET_TYPES:
        raise web.HTTPNotFound()
    body = request.app[DASHBOARD].assets[name]
    return web.Response(body=body, content_type=_ASSET_TYPES[name], charset="utf-8")


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
@click.option(
    "--token",
    envvar=TOKEN_ENV,
    default=None,
    help=f"The control token the operator types into the page to halt / resume (env {TOKEN_ENV}); "
    "required with a --host other than loopback. Prefer --token-file: a command line is visible to others.",
)
@click.option(
    "--token-file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Read the control token from this file (its first line).",
)
def dashboard(
    db: Path, host: str, port: int, refresh_s: float, wait: bool, token: str | None, token_file: Path | None
) -> None:
    """A local web page with the live state: the markets (books, fair value, settlement window, feed
    health, pushed live) and the account (status, equity curve, positions, orders, fills, P&L, risk
    events, decisions, LLM calls), with a Halt / Resume kill switch behind a token. Read-only otherwise."""
    secret = _token(token, token_file)
    if secret is None and not is_loopback(host):
        _fail(
            f"--host {host} exposes the dashboard beyond this machine: give it a control token"
            f" (--token-file, --token or {TOKEN_ENV})",
            EXIT_USAGE,
        )
    if not wait:
        _check_database(db)
    if secret is None:
        secret = secrets.token_urlsafe(18)
        # The operator's own terminal: the only place this run's token is ever shown.
        click.echo(f"dashboard: control token for Halt / Resume (this run only): {secret}", err=True)
    app = create_app(db, _clock(), refresh_s=refresh_s, bind_host=host, token=secret)
    try:
        asyncio.run(serve(app, host, port))
    except OSError as exc:
        _fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}", EXIT_FAILURE)


def _token(token: str | None, token_file: Path | None) -> str | None:
    """The control token from --token / the environment or --token-file; exit 2 when unusable."""
    if token is not None and token_file is not None:
        _fail(
            "give the control token once: --token (or its environment variable) or --token-file", EXIT_USAGE
        )
    if token_file is not None:
        try:
            lines = token_file.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            why = getattr(exc, "strerror", None) or exc
            _fail(f"{token_file}: cannot read the token file ({why})", EXIT_USAGE)
        token = lines[0] if lines else ""
    if token is None:
        return None
    token = token.strip()
    if len(token) < MIN_TOKEN_CHARS:
        _fail(f"the control token must be at least {MIN_TOKEN_CHARS} characters", EXIT_USAGE)
    return token
