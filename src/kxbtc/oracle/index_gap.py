"""How far our BRTI estimate sits from Kalshi's published value, second by second.

Whichever index the engine trades on, when both Kalshi's prints and the estimate arrive we keep their
difference (estimate - Kalshi, dollars) for every whole second both have a print in: the last print of
each in that second (``time // 1 s``, the convention of ``kxbtc.oracle``). A print may arrive after the
other side's, in either order; the second's gap is updated whenever either side prints again in it.

Only the last ``window_s`` seconds count (measured back from the newest second either side printed),
so the statistics say how the estimate does now, not over the whole run: a gap that grows is the sign a
feed is stale or a venue is off, and that the estimate should not be traded on. ``kxbtc.oracle.brti``'s
``GapStats`` is the estimator's own running view (an EWMA over every print); this is the window the
operator sees.
"""

from __future__ import annotations

from dataclasses import dataclass

from kxbtc.clock import NS_PER_S
from kxbtc.domain.events import IndexTick
from kxbtc.oracle.index_source import ESTIMATE, KALSHI


@dataclass(frozen=True, slots=True)
class GapSummary:
    """The recent gap statistics, dollars; None where no second in the window has both prints."""

    window_s: int
    seconds: int  # seconds in the window with both prints
    total_seconds: int  # such seconds since the start
    last: float | None  # the newest such second's gap
    last_second: int | None
    mean: float | None
    max_abs: float | None


class GapTracker:
    def __init__(self, window_s: int = 300, *, reference: str = KALSHI, estimate: str = ESTIMATE) -> None:
        if window_s <= 0:
            raise ValueError("window_s must be positive")
        self.window_s = window_s
        self.reference = reference
        self.estimate = estimate
        self._ref: dict[int, float] = {}  # second -> last reference print in it
        self._est: dict[int, float] = {}  # second -> last estimate in it
        self._gaps: dict[int, float] = {}  # second -> estimate - reference
        self._newest: int | None = None
        self.total_seconds = 0

    def on_tick(self, tick: IndexTick) -> float | None:
        """Take one print of either side; the gap of its second if the other side printed in it too."""
        if tick.source == self.reference:
            mine, other = self._ref, self._est
        elif tick.source == self.estimate:
            mine, other = self._est, self._ref
        else:
            return None
        second = tick.ts_ns // NS_PER_S
        if self._newest is not None and second <= self._newest - self.window_s:
            return None  # older than the window: it could only be dropped again
        mine[second] = tick.value
        if self._newest is None or second > self._newest:
            self._newest = second
            self._forget_before(second - self.window_s + 1)
        if second not in other:
            return None
        if second not in self._gaps:
            self.total_seconds += 1
        gap = self._gaps[second] = self._est[second] - self._ref[second]
        return gap

    def _forget_before(self, first_second: int) -> None:
        for table in (self._ref, self._est, self._gaps):
            for second in [s for s in table if s < first_second]:
                del table[second]

    def summary(self) -> GapSummary:
        gaps = self._gaps
        if not gaps:
            return GapSummary(self.window_s, 0, self.total_seconds, None, None, None, None)
        last_second = max(gaps)
        values = list(gaps.values())
        return GapSummary(
            window_s=self.window_s,
            seconds=len(values),
            total_seconds=self.total_seconds,
            last=gaps[last_second],
            last_second=last_second,
            mean=sum(values) / len(values),
            max_abs=max(abs(v) for v in values),
        )


__all__ = ["GapSummary", "GapTracker"]
