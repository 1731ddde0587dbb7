"""`kxbtc run` freezes what start-up built (``Engine(freeze_gc=True)``): the collector never scans those
objects again (a full scan of them was a 48 ms pause of the loop thread in the tick-to-wire profile),
while the garbage trading makes afterwards is still collected."""

from __future__ import annotations

import asyncio
import gc
import weakref
from pathlib import Path

from engine_harness import bare_engine, on_virtual_time, virtual_sim

from kxbtc.clock import NS_PER_S, LoopClock
from kxbtc.config import Config
from kxbtc.sim.exchange import Exchange, SimConfig
from kxbtc.store.db import SqliteStore

START_NS = 1_781_136_060 * NS_PER_S


class _Cycle:
    def __init__(self) -> None:
        self.me = self


@on_virtual_time
async def test_start_up_objects_are_frozen_and_later_garbage_is_still_collected(tmp_path: Path) -> None:
    clock = LoopClock(START_NS)
    exchange = Exchange(clock, seed=3, config=SimConfig(series=("KXBTC15M",)))
    store = SqliteStore(tmp_path / "kxbtc.db")
    gc.unfreeze()
    try:
        async with (
            virtual_sim(exchange, step_interval_s=0.02) as sim,
            bare_engine(Config(strategies={}), sim, store, clock, freeze_gc=True) as engine,
        ):
            run = asyncio.ensure_future(engine.run(until_ns=START_NS + 10 * NS_PER_S))
            await clock.sleep(5)
            frozen = gc.get_freeze_count()
            # What start-up built is frozen: the engine and its books are no longer in any generation
            # the collector scans.
            assert frozen > 0
            scanned = {id(o) for o in gc.get_objects()}
            assert id(engine) not in scanned and id(engine.ws.books) not in scanned
            # A reference cycle made while trading is still collected.
            cycle = _Cycle()
            gone = weakref.ref(cycle)
            del cycle
            gc.collect()
            assert gone() is None
            await run
    finally:
        gc.unfreeze()
        store.close()
