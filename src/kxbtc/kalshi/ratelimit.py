"""Client-side token buckets mirroring Kalshi's (kalshi-api.md §3.6).

Two buckets, read and write, sized from ``GET /account/limits`` (``bucket_capacity`` tokens, refilled
at ``refill_rate`` tokens per second). Each request costs its endpoint's tokens from
``GET /account/endpoint_costs`` (``default_cost`` otherwise, 10 today); a batch costs the sum of its
items and must fit in the bucket at once, as the exchange rejects a batch the bucket cannot cover.
Writes are order create/amend/cancel/decrease, order groups and quotes; everything else is a read.

Waiting uses the injected Clock, so tests drive it with a ManualClock. Waiters are served in arrival
order (a big batch is not starved by a stream of small reads).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable
from dataclasses import dataclass

from kxbtc.clock import Clock
from kxbtc.kalshi.rest_messages import AccountLimits, EndpointCosts

DEFAULT_COST = 10
API_PREFIX = "/trade-api/v2"

# Path prefixes (relative to /trade-api/v2) whose non-GET requests bill the write bucket.
_WRITE_PREFIXES = (
    "/portfolio/events/orders",
    "/portfolio/orders",
    "/portfolio/order_groups",
    "/communications/quotes",
    "/communications/rfqs",
    "/communications/block_trades",
)


class BucketTooSmallError(ValueError):
    """A single request (or batch) costs more than the bucket can ever hold."""


class TokenBucket:
    """``capacity`` tokens, refilled continuously at ``refill_rate`` tokens per second."""

    def __init__(self, capacity: float, refill_rate: float, clock: Clock) -> None:
        if capacity <= 0 or refill_rate <= 0:
            raise ValueError("capacity and refill_rate must be positive")
        self.capacity = float(capacity)
        self.refill_rate = float(refill_rate)
        self._clock = clock
        self._tokens = float(capacity)
        self._last = clock.monotonic()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = self._clock.monotonic()
        self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.refill_rate)
        self._last = now

    @property
    def tokens(self) -> float:
        self._refill()
        return self._tokens

    def try_acquire(self, cost: float) -> bool:
        self._check(cost)
        self._refill()
        if self._lock.locked() or self._tokens < cost:
            return False
        self._tokens -= cost
        return True

    async def acquire(self, cost: float) -> float:
        """Take ``cost`` tokens, waiting (on the clock) until they are there. Returns seconds waited."""
        self._check(cost)
        start = self._clock.monotonic()
        async with self._lock:
            while True:
                self._refill()
                if self._tokens >= cost:
                    self._tokens -= cost
                    return self._clock.monotonic() - start
                await self._clock.sleep((cost - self._tokens) / self.refill_rate)

    def drain(self) -> None:
        """Empty the bucket: after a 429 the server's bucket is empty whatever ours thought."""
        self._refill()
        self._tokens = 0.0

    def _check(self, cost: float) -> None:
        if cost > self.capacity:
            raise BucketTooSmallError(f"cost {cost} exceeds bucket capacity {self.capacity}")


@dataclass(frozen=True, slots=True)
class _CostRule:
    method: str
    pattern: re.Pattern[str]
    cost: int


def _template_regex(template: str) -> re.Pattern[str]:
    """``/trade-api/v2/portfolio/orders/:order_id`` and ``/cfbenchmarks/*endpoint`` as a regex."""
    out = []
    for seg in template.rstrip("/").split("/"):
        if seg.startswith(":"):
            out.append("[^/]+")
        elif seg.startswith("*"):
            out.append(".*")
        else:
            out.append(re.escape(seg))
    return re.compile("/".join(out) + "$")


def _literal_score(template: str) -> int:
    return sum(1 for seg in template.split("/") if seg and seg[0] not in ":*")


_KNOWN_MAX = 4096


class EndpointCostTable:
    """Token cost per (method, path), from ``GET /account/endpoint_costs``."""

    def __init__(self, default_cost: int = DEFAULT_COST, rules: Iterable[tuple[str, str, int]] = ()) -> None:
        self.default_cost = default_cost
        # Most literal templates first, so /portfolio/orders/batched beats /portfolio/orders/:order_id.
        ordered = sorted(rules, key=lambda r: -_literal_score(r[1]))
        self._rules = [_CostRule(m.upper(), _template_regex(t), c) for m, t, c in ordered]
        #: Costs already looked up: the order path asks for the same one on every order (matching the
        #: rules' patterns was about 40 us of each order's send in the tick-to-wire profile).
        self._known: dict[tuple[str, str], int] = {}

    @staticmethod
    def from_wire(costs: EndpointCosts) -> EndpointCostTable:
        return EndpointCostTable(
            costs.default_cost, [(c.method, c.path, c.cost) for c in costs.endpoint_costs or ()]
        )

    def cost(self, method: str, full_path: str) -> int:
        """Cost of one request; ``full_path`` includes /trade-api/v2 (as the table's paths do)."""
        known = self._known.get((method, full_path))
        if known is not None:
            return known
        cost = self._match(method.upper(), full_path.split("?", 1)[0].rstrip("/"))
        if len(self._known) >= _KNOWN_MAX:  # paths with ids in them: kept bounded
            self._known.clear()
        self._known[(method, full_path)] = cost
        return cost

    def _match(self, method: str, path: str) -> int:
        for rule in self._rules:
            if rule.method == method and rule.pattern.match(path):
                return rule.cost
        return self.default_cost


def is_write(method: str, full_path: str) -> bool:
    if method.upper() == "GET":
        return False
    path = full_path.split("?", 1)[0]
    if path.startswith(API_PREFIX):
        path = path[len(API_PREFIX) :]
    return path.startswith(_WRITE_PREFIXES)


class RateLimiter:
    """Read and write buckets plus the endpoint cost table."""

    def __init__(
        self,
        clock: Clock,
        *,
        read_capacity: int = 200,
        read_refill: int = 200,
        write_capacity: int = 100,
        write_refill: int = 100,
        costs: EndpointCostTable | None = None,
    ) -> None:
        # Defaults: the Basic tier as observed on demo (FX account__limits).
        self.read = TokenBucket(read_capacity, read_refill, clock)
        self.write = TokenBucket(write_capacity, write_refill, clock)
        self.costs = costs if costs is not None else EndpointCostTable()

    @staticmethod
    def from_wire(clock: Clock, limits: AccountLimits, costs: EndpointCosts | None = None) -> RateLimiter:
        return RateLimiter(
            clock,
            read_capacity=limits.read.bucket_capacity,
            read_refill=limits.read.refill_rate,
            write_capacity=limits.write.bucket_capacity,
            write_refill=limits.write.refill_rate,
            costs=EndpointCostTable.from_wire(costs) if costs is not None else None,
        )

    def bucket_for(self, method: str, full_path: str) -> TokenBucket:
        return self.write if is_write(method, full_path) else self.read

    def cost(self, method: str, full_path: str, items: int = 1) -> int:
        return self.costs.cost(method, full_path) * max(1, items)

    def max_batch_items(self, method: str, full_path: str) -> int:
        """The largest batch whose whole cost fits in its bucket at once."""
        per_item = self.costs.cost(method, full_path)
        return max(1, int(self.bucket_for(method, full_path).capacity // max(1, per_item)))

    async def acquire(self, method: str, full_path: str, items: int = 1) -> float:
        return await self.bucket_for(method, full_path).acquire(self.cost(method, full_path, items))
