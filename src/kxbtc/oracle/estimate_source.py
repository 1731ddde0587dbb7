"""The oracle's BRTI estimate as an index source: the exchange feeds' books, one ``IndexTick`` per estimate.

``kxbtc.oracle.service.Oracle`` already runs the feeds and estimates on a fixed interval; this wraps it
so the live engine can use the estimate like any other source (``kxbtc.oracle.index_source``): every
estimate the oracle makes is handed to the sink, labelled ``estimate``. The feeds need the venues'
public websockets, so tests inject feeds of their own (local stub servers, or books set by hand).
"""

from __future__ import annotations

from collections.abc import Sequence

from kxbtc.clock import Clock
from kxbtc.domain.events import IndexTick
from kxbtc.oracle.brti import BrtiEstimate
from kxbtc.oracle.feeds.base import FeedHealth, SpotFeed
from kxbtc.oracle.index_source import ESTIMATE, TickEmitter
from kxbtc.oracle.service import Oracle


class EstimatedIndex(TickEmitter):
    def __init__(
        self,
        clock: Clock,
        feeds: Sequence[SpotFeed],
        *,
        interval_s: float = 0.2,
        label: str = ESTIMATE,
    ) -> None:
        super().__init__(label)
        self.oracle = Oracle(clock, feeds, estimate_interval_s=interval_s, on_estimate=self._on_estimate)
        self.last: IndexTick | None = None

    def _on_estimate(self, estimate: BrtiEstimate) -> None:
        tick = self._emit(estimate.ts_ns, estimate.value)
        if tick is not None:
            self.last = tick

    def step(self) -> IndexTick | None:
        """Estimate once now (``run`` does this every interval); the tick made, if the books allowed one."""
        before = self.emitted
        self.oracle.step()
        return self.last if self.emitted > before else None

    def health(self) -> tuple[FeedHealth, ...]:
        return tuple(f.health() for f in self.oracle.feeds)

    async def run(self) -> None:
        """Run the feeds and estimate every interval until cancelled (``Oracle.run``)."""
        await self.oracle.run()


__all__ = ["EstimatedIndex"]
