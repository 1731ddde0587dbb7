"""May this machine place Polymarket orders? Checked once at start, before any live order.

Two answers can say no: Polymarket's geoblock endpoint (``GET https://polymarket.com/api/geoblock`` ->
``{blocked, ip, country, region}``, on polymarket.com, not the API hosts: docs api-reference/geoblock),
and the account's close-only flag (``GET /auth/ban-status/closed-only``, asked through the SDK by the
caller). Market data is not restricted, so a "no" means read-only, never a stop. Which jurisdictions are
blocked is Polymarket's legal decision and changes; the endpoint is asked, no list is kept here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kxbtc.clock import Clock
from kxbtc.config import PolymarketConfig
from kxbtc.errors import KxbtcError, ProtocolError
from kxbtc.polymarket.http import PolyHttp

if TYPE_CHECKING:
    from kxbtc.polymarket.sdk_venue import SdkPolymarketVenue

__all__ = ["Geoblock", "LiveSignIn", "check_geoblock", "sign_in"]


@dataclass(frozen=True, slots=True)
class Geoblock:
    blocked: bool
    ip: str
    country: str
    region: str

    def where(self) -> str:
        return "/".join(part for part in (self.country, self.region) if part) or "unknown location"


async def check_geoblock(http: PolyHttp) -> Geoblock:
    """The geoblock answer for this machine's IP (ProtocolError if the body is not the documented shape)."""
    body = await http.get("/api/geoblock")
    try:
        data = json.loads(body)
        blocked = data["blocked"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ProtocolError(f"geoblock answer is not {{blocked, ip, country, region}}: {exc}") from exc
    if not isinstance(blocked, bool):
        raise ProtocolError(f"geoblock 'blocked' is not a boolean: {blocked!r}")
    return Geoblock(
        blocked, str(data.get("ip", "")), str(data.get("country", "")), str(data.get("region", ""))
    )


@dataclass(slots=True)
class LiveSignIn:
    """The outcome of ``sign_in``: a venue that may trade, or why not (one line)."""

    venue: SdkPolymarketVenue | None
    read_only: str | None
    geoblock: Geoblock | None = None


async def sign_in(cfg: PolymarketConfig, clock: Clock, environ: Mapping[str, str]) -> LiveSignIn:
    """The eligibility check, then sign-in through the SDK; never raises for a "no".

    In order: the geoblock endpoint, the private key in ``cfg.private_key_env``, the SDK (the
    ``polymarket`` extra), the sign-in itself (API credentials derived or checked, wallet deployed),
    and the account's close-only flag.
    """
    geo_http = PolyHttp(cfg.geoblock_url, clock, max_retries=1)
    try:
        geo = await check_geoblock(geo_http)
    except KxbtcError as exc:
        return LiveSignIn(None, f"the geoblock check failed ({exc}); orders stay off until it answers")
    finally:
        await geo_http.aclose()
    if geo.blocked:
        return LiveSignIn(
            None, f"orders are not allowed from {geo.where()} (Polymarket geoblock, IP {geo.ip})", geo
        )
    key = environ.get(cfg.private_key_env, "")
    if not key:
        return LiveSignIn(
            None, f"no private key in ${cfg.private_key_env} (README, Polymarket live orders)", geo
        )
    try:
        from kxbtc.polymarket.sdk_venue import LiveVenueSettings, SdkPolymarketVenue
    except ImportError as exc:
        return LiveSignIn(None, f"the polymarket extra is not installed ({exc})", geo)
    settings = LiveVenueSettings(
        private_key=key,
        clob_url=cfg.clob_url,
        gamma_url=cfg.gamma_url,
        relayer_url=cfg.relayer_url,
        wallet=cfg.wallet or None,
        api_key=environ.get(cfg.api_key_env) or None,
        api_secret=environ.get(cfg.api_secret_env) or None,
        api_passphrase=environ.get(cfg.api_passphrase_env) or None,
    )
    try:
        venue = await SdkPolymarketVenue.connect(settings, clock)
    except KxbtcError as exc:
        return LiveSignIn(None, f"sign-in refused: {exc}", geo)
    try:
        closed_only = await venue.closed_only()
    except KxbtcError as exc:
        await venue.aclose()
        return LiveSignIn(None, f"the close-only check failed: {exc}", geo)
    if closed_only:
        await venue.aclose()
        return LiveSignIn(None, "the account is close-only (it may close positions, not open them)", geo)
    return LiveSignIn(venue, None, geo)
