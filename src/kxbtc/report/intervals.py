"""95 % intervals of P&L totals from resampling whole markets.

A market's fills share one settlement, so they win or lose together: resampling single fills would give
intervals far too narrow. Each resample instead draws as many markets as were traded, with replacement
(``kxbtc.research.bootstrap.MarketBootstrap``, seeded, so the same database gives the same report), and a
group's total in that resample is its P&L in each drawn market times the times that market was drawn.
One set of draws serves every group, so the intervals of the strategies, the hours and the total agree.

Totals stay integers (micro-dollars): the draws are counts and the contributions are Money, and the
percentiles are taken with ``inverted_cdf``, which returns one of the resampled totals, never a blend.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from kxbtc.research.bootstrap import DEFAULT_RESAMPLES, LEVEL, MarketBootstrap

DEFAULT_SEED = 1


@dataclass(frozen=True, slots=True)
class Interval:
    low: int  # Money
    high: int  # Money


class MarketResampler:
    """Seeded draws over ``markets``; ``interval`` gives the 95 % range of a group's resampled total."""

    def __init__(
        self, markets: Sequence[str], *, seed: int = DEFAULT_SEED, resamples: int = DEFAULT_RESAMPLES
    ) -> None:
        self.markets = list(markets)
        self.seed = seed
        self.resamples = resamples
        self._index = {ticker: i for i, ticker in enumerate(self.markets)}
        self._boot = MarketBootstrap(len(self.markets), resamples, seed)

    def __contains__(self, ticker: object) -> bool:
        return ticker in self._index

    def interval(self, per_market: Mapping[str, int]) -> Interval | None:
        """The interval of ``sum(per_market.values())``; None without markets to draw."""
        if not self.markets or self._boot.draws.shape[0] == 0:
            return None
        values = np.zeros(len(self.markets), dtype=np.int64)
        for ticker, amount in per_market.items():
            values[self._index[ticker]] += amount
        totals = self._boot.draws @ values
        tail = (1 - LEVEL) / 2 * 100
        low, high = np.percentile(totals, [tail, 100 - tail], method="inverted_cdf")
        return Interval(int(low), int(high))

    def mean_interval(self, per_market: Mapping[str, int]) -> Interval | None:
        """The interval of the mean P&L per market: every resample draws exactly as many markets as were
        traded, so it is the total's interval divided by that number."""
        whole = self.interval(per_market)
        if whole is None:
            return None
        n = len(self.markets)
        return Interval(divide_rounded(whole.low, n), divide_rounded(whole.high, n))


def divide_rounded(value: int, n: int) -> int:
    """``value / n`` rounded half away from zero, in integers (0 when ``n`` is 0)."""
    if n == 0:
        return 0
    magnitude = (2 * abs(value) + n) // (2 * n)
    return -magnitude if value < 0 else magnitude
