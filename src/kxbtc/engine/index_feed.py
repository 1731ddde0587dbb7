"""The live engine's index: which source the core trades on, the estimate task, and the gap to Kalshi.

``[engine] index`` picks the source whose ticks reach the core: ``kalshi`` (the ``cfbenchmarks_value``
prints, as before) or ``estimate`` (the BRTI estimate from the exchange feeds, ``EstimatedIndex``). The
estimate runs when it is the choice or when ``[engine] estimate_venues`` lists venues, so its gap to
Kalshi can be watched before anyone trades on it. Every tick of either source goes through
``IndexFeed.on_tick``: the chosen one to the core, all of them to the gap tracker.

What the operator sees is written to the store's key-value table under ``INDEX_KEY`` (one JSON object:
the source, each source's last print, the gap statistics, the feeds' health) every ``snapshot_every_s``
and at shutdown; ``kxbtc status`` reads it back (``kxbtc.ops.index_status``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from kxbtc.clock import Clock
from kxbtc.config import Config
from kxbtc.domain.events import IndexTick
from kxbtc.oracle.estimate_source import EstimatedIndex
from kxbtc.oracle.feeds import SPOT_FEEDS, SpotFeed
from kxbtc.oracle.index_gap import GapTracker
from kxbtc.oracle.index_source import ESTIMATE, IndexSink, KalshiPrints
from kxbtc.store.writes import StoreWrites

log = logging.getLogger(__name__)

#: The store's key-value entry that ``kxbtc status`` shows as ``index``.
INDEX_KEY = "index_status"


class IndexFeed:
    def __init__(
        self,
        choice: str,
        to_core: IndexSink,
        clock: Clock,
        store: StoreWrites,
        *,
        estimate: EstimatedIndex | None = None,
        gap_window_s: int = 300,
        snapshot_every_s: float = 5.0,
    ) -> None:
        if choice == ESTIMATE and estimate is None:
            raise ValueError("index = estimate needs the estimate source")
        self.choice = choice
        self.clock = clock
        self.store = store
        self.kalshi = KalshiPrints()
        self.estimate = estimate
        self.gap = GapTracker(gap_window_s)
        self.last: dict[str, IndexTick] = {}
        self.snapshot_every_s = snapshot_every_s
        self._to_core = to_core
        self._last_snapshot: float | None = None
        self._task: asyncio.Task[None] | None = None
        for source in (self.kalshi, estimate):
            if source is not None:
                source.attach(self.on_tick)

    def on_tick(self, tick: IndexTick) -> None:
        self.last[tick.source] = tick
        self.gap.on_tick(tick)
        if tick.source == self.choice:
            self._to_core(tick)

    # -- the estimate's task ----------------------------------------------------------------------

    def start(self) -> None:
        """Start the feeds and the estimate loop (if the estimate runs); it lives until ``close``."""
        if self.estimate is not None and self._task is None:
            self._task = asyncio.ensure_future(self.estimate.run())
            self._task.add_done_callback(_log_end)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    # -- what the operator sees -------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        chosen = self.last.get(self.choice)
        status: dict[str, Any] = {
            "source": self.choice,
            "value": None if chosen is None else chosen.value,
            "ts_ns": None if chosen is None else chosen.ts_ns,
            "sources": {label: {"value": t.value, "ts_ns": t.ts_ns} for label, t in self.last.items()},
            "gap": asdict(self.gap.summary()),
            "written_ns": self.clock.time_ns(),
        }
        if self.estimate is not None:
            status["feeds"] = {h.venue: h.state.value for h in self.estimate.health()}
        return status

    def snapshot(self) -> None:
        self._last_snapshot = self.clock.monotonic()
        self.store.set_value(INDEX_KEY, json.dumps(self.status(), sort_keys=True))

    def maybe_snapshot(self) -> None:
        """Write the status when ``snapshot_every_s`` has passed since the last write (call on the timer)."""
        last = self._last_snapshot
        if last is None or self.clock.monotonic() - last >= self.snapshot_every_s:
            self.snapshot()


def build_index_feed(
    config: Config,
    clock: Clock,
    store: StoreWrites,
    to_core: IndexSink,
    *,
    feeds: Sequence[SpotFeed] | None = None,
) -> IndexFeed:
    """The engine's index wiring from ``[engine]``; ``feeds`` replaces the venues' real feeds (tests)."""
    engine = config.engine
    if feeds is None:
        venues: Sequence[str] = engine.estimate_venues
        if not venues and engine.index == ESTIMATE:
            venues = sorted(SPOT_FEEDS)
        feeds = [SPOT_FEEDS[v](clock) for v in venues]
    estimate = EstimatedIndex(clock, feeds) if feeds else None
    return IndexFeed(engine.index, to_core, clock, store, estimate=estimate)


def _log_end(task: asyncio.Task[None]) -> None:
    # The estimate loop ends only when cancelled, or on a bug a feed raised: that must not pass silently.
    if not task.cancelled() and task.exception() is not None:
        log.error("index estimate stopped: %r", task.exception())


__all__ = ["INDEX_KEY", "IndexFeed", "build_index_feed"]
