"""What every dashboard request reads from its application: the database, clock, token and page."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from kxbtc.clock import Clock


@dataclass(frozen=True, slots=True)
class Dashboard:
    """What every request needs: the database, the clock, the control token and the page."""

    db: Path
    clock: Clock
    #: The credential for Halt / Resume: given to the command (never put in the page), or generated and
    #: printed once to the operator's terminal.
    token: str
    refresh_s: float
    #: Host names accepted in the Host header; None accepts any (the user chose a non-loopback --host).
    allowed_hosts: frozenset[str] | None
    page: str
    assets: dict[str, bytes]
    #: How often the markets stream reads the database, in seconds.
    stream_poll_s: float = 1.0
    #: Session ids handed out as HttpOnly cookies after the token was posted to /api/login.
    sessions: set[str] = field(default_factory=set)
    #: Times (monotonic seconds) of recent failed logins, for the throttle.
    failed_logins: list[float] = field(default_factory=list)
    #: How many event streams are open (each polls the database), against ``MAX_STREAMS``.
    streams: list[int] = field(default_factory=lambda: [0])
    #: Set at shutdown so the open event streams end.
    closing: asyncio.Event = field(default_factory=asyncio.Event)


DASHBOARD = web.AppKey("dashboard", Dashboard)


def error_response(status: int, message: str, db: Path, **extra: Any) -> web.Response:
    """The dashboard's error body: ``{"error": ..., "db": ...}`` with the HTTP status."""
    return web.json_response({"error": message, "db": str(db), **extra}, status=status)
