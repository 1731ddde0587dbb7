"""The cross-venue pair against both simulators: the engine with ``[polymarket]`` pointed at the
simulated Polymarket venue (``SimHarness(..., polymarket=True)``) and ``[strategies.cross_venue]`` on.

The venue's makers are set far off their fair value (``mispricing``), so a pair with an edge after both
fees appears within seconds; the test checks that one is placed and that both legs are recorded: the
Kalshi order and its fills on the exchange and in the store, the Polymarket leg placed and filled against
the simulated book at its quoted ask. The run is on virtual time (``engine_harness``), so a slow machine
cannot let a book move between a decision and its order.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

from engine_harness import on_virtual_time, until, virtual_engine, virtual_sim

from kxbtc.clock import NS_PER_S, LoopClock
from kxbtc.config import Config, PolymarketConfig, RiskConfig, StrategyConfig
from kxbtc.engine.core import Engine
from kxbtc.polymarket.gamma import WINDOW_S
from kxbtc.sim.exchange import Exchange, SimConfig
from kxbtc.sim.harness import SimHarness
from kxbtc.sim.poly_config import PolySimConfig
from kxbtc.store.db import SqliteStore

WINDOW_START = 1_780_315_200  # 2026-06-01 12:00:00 UTC, a quarter-hour boundary
#: Simulated seconds the engine gets to hedge a pair.
TIMEOUT_S = 200.0


def config_for(sim: SimHarness) -> Config:
    return Config(
        risk=RiskConfig(daily_loss_pct=50.0, max_drawdown_pct=50.0, per_strike_pct=50.0),
        strategies={"cross_venue": StrategyConfig()},
        polymarket=PolymarketConfig(
            enabled=True,
            gamma_url=sim.poly_http_url,
            clob_url=sim.poly_http_url,
            ws_url=sim.poly_ws_url,
            max_pair_contracts=Decimal(10),
        ),
    )


def _filled_pair(engine: Engine) -> bool:
    desk = engine.desk
    return desk is not None and any(leg.status == "filled" for leg in desk.legs)


def _rows(db_path: Path, sql: str) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(db_path)) as db:
        return db.execute(sql).fetchall()


@on_virtual_time
async def test_a_pair_trades_against_both_simulators_and_both_legs_are_recorded(tmp_path: Path) -> None:
    clock = LoopClock((WINDOW_START + 60) * NS_PER_S)
    exchange = Exchange(clock, seed=7, config=SimConfig(series=("KXBTC15M",)))
    db_path = tmp_path / "kxbtc.db"
    store = SqliteStore(db_path)
    poly_config = PolySimConfig(mispricing=0.2)
    async with virtual_sim(exchange, step_interval_s=0.02, polymarket=True, poly_config=poly_config) as sim:
        async with virtual_engine(config_for(sim), sim, store, clock, strategies=[]) as engine:
            stop = asyncio.Event()
            running = asyncio.create_task(engine.run(stop=stop))
            await until(lambda: _filled_pair(engine) or running.done(), clock, timeout_s=TIMEOUT_S)
            stop.set()
            await running
        assert sim.poly is not None
        poly = sim.poly
        user_id = sim.user_id()
    store.flush()
    store.close()

    desk = engine.desk
    assert desk is not None
    filled = [leg for leg in desk.legs if leg.status == "filled"]
    assert filled, f"no pair was hedged: {desk.legs}"
    leg = filled[0]
    window = poly.window_by_slug(leg.slug)
    assert window is not None and leg.token in window.tokens
    assert leg.outcome == window.outcome_of(leg.token)
    # The Kalshi leg reached the exchange and filled there for what the Polymarket leg hedged.
    our_fills = [f for f in exchange.accounts.fills.get(user_id, []) if f.order_id == leg.kalshi_order_id]
    assert sum(f.count for f in our_fills) == leg.kalshi_filled == leg.size > 0
    market = exchange.markets[leg.kalshi_ticker]
    assert market.close_ns == window.end_s * NS_PER_S == (window.start_s + WINDOW_S) * NS_PER_S
    # The Polymarket leg paid at most its limit per share, plus the taker fee.
    assert 0 < leg.notional <= leg.price * leg.size and leg.fee > 0

    # Both legs are in the store, linked by the pair id.
    decisions = [
        (ticker, json.loads(inputs), json.loads(intent))
        for ticker, inputs, intent in _rows(
            db_path, "SELECT ticker, inputs, intent FROM decisions WHERE strategy='cross_venue'"
        )
    ]
    kalshi = [d for d in decisions if d[0] == leg.kalshi_ticker and d[1]["pair_id"] == leg.pair_id]
    assert kalshi and kalshi[0][2]["tif"] == "fill_or_kill"
    poly_rows = [d for d in decisions if d[0] == f"polymarket:{leg.slug}:{leg.outcome}"]
    assert [x["outcome"] for _, i, x in poly_rows if i["pair_id"] == leg.pair_id] == ["placed", "filled"]
    stored_fills = {order_id for (order_id,) in _rows(db_path, "SELECT order_id FROM fills")}
    assert leg.kalshi_order_id in stored_fills
    assert ("poly_leg_filled", "info") in _rows(db_path, "SELECT kind, severity FROM risk_events")
    summary = desk.summary()
    assert summary.poly_filled >= 1 and summary.kalshi_legs_filled >= 1 and summary.paper
