"""May this machine place Polymarket orders? Checked once at start, before any live order.

Two answers can say no: Polymarket's geoblock endpoint (``GET https://polymarket.com/api/geoblock`` ->
``{blocked, ip, country, region}``, on polymarket.com, not the API hosts: docs api-reference/geoblock),
and the account's close-only flag (``GET /auth/ban-status/closed-only``, asked through the SDK by the
caller). Market data is not restricted, so a "no" means read-only, never a stop. Which jurisdictions are
blocked is Polymarket's legal decision and changes; the endpoint is asked, no list is kept here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from kxbtc.errors import ProtocolError
from kxbtc.polymarket.http import PolyHttp

__all__ = ["Geoblock", "check_geoblock"]


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
