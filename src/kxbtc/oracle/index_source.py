"""Where the settlement index comes from, behind one protocol: each source hands out ``IndexTick``s.

The core only ever sees ``IndexTick`` events; which origin produced them is a wiring choice (``[engine]
index`` live, ``ReplaySettings.index`` in the replay). Every source labels its ticks (``IndexTick.source``)
so a listener that hears several of them, such as the gap tracker (``kxbtc.oracle.index_gap``), can tell
them apart, and the wiring can route only the chosen one to the core.

Sources are pushed by whatever drives them (a WebSocket message, an estimate step, a recorded event), so
the protocol is a sink to attach, not an iterator to pull: a print reaches the core in the same call
that delivered it, with no queue between. Here:

- ``KalshiPrints``: Kalshi's ``cfbenchmarks_value`` prints, the series Kalshi settles on.
- ``RecordedSpotTicks``: recorded spot trades plus a basis learnt only from markets already settled
  (``kxbtc.oracle.spot_basis``), for the replay.
- ``kxbtc.oracle.estimate_source.EstimatedIndex``: the BRTI estimate from the exchange feeds.

This module imports no venue package: turning a venue message into a value is the adapter's job.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Protocol

from kxbtc.domain.events import IndexTick
from kxbtc.oracle.spot_basis import BasisEstimator

#: Where a source delivers its ticks.
IndexSink = Callable[[IndexTick], object]

KALSHI = "kalshi"
ESTIMATE = "estimate"
SPOT_BASIS = "spot+basis"


class IndexSource(Protocol):
    """An origin of index prints: it labels each tick ``label`` and hands it to the attached sink."""

    @property
    def label(self) -> str: ...

    def attach(self, sink: IndexSink) -> None:
        """Deliver every later tick to ``sink`` (one sink; attaching again replaces it)."""
        ...


class TickEmitter:
    """The shared half of every source: the label, the sink, and dropping what is not a price."""

    def __init__(self, label: str) -> None:
        self._label = label
        self._sink: IndexSink | None = None
        self.emitted = 0

    @property
    def label(self) -> str:
        return self._label

    def attach(self, sink: IndexSink) -> None:
        self._sink = sink

    def _emit(self, ts_ns: int, value: float) -> IndexTick | None:
        # A zero, negative or non-finite value is a broken print, not an index level: never passed on.
        if not math.isfinite(value) or value <= 0:
            return None
        tick = IndexTick(ts_ns, value, self._label)
        self.emitted += 1
        if self._sink is not None:
            self._sink(tick)
        return tick


class KalshiPrints(TickEmitter):
    """Kalshi's published BRTI, fed by the adapter that decodes ``cfbenchmarks_value``."""

    def __init__(self, label: str = KALSHI) -> None:
        super().__init__(label)

    def on_value(self, time_ms: int, value: float) -> IndexTick | None:
        """One print: the index's own timestamp (ms) and its value in dollars."""
        return self._emit(time_ms * 1_000_000, value)

    def on_tick(self, tick: IndexTick) -> IndexTick | None:
        """A tick some stream machine already built (the replay's ``KalshiStream``), relabelled."""
        return self._emit(tick.ts_ns, tick.value)


class RecordedSpotTicks(TickEmitter):
    """Recorded spot trades, each corrected by the basis known at its instant (never a later one)."""

    def __init__(self, basis: BasisEstimator, label: str = SPOT_BASIS) -> None:
        super().__init__(label)
        self.basis = basis

    def on_spot(self, t_ns: int, price: float) -> IndexTick | None:
        self.basis.on_spot(t_ns, price)
        return self._emit(t_ns, price + self.basis.basis(t_ns))


__all__ = [
    "ESTIMATE",
    "KALSHI",
    "SPOT_BASIS",
    "IndexSink",
    "IndexSource",
    "KalshiPrints",
    "RecordedSpotTicks",
    "TickEmitter",
]
