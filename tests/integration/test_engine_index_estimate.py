"""The live engine on ``[engine] index = "estimate"``: the simulator's ``cfbenchmarks_value`` prints arrive
as Kalshi's, the estimate comes from a spot feed whose book the test sets, and only the estimate reaches the
core; both meet in the gap the engine writes for ``kxbtc status``.

The engine trades the in-process simulator on virtual time (``engine_harness``), the estimate loop on the
same clock.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from engine_harness import bare_engine, on_virtual_time, virtual_sim

from kxbtc.clock import NS_PER_S, LoopClock
from kxbtc.config import Config, EngineConfig
from kxbtc.engine.index_feed import INDEX_KEY
from kxbtc.oracle.feeds.base import SpotFeed
from kxbtc.oracle.feeds.book import BookUpdate, VenueBook
from kxbtc.sim.exchange import Exchange, SimConfig
from kxbtc.store.db import SqliteStore

START_NS = (1_780_315_200 + 60) * NS_PER_S  # 2026-06-01 12:01 UTC
MID = 12_345.0  # far from the simulator's index, so a tick's origin shows in its value


class HandSetFeed(SpotFeed):
    """One level each side around ``MID``, current as of now; never connects."""

    venue = "handset"
    default_url = "ws://127.0.0.1:9/unused"
    default_symbol = "BTC-USD"

    def subscribe_messages(self) -> list[str]:
        return []

    def parse(self, raw: str | bytes) -> list[BookUpdate]:
        return []

    def snapshot(self, depth: int | None = None) -> VenueBook | None:
        return VenueBook(self.venue, ((MID - 0.5, 5.0),), ((MID + 0.5, 5.0),), self.clock.time_ns())

    async def run(self) -> None:
        await asyncio.Event().wait()


@on_virtual_time
async def test_the_engine_trades_on_the_estimate_and_records_its_gap_to_kalshi(tmp_path: Path) -> None:
    config = Config(strategies={}, engine=EngineConfig(index="estimate"))
    clock = LoopClock(START_NS)
    exchange = Exchange(clock, seed=7, config=SimConfig(series=("KXBTC15M",)))
    store = SqliteStore(tmp_path / "kxbtc.db")
    async with (
        virtual_sim(exchange, step_interval_s=0.02) as sim,
        bare_engine(config, sim, store, clock, spot_feeds=[HandSetFeed(clock)]) as engine,
    ):
        await engine.run(until_ns=clock.time_ns() + 30 * NS_PER_S)
        assert engine.index.spot == MID  # the estimate, not the simulator's prints
        kalshi = engine.index_feed.last.get("kalshi")
        assert kalshi is not None and abs(kalshi.value - MID) > 1_000
    store.flush()
    record = json.loads(store.get_value(INDEX_KEY) or "{}")
    store.close()
    assert (record["source"], record["value"]) == ("estimate", MID)
    assert set(record["sources"]) == {"estimate", "kalshi"}
    gap = record["gap"]
    assert gap["seconds"] > 10  # most seconds of the run had both prints
    assert abs(gap["mean"]) > 1_000 and gap["max_abs"] >= abs(gap["last"])
