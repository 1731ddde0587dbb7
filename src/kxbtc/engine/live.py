"""Connections to a live Kalshi environment (demo or prod): URLs, keys, clock sync, clients."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import httpx2

from kxbtc.clock import Clock, ScaledClock
from kxbtc.config import Config
from kxbtc.errors import ConfigError
from kxbtc.kalshi.auth import Signer
from kxbtc.keys import load_private_key_file
from kxbtc.timesync import ClockSync, SkewGuard

#: Kalshi's recommended hosts (kalshi-api.md §1).
ENDPOINTS: dict[str, tuple[str, str]] = {
    "prod": (
        "https://external-api.kalshi.com/trade-api/v2",
        "wss://external-api-ws.kalshi.com/trade-api/ws/v2",
    ),
    "demo": (
        "https://external-api.demo.kalshi.co/trade-api/v2",
        "wss://external-api-ws.demo.kalshi.co/trade-api/ws/v2",
    ),
}


@dataclass(frozen=True, slots=True)
class Credentials:
    key_id: str
    private_key_pem: bytes
    key_file: Path

    def __repr__(self) -> str:  # never show key material
        return f"Credentials(key_id={self.key_id!r}, key_file={str(self.key_file)!r})"


def endpoints(config: Config, env: str) -> tuple[str, str]:
    """REST and WS base URLs: config overrides first, then Kalshi's published hosts."""
    if env == "sim":
        if not (config.kalshi.rest_url and config.kalshi.ws_url):
            raise ConfigError("--env sim needs kalshi.rest_url and kalshi.ws_url (or --rest-url/--ws-url)")
        return (config.kalshi.rest_url, config.kalshi.ws_url)
    if env not in ENDPOINTS:
        raise ConfigError(f"--env must be one of {', '.join(ENDPOINTS)}, got {env!r}")
    rest, ws = ENDPOINTS[env]
    return (config.kalshi.rest_url or rest, config.kalshi.ws_url or ws)


def load_credentials(config: Config, key_id: str | None = None, key_file: Path | None = None) -> Credentials:
    """Key id and private key from the flags, the config, or KXBTC_KALSHI__KEY_ID/KEY_FILE."""
    kid = key_id or config.kalshi.key_id or os.environ.get("KXBTC_KALSHI__KEY_ID", "")
    path = key_file or config.kalshi.key_file
    if not kid:
        raise ConfigError("no API key id: pass --key-id, set kalshi.key_id, or KXBTC_KALSHI__KEY_ID")
    if path is None:
        raise ConfigError(
            "no private key file: pass --key-file, set kalshi.key_file, or KXBTC_KALSHI__KEY_FILE"
        )
    return Credentials(kid, load_private_key_file(path), Path(path))


def make_signer(creds: Credentials, clock: Clock | None = None, guard: SkewGuard | None = None) -> Signer:
    return Signer(creds.key_id, creds.private_key_pem, clock=clock, skew_guard=guard)


async def synced_signer(
    config: Config, creds: Credentials, rest_url: str, *, no_ntp: bool
) -> tuple[Signer, ClockSync]:
    """Measure the clock offset (NTP, else the exchange's ``Date`` header) and sign on the corrected
    clock; the returned ``ClockSync`` keeps it current (run ``sync.run()`` beside the work)."""

    async def fetch_date() -> str:
        async with httpx2.AsyncClient(timeout=5.0) as http:
            return (await http.get(rest_url.rstrip("/") + "/exchange/status")).headers.get("date", "")

    sync = ClockSync(
        ntp_servers=() if no_ntp else config.clock.ntp_servers,
        ntp_timeout_s=config.clock.ntp_timeout_s,
        fetch_date=fetch_date,
        guard=SkewGuard(int(config.risk.max_clock_skew_ms)),
    )
    await sync.sync()
    return make_signer(creds, sync.clock, sync.guard), sync


def trading_clock(wall: Clock, sim_anchor: tuple[float, int, int] | None) -> Clock:
    """The corrected wall clock, or a fast simulator's clock from ``--sim-clock SPEED:SIM_NS:WALL_NS``
    (signatures keep using the wall clock either way)."""
    if sim_anchor is None:
        return wall
    speed, sim_ns, wall_ns = sim_anchor
    return ScaledClock(speed, start_ns=sim_ns + int((time.time_ns() - wall_ns) * speed))


def stop_on_signals() -> asyncio.Event:
    """An event set by SIGINT or SIGTERM, for a clean shutdown of a long-running command."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop
