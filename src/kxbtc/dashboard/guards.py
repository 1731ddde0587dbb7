"""The dashboard's request guards, because a page on localhost can be reached by any other page the
browser has open:

- CSRF: the two writes are refused (403) unless they carry this process's random token in the
  ``X-Kxbtc-Token`` header. The token is embedded only in the page this server serves; another site
  can neither read that page nor send a custom header to this origin without a CORS preflight, which
  is never granted.
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


def check_token(request: web.Request) -> Dashboard:
    state = request.app[DASHBOARD]
    sent = request.headers.get(TOKEN_HEADER, "")
    if not hmac.compare_digest(sent.encode(), state.token.encode()):
        raise web.HTTPForbidden(text=f"refused: the {TOKEN_HEADER} header must carry this dashboard's token")
    return state
