"""The basis between the spot feed and the settlement index, learnt only from markets already settled.

KXBTC15M settles on the CF Benchmarks BRTI averaged over the final minute; the spot we have is one
exchange's trades (Coinbase), which sits a few dollars away from the index. Each market that has closed
tells us one sample of that gap: its settlement value minus the mean of the spot over its final minute
(one price per whole second, the first trade seen in it). A sample counts only once it could have been
known: ``delay_s`` after the close (Kalshi publishes the value within seconds; the delay is a margin).

The estimate at any moment is the mean of the last ``markets`` samples known by then whose markets closed
within ``max_age_s``; with none, 0. Nothing from the future enters it.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from kxbtc.clock import NS_PER_S

WINDOW_S = 60


@dataclass(frozen=True, slots=True)
class BasisSample:
    ticker: str
    close_ns: int
    value: float  # settlement - spot average, dollars
    seconds: int  # whole seconds of the final minute with a spot trade


class _Window:
    """The first spot trade of each whole second in (close - 60 s, close]."""

    __slots__ = ("close_s", "first", "prices")

    def __init__(self, close_ns: int) -> None:
        self.close_s = close_ns // NS_PER_S
        self.first = self.close_s - WINDOW_S + 1
        self.prices: dict[int, float] = {}

    def add(self, second: int, price: float) -> None:
        if self.first <= second <= self.close_s and second not in self.prices:
            self.prices[second] = price


class BasisEstimator:
    """Feed it spot trades and the moments settlements become known; ask it for the basis now."""

    def __init__(
        self,
        *,
        markets: int = 4,
        delay_s: float = 60.0,
        max_age_s: float = 2 * 3600.0,
        min_seconds: int = 30,
    ) -> None:
        self.delay_ns = int(delay_s * NS_PER_S)
        self.max_age_ns = int(max_age_s * NS_PER_S)
        self.min_seconds = min_seconds
        self.samples: list[BasisSample] = []
        self._recent: deque[BasisSample] = deque(maxlen=markets)
        self._windows: dict[str, tuple[_Window, float]] = {}  # ticker -> (window, settlement)

    def watch(self, ticker: str, close_ns: int, settlement: float) -> None:
        """Collect spot for a market's final minute; call before its window starts."""
        self._windows.setdefault(ticker, (_Window(close_ns), settlement))

    def on_spot(self, t_ns: int, price: float) -> None:
        second = t_ns // NS_PER_S
        for window, _ in self._windows.values():
            window.add(second, price)

    def release(self, ticker: str) -> BasisSample | None:
        """The market's settlement is now known: turn its window into a sample (if spot covered it)."""
        item = self._windows.pop(ticker, None)
        if item is None:
            return None
        window, settlement = item
        if len(window.prices) < self.min_seconds:
            return None
        mean = sum(window.prices.values()) / len(window.prices)
        sample = BasisSample(ticker, window.close_s * NS_PER_S, settlement - mean, len(window.prices))
        self.samples.append(sample)
        self._recent.append(sample)
        return sample

    def release_time(self, close_ns: int) -> int:
        return close_ns + self.delay_ns

    def basis(self, now_ns: int) -> float:
        fresh = [s.value for s in self._recent if now_ns - s.close_ns <= self.max_age_ns]
        return sum(fresh) / len(fresh) if fresh else 0.0
