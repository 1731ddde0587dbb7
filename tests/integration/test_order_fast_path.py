"""The order path is ready from the very first: its kept-alive connections open, and its signature is
prepared, while the engine starts. Before, they waited for the engine's first timer tick, and the
orders of the first second (eight in the tick-to-wire bench) took the slow way."""

from __future__ import annotations

from pathlib import Path

from engine_harness import on_virtual_time, virtual_engine, virtual_sim

from kxbtc.clock import NS_PER_S, LoopClock
from kxbtc.config import Config
from kxbtc.kalshi.rest_orders import ORDERS_V2
from kxbtc.sim.exchange import Exchange, SimConfig
from kxbtc.store.db import SqliteStore

START_NS = 1_781_136_060 * NS_PER_S


@on_virtual_time
async def test_the_order_path_is_ready_as_soon_as_the_engine_has_started(tmp_path: Path) -> None:
    clock = LoopClock(START_NS)
    exchange = Exchange(clock, seed=5, config=SimConfig(series=("KXBTC15M",)))
    store = SqliteStore(tmp_path / "kxbtc.db")
    try:
        async with (
            virtual_sim(exchange, step_interval_s=0.02) as sim,
            virtual_engine(Config(strategies={}), sim, store, clock, strategies=[]) as engine,
        ):
            await engine.start()
            await clock.sleep(0.05)  # the connections' handshakes on loopback; the first tick is at 1 s
            assert engine.rest.order_path_ready(ORDERS_V2)
            await engine.shutdown()
    finally:
        store.close()
