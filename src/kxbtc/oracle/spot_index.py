"""An estimate of the settlement index from one spot venue's trades, corrected by a basis learnt only
from markets that have already settled.

KXBTC15M settles on CF Benchmarks' BRTI (a 60-second average over several exchanges); a single
exchange's trades differ from it by several dollars (Coinbase ran about $5 below on the shared real
recordings). Each settled market gives one sample of that basis: its settlement value minus the mean of
the spot seconds in its final minute. The estimate is spot plus the mean of the last ``window`` samples
(0 before any), so nothing after the moment being priced is ever used.
"""

from __future__ import annotations

from collections import deque

from kxbtc.clock import NS_PER_S

#: A final minute needs this many seconds with a trade to give a basis sample.
MIN_SECONDS = 30


class SpotBasisIndex:
    def __init__(self, *, window: int = 8) -> None:
        self._seconds: dict[int, float] = {}  # whole second -> last trade price in it
        self._samples: deque[float] = deque(maxlen=window)
        self.last_spot: float | None = None

    @property
    def basis(self) -> float:
        return sum(self._samples) / len(self._samples) if self._samples else 0.0

    @property
    def samples(self) -> int:
        return len(self._samples)

    def on_trade(self, ts_ns: int, price: float) -> float:
        """Record a trade; the index estimate it implies."""
        self._seconds[ts_ns // NS_PER_S] = price
        self.last_spot = price
        return price + self.basis

    def on_settled(self, close_ns: int, settlement_value: float) -> None:
        """A market closing at ``close_ns`` settled at ``settlement_value``: learn the basis from it."""
        close_s = close_ns // NS_PER_S
        prices = [p for s, p in self._seconds.items() if close_s - 60 < s <= close_s]
        if len(prices) >= MIN_SECONDS:
            self._samples.append(settlement_value - sum(prices) / len(prices))
        # Seconds older than any window still to come are no longer needed.
        for s in [s for s in self._seconds if s <= close_s - 60]:
            del self._seconds[s]
