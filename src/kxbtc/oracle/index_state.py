"""The engine's view of the settlement index: spot, volatility and the settlement windows observed so far.

Index values arrive from Kalshi's ``cfbenchmarks_value`` channel (or a local BRTI estimate). Each print
belongs to the whole second ``time_ms // 1000`` (the convention of ``kxbtc.oracle``); volatility is an
EWMA of squared one-second log returns, shrunk toward a prior until enough prints exist; each market's
final minute is kept by a ``kxbtc.oracle.settlement.SettlementTracker`` (exact cents, with its
rules for missing and duplicate seconds), which gives the partly observed window to the fair value.
"""

from __future__ import annotations

import math

from kxbtc.clock import NS_PER_S
from kxbtc.oracle.settlement import IndexSample, SettlementTracker
from kxbtc.pricing.volatility import EwmaVariance
from kxbtc.strategy.base import OracleView

SECONDS_PER_YEAR = 365 * 24 * 3600
WINDOW_S = 60
#: A window is forgotten this long after its close.
KEEP_AFTER_CLOSE_S = 300


class IndexState:
    def __init__(
        self,
        *,
        prior_annual_vol: float = 0.5,
        half_life_s: float = 300.0,
        min_samples: int = 30,
        stale_after_s: float = 5.0,
    ) -> None:
        self._ewma = EwmaVariance(half_life_s)
        self._prior_var = prior_annual_vol**2 / SECONDS_PER_YEAR
        self._min_samples = min_samples
        self._count = 0
        self._last_second: int | None = None
        self._stale_after_ns = int(stale_after_s * NS_PER_S)
        self._windows: dict[int, SettlementTracker] = {}  # close second -> tracker
        self.spot: float | None = None
        self.last_ts_ns = 0
        # ``dollar_vol`` moves only with a print (or a spot set by hand): kept until one of them changes.
        self._prints = 0
        self._vol_key: tuple[int, float | None] = (-1, None)
        self._vol: float | None = None

    def track(self, close_ns: int) -> None:
        """Start keeping the settlement window of a market closing at ``close_ns``."""
        close_s = close_ns // NS_PER_S
        if close_s not in self._windows:
            self._windows[close_s] = SettlementTracker(close_s)

    def on_index(self, ts_ns: int, value: float, *, official: bool = True) -> None:
        self._prints += 1
        if not math.isfinite(value) or value <= 0:
            return
        second = ts_ns // NS_PER_S
        if self._last_second is not None and second < self._last_second:
            return  # out of order: older than what we hold
        if second != self._last_second:
            self._ewma.update(value, float(second))
            self._count += 1
            self._last_second = second
        sample = IndexSample(second, round(value * 100), official)
        for close_s, tracker in list(self._windows.items()):
            if second > close_s + KEEP_AFTER_CLOSE_S:
                del self._windows[close_s]
            else:
                tracker.record(sample)
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
        key = (self._prints, self.spot)
        if key != self._vol_key:
            self._vol = None if self.spot is None else self.spot * math.sqrt(self.variance_per_s())
            self._vol_key = key
        return self._vol

    def observed(self, close_ns: int) -> tuple[float, int]:
        """Sum (dollars) and count of the window's seconds so far, (close - 60 s, close]."""
        tracker = self._windows.get(close_ns // NS_PER_S)
        if tracker is None:
            return 0.0, 0
        return tracker.total_cents / 100, tracker.count

    def age_s(self, now_ns: int) -> float:
        return math.inf if not self.last_ts_ns else max(0.0, (now_ns - self.last_ts_ns) / NS_PER_S)

    def is_stale(self, now_ns: int) -> bool:
        return now_ns - self.last_ts_ns > self._stale_after_ns

    def view(self, now_ns: int, closes: list[int]) -> OracleView:
        spot = None if self.is_stale(now_ns) else self.spot
        observed = {c: self.observed(c) for c in closes if 0 < c - now_ns <= WINDOW_S * NS_PER_S + NS_PER_S}
        return OracleView(spot, self.dollar_vol(), now_ns, observed)
