"""Kalshi's rate limits as the simulator applies them: the token cost of each endpoint and the per-user
read and write token buckets."""

from __future__ import annotations

from typing import Literal

from kxbtc.clock import Clock

Bucket = Literal["read", "write"]

#: Non-default costs, as ``GET /account/endpoint_costs`` reported them on demo (2026-06-11).
ENDPOINT_COSTS: list[tuple[int, str, str]] = [
    (30, "POST", "/account/api_usage_level/upgrade"),
    (150, "GET", "/cfbenchmarks"),
    (150, "GET", "/cfbenchmarks/*endpoint"),
    (2, "POST", "/communications/quotes"),
    (2, "DELETE", "/communications/quotes/:quote_id"),
    (5, "GET", "/margin/balance"),
    (2, "PUT", "/multivariate_event_collections/:collection_ticker/lookup"),
    (2, "DELETE", "/portfolio/events/orders/:order_id"),
    (2, "DELETE", "/portfolio/events/orders/batched"),
    (20, "POST", "/portfolio/orders"),
    (4, "DELETE", "/portfolio/orders/:order_id"),
    (2, "GET", "/portfolio/orders/:order_id"),
    (20, "POST", "/portfolio/orders/:order_id/amend"),
    (20, "POST", "/portfolio/orders/:order_id/decrease"),
    (4, "DELETE", "/portfolio/orders/batched"),
    (20, "POST", "/portfolio/orders/batched"),
]
DEFAULT_COST = 10


_COSTS = {(method, path): cost for cost, method, path in ENDPOINT_COSTS}


def cost_of(method: str, path: str) -> int:
    """The token cost of a route; ``path`` in aiohttp template syntax (``{name}``), as routes give it."""
    return _COSTS.get((method, path.replace("{", ":").replace("}", "")), DEFAULT_COST)


class TokenBuckets:
    """Kalshi's per-user read and write buckets, refilled continuously on a monotonic clock."""

    def __init__(self, clock: Clock, read_rate: int, write_rate: int) -> None:
        self._clock = clock
        self._rates = {"read": read_rate, "write": write_rate}
        self._state: dict[tuple[str, str], tuple[float, float]] = {}

    def take(self, user: str, bucket: Bucket, cost: int) -> bool:
        rate = self._rates[bucket]
        now = self._clock.monotonic()
        tokens, last = self._state.get((user, bucket), (float(rate), now))
        tokens = min(float(rate), tokens + (now - last) * rate)
        if tokens < cost:
            self._state[(user, bucket)] = (tokens, now)
            return False
        self._state[(user, bucket)] = (tokens - cost, now)
        return True
