"""Connections to a live Kalshi environment (demo or prod): URLs, keys, clock sync, clients."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from kxbtc.clock import Clock
from kxbtc.config import Config
from kxbtc.errors import ConfigError
from kxbtc.kalshi.auth import Signer
from kxbtc.keys import load_private_key_file
from kxbtc.timesync import SkewGuard

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
