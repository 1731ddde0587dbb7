"""The live engine's heartbeat and market board: while it runs, ``kxbtc status`` and the dashboard see a
running engine and each followed market's book, fair value and index; after its shutdown, a clean stop.

The engine trades the in-process simulator on virtual time (``engine_harness``), with its index estimated
from a spot feed whose health shows on every market.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from engine_harness import bare_engine, on_virtual_time, virtual_sim
from test_engine_index_estimate import MID, START_NS, HandSetFeed

from kxbtc.clock import NS_PER_S, LoopClock
from kxbtc.config import Config, EngineConfig
from kxbtc.ops.engine_status import engine_view
from kxbtc.sim.exchange import Exchange, SimConfig
from kxbtc.store.db import SqliteStore
from kxbtc.store.live_view import read_market_states


def read(path: Path, now_ns: int) -> tuple[dict[str, object] | None, list[str]]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return engine_view(conn, now_ns), [s.ticker for s in read_market_states(conn)]
    finally:
        conn.close()


@on_virtual_time
async def test_the_engine_beats_while_it_runs_publishes_its_markets_and_says_when_it_stopped(
    tmp_path: Path,
) -> None:
    config = Config(strategies={}, engine=EngineConfig(index="estimate"))
    clock = LoopClock(START_NS)
    exchange = Exchange(clock, seed=7, config=SimConfig(series=("KXBTC15M",)))
    path = tmp_path / "kxbtc.db"
    store = SqliteStore(path)
    async with (
        virtual_sim(exchange, step_interval_s=0.02) as sim,
        bare_engine(
            config, sim, store, clock, spot_feeds=[HandSetFeed(clock)], wall_clock=clock, mode="sim"
        ) as engine,
    ):
        run = asyncio.ensure_future(engine.run(until_ns=START_NS + 30 * NS_PER_S))
        await clock.sleep(20)
        store.flush()
        running, tickers = read(path, clock.time_ns())
        assert running is not None and running["state"] == "running" and running["mode"] == "sim"
        assert float(running["heartbeat_age_s"]) <= 5.0  # type: ignore[arg-type]
        assert tickers == sorted(engine.markets)  # every market the engine follows
        await run
    store.flush()
    conn = sqlite3.connect(path)
    states = read_market_states(conn)
    conn.close()
    store.close()
    stopped, _ = read(path, clock.time_ns())
    assert stopped is not None and stopped["state"] == "stopped" and stopped["clean_stop"] is True
    assert states and all(s.index_source == "estimate" and s.index_cents == round(MID * 100) for s in states)
    assert all(s.feeds == {"handset": s.feeds["handset"]} for s in states)  # the feed's health, per market
    assert any(s.book_state == "ok" and s.yes_bids and s.fair_yes is not None for s in states)
