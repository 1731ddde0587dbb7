"""The oracle as one object: spot feeds in; BRTI nowcast, per-second prints and settlement windows out.

Wiring: ``run()`` drives the feeds and estimates every ``estimate_interval_s``; register
``oracle.cfb_handler`` with the Kalshi WS client for the ``cfbenchmarks_value`` channel. Official
prints and our estimated ones both go into every tracked market's ``SettlementTracker``; an official
print for a second always wins over an estimate (settlement.py), so estimates only fill the seconds
Kalshi's feed missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from kxbtc.clock import NS_PER_S, Clock
from kxbtc.oracle.brti import BrtiEstimate, BrtiEstimator, GapStats
from kxbtc.oracle.feeds.base import FeedHealth, SpotFeed
from kxbtc.oracle.feeds.kalshi_cfb import CfbHandler, IndexObservation
from kxbtc.oracle.settlement import IndexSample, IndexSampler, SettlementTracker, StrikeRule

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class OracleStatus:
    estimate: BrtiEstimate | None
    official: IndexObservation | None
    feeds: tuple[FeedHealth, ...]
    gap: GapStats


class Oracle:
    def __init__(
        self,
        clock: Clock,
        feeds: Sequence[SpotFeed] = (),
        *,
        estimator: BrtiEstimator | None = None,
        estimate_interval_s: float = 0.2,
        max_carry_s: float = 5.0,
        book_depth: int | None = 1000,
        finalize_grace_s: float = 3.0,
        on_estimate: Callable[[BrtiEstimate], None] | None = None,
    ) -> None:
        self.clock = clock
        self.feeds = tuple(feeds)
        self.estimator = estimator or BrtiEstimator(clock)
        self.estimate_interval_s = estimate_interval_s
        self.book_depth = book_depth
        self.finalize_grace_s = finalize_grace_s
        self.sampler = IndexSampler(max_carry_s)
        self.trackers: dict[str, SettlementTracker] = {}
        self.cfb_handler = CfbHandler(self.on_official)
        self.last_official: IndexObservation | None = None
        self.final_minute_mismatches = 0
        #: Told of every estimate ``step`` makes (the live engine's index source listens here).
        self.on_estimate = on_estimate

    # -- markets ---------------------------------------------------------------------------------

    def track(self, key: str, close_ts_s: int, rule: StrikeRule | None = None) -> SettlementTracker:
        """Start (or return) the settlement window of market ``key``."""
        tracker = self.trackers.get(key)
        if tracker is None:
            tracker = self.trackers[key] = SettlementTracker(close_ts_s, rule)
        return tracker

    def untrack(self, key: str) -> SettlementTracker | None:
        return self.trackers.pop(key, None)

    # -- inputs ----------------------------------------------------------------------------------

    def on_official(self, obs: IndexObservation) -> None:
        """One of Kalshi's published BRTI values (via ``cfb_handler``)."""
        self.last_official = obs
        self.estimator.record_official(obs.time_ms, obs.value)
        self._record(IndexSample(obs.second, obs.cents, official=True))
        if obs.final_minute is not None:
            self._check_final_minute(obs)

    def _check_final_minute(self, obs: IndexObservation) -> None:
        # Kalshi's running settlement mean must equal ours; a difference means our second mapping or
        # gap filling disagrees with Kalshi's, and the pricing inputs are off.
        fm = obs.final_minute
        assert fm is not None
        close_s = fm.window_start_ts_ms // 1000 + 60
        for key, tracker in self.trackers.items():
            if tracker.close_ts_s != close_s:
                continue
            ours = tracker.running_average
            if tracker.count != fm.window_size or ours is None or abs(ours - fm.value) > 0.005:
                self.final_minute_mismatches += 1
                log.warning(
                    "%s: settlement window differs from Kalshi's: ours %s over %d s, Kalshi %.8f over %d",
                    key,
                    ours,
                    tracker.count,
                    fm.value,
                    fm.window_size,
                )

    def step(self) -> BrtiEstimate | None:
        """Estimate now, turn finished seconds into prints, and close windows past their close."""
        estimate = self.estimator.estimate(f.snapshot(self.book_depth) for f in self.feeds)
        if estimate is not None:
            samples = self.sampler.add(estimate.ts_ns, estimate.raw_value)
            if self.on_estimate is not None:
                self.on_estimate(estimate)
        else:
            samples = self.sampler.flush(self.clock.time_ns())
        for sample in samples:
            self._record(sample)
        now_s = self.clock.time_ns() / NS_PER_S
        for tracker in self.trackers.values():
            if now_s >= tracker.close_ts_s + self.finalize_grace_s:
                tracker.finalize()
        return estimate

    def _record(self, sample: IndexSample) -> None:
        for tracker in self.trackers.values():
            tracker.record(sample)

    # -- outputs ---------------------------------------------------------------------------------

    def current_index(self, max_official_age_s: float = 2.0) -> float | None:
        """The index now: Kalshi's latest value while fresh, else our estimate, else None."""
        obs = self.last_official
        now_ms = self.clock.time_ns() // 1_000_000
        if obs is not None and now_ms - obs.time_ms <= max_official_age_s * 1000:
            return obs.value
        est = self.estimator.last
        return None if est is None else est.value

    def status(self) -> OracleStatus:
        return OracleStatus(
            self.estimator.last,
            self.last_official,
            tuple(f.health() for f in self.feeds),
            self.estimator.gap,
        )

    async def run(self) -> None:
        """Run every feed and estimate on a fixed interval until cancelled."""
        tasks = [asyncio.create_task(f.run(), name=f"feed-{f.venue}") for f in self.feeds]
        try:
            while True:
                for t in tasks:
                    if t.done():
                        t.result()  # a feed loop only ends on a bug: surface it, do not run blind
                self.step()
                await self.clock.sleep(self.estimate_interval_s)
        finally:
            for f in self.feeds:
                f.stop()
            for t in tasks:
                t.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await t
