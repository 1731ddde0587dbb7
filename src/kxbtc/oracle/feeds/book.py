"""One venue's aggregated L2 book: the parsed updates a feed applies to it, and the copies it hands out.

Prices and sizes from the venues are kept as ``float``: they feed the BRTI estimate and the pricing
model (probabilities, volatility), never a balance we hold, so exact decimal arithmetic buys nothing
here. The settlement tracker converts index values to integer cents where exactness matters.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass

#: (price, size): one aggregated price level. Size 0 in an update removes the level.
Level = tuple[float, float]


@dataclass(frozen=True, slots=True)
class BookUpdate:
    """One parsed change to a venue's book. ``snapshot`` replaces the whole book."""

    snapshot: bool
    bids: tuple[Level, ...] = ()
    asks: tuple[Level, ...] = ()
    exchange_ts_ms: int | None = None


@dataclass(frozen=True, slots=True)
class TopOfBook:
    bid: float
    bid_size: float
    ask: float
    ask_size: float

    @property
    def mid(self) -> float:
        return (self.bid + self.ask) / 2.0


@dataclass(frozen=True, slots=True)
class VenueBook:
    """An immutable copy of one venue's book: bids best first (descending), asks best first (ascending).

    ``as_of_ns`` is the clock time of the last message on a live connection: the book is known to be
    current as of then, even when the message was only a heartbeat.
    """

    venue: str
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    as_of_ns: int

    @property
    def top(self) -> TopOfBook | None:
        if not self.bids or not self.asks:
            return None
        return TopOfBook(self.bids[0][0], self.bids[0][1], self.asks[0][0], self.asks[0][1])

    @property
    def mid(self) -> float | None:
        top = self.top
        return None if top is None else top.mid


class _Side:
    """Price -> size, plus the prices kept sorted ascending so the best level is O(1) to read."""

    def __init__(self, best_is_high: bool) -> None:
        self.best_is_high = best_is_high
        self.sizes: dict[float, float] = {}
        self.prices: list[float] = []

    def replace(self, levels: Iterable[Level]) -> None:
        self.sizes = {p: s for p, s in levels if s > 0.0}
        self.prices = sorted(self.sizes)

    def set(self, price: float, size: float) -> None:
        if size <= 0.0:
            if self.sizes.pop(price, None) is not None:
                del self.prices[bisect.bisect_left(self.prices, price)]
            return
        if price not in self.sizes:
            bisect.insort(self.prices, price)
        self.sizes[price] = size

    def best(self) -> float:
        return self.prices[-1] if self.best_is_high else self.prices[0]

    def levels(self, depth: int | None) -> tuple[Level, ...]:
        if self.best_is_high:
            chosen = self.prices[::-1] if depth is None else self.prices[: -depth - 1 : -1]
        else:
            chosen = self.prices if depth is None else self.prices[:depth]
        return tuple((p, self.sizes[p]) for p in chosen)

    def truncate(self, depth: int) -> None:
        if len(self.prices) <= depth:
            return
        if self.best_is_high:
            dropped, self.prices = self.prices[:-depth], self.prices[-depth:]
        else:
            dropped, self.prices = self.prices[depth:], self.prices[:depth]
        for p in dropped:
            del self.sizes[p]


class L2Book:
    """Aggregated price levels of one venue. Sizes are absolute (not deltas); size 0 removes a level."""

    def __init__(self, max_depth: int | None = None) -> None:
        self.max_depth = max_depth
        self._bids = _Side(best_is_high=True)
        self._asks = _Side(best_is_high=False)

    def clear(self) -> None:
        self._bids.replace(())
        self._asks.replace(())

    def apply(self, update: BookUpdate) -> None:
        if update.snapshot:
            self._bids.replace(update.bids)
            self._asks.replace(update.asks)
        else:
            for price, size in update.bids:
                self._bids.set(price, size)
            for price, size in update.asks:
                self._asks.set(price, size)
        if self.max_depth is not None:
            # Venues that stream a fixed depth (Kraken) expect levels pushed past it to be dropped.
            self._bids.truncate(self.max_depth)
            self._asks.truncate(self.max_depth)

    def bids(self, depth: int | None = None) -> tuple[Level, ...]:
        """Best (highest) first."""
        return self._bids.levels(depth)

    def asks(self, depth: int | None = None) -> tuple[Level, ...]:
        """Best (lowest) first."""
        return self._asks.levels(depth)

    def top(self) -> TopOfBook | None:
        if not self._bids.prices or not self._asks.prices:
            return None
        bid, ask = self._bids.best(), self._asks.best()
        return TopOfBook(bid, self._bids.sizes[bid], ask, self._asks.sizes[ask])

    def __len__(self) -> int:
        return len(self._bids.prices) + len(self._asks.prices)
