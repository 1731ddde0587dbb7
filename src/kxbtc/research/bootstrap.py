"""Percentile intervals from resampling whole markets.

Moments of one market share its outcome, so they are far from independent: resampling moments would
give intervals much too narrow. Instead each resample draws markets with replacement (as many as there
are) and takes every moment of each drawn market; a statistic is then a weighted mean with the number of
times each market was drawn as weights. One set of draws serves every statistic, so the intervals of
two scores and of their difference come from the same resamples.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

DEFAULT_RESAMPLES = 1000
LEVEL = 0.95


class MarketBootstrap:
    def __init__(self, markets: int, resamples: int = DEFAULT_RESAMPLES, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.markets = markets
        #: draws[b, m]: how many times resample b drew market m.
        self.draws: IntArray = (
            rng.multinomial(markets, np.full(markets, 1 / markets), size=resamples).astype(np.int64)
            if markets and resamples
            else np.zeros((0, markets), dtype=np.int64)
        )

    def interval(
        self, group: IntArray, values: FloatArray, level: float = LEVEL
    ) -> tuple[float, float] | None:
        """Interval of the mean of ``values`` (one per moment; ``group`` = its market's index).

        None when no resample holds a moment (nothing was scored) or there are no resamples.
        """
        if values.size == 0 or self.draws.shape[0] == 0:
            return None
        sums = np.bincount(group, weights=values, minlength=self.markets)
        counts = np.bincount(group, minlength=self.markets).astype(np.float64)
        total = self.draws @ counts
        means = (self.draws @ sums)[total > 0] / total[total > 0]
        if means.size == 0:
            return None
        tail = (1 - level) / 2 * 100
        low, high = np.percentile(means, [tail, 100 - tail])
        return float(low), float(high)
