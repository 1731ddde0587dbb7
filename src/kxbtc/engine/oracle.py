"""The engine's view of the settlement index: spot, volatility and the settlement windows observed so far.

Index values arrive from Kalshi's ``cfbenchmarks_value`` channel (or a local BRTI estimate). They are
sampled once per second on whole seconds (the settlement's own grid), volatility is an EWMA of squared
one-second log returns, and the samples inside each market's final minute are summed for the
partly-observed-window fair value.
"""

from __future__ import annotations

import math
from collections import deque

from kxbtc.clock import NS_PER_S
from kxbtc.pricing.volatility import EwmaVariance
from kxbtc.strategy.base import OracleView

SECONDS_PER_YEAR = 365 * 24 * 3600
WINDOW_S = 60


class IndexState:
    def __init__(
        self,
        *,
        prior_annual_vol: float = 0.5,
        half_life_s: float = 300.0,
        min_samples: int = 30,
        history_s: int = 4 * 3600,
        stale_after_s: float = 5.0,
    ) -> None:
        self._ewma = EwmaVariance(half_life_s)
        self._prior_var = prior_annual_vol**2 / SECONDS_PER_YEAR
        self._min_samples = min_samples
        self._samples: deque[tuple[int, float]] = deque(maxlen=history_s)  # (unix second, value)
        self._count = 0
        self._stale_after_ns = int(stale_after_s * NS_PER_S)
        self.spot: float | None = None
        self.last_ts_ns = 0

    def on_index(self, ts_ns: int, value: float) -> None:
        if not math.isfinite(value) or value <= 0:
            return
        second = -(-ts_ns // NS_PER_S)  # the print counts for the next whole second it covers
        last = self._samples[-1][0] if self._samples else None
        if second == last:
            self._samples[-1] = (second, value)  # a later print for the same second supersedes it
        elif last is None or second > last:
            self._samples.append((second, value))
            self._ewma.update(value, float(second))
            self._count += 1
        else:
            return  # older than what we hold: out of order
        self.spot = value
        self.last_ts_ns = max(self.last_ts_ns, ts_ns)

    def variance_per_s(self) -> float:
        """EWMA variance blended with the prior until enough samples exist (shrinkage, not a switch)."""
        ewma = self._ewma.variance
        if ewma is None:
            return self._prior_var
        weight = min(1.0, self._count / max(1, self._min_samples * 4))
        return weight * ewma + (1 - weight) * self._prior_var

    def dollar_vol(self) -> float | None:
        return None if self.spot is None else self.spot * math.sqrt(self.variance_per_s())

    def observed(self, close_ns: int) -> tuple[float, int]:
        """Sum and count of samples in (close - 60 s, close]."""
        close_s = close_ns // NS_PER_S
        total, count = 0.0, 0
        for second, value in reversed(self._samples):
            if second > close_s:
                continue
            if second <= close_s - WINDOW_S:
                break
            total += value
            count += 1
        return total, count

    def age_s(self, now_ns: int) -> float:
        return math.inf if not self.last_ts_ns else max(0.0, (now_ns - self.last_ts_ns) / NS_PER_S)

    def is_stale(self, now_ns: int) -> bool:
        return now_ns - self.last_ts_ns > self._stale_after_ns

    def view(self, now_ns: int, closes: list[int]) -> OracleView:
        spot = None if self.is_stale(now_ns) else self.spot
        observed = {c: self.observed(c) for c in closes if 0 < c - now_ns <= WINDOW_S * NS_PER_S + NS_PER_S}
        return OracleView(spot, self.dollar_vol(), now_ns, observed)
