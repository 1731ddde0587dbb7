"""What every dashboard request reads from its application: the database, clock, token and page."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from kxbtc.clock import Clock


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


def error_response(status: int, message: str, db: Path, **extra: Any) -> web.Response:
    """The dashboard's error body: ``{"error": ..., "db": ...}`` with the HTTP status."""
    return web.json_response({"error": message, "db": str(db), **extra}, status=status)
