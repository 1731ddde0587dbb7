"""The hourly series end to end: the engine trades the KXBTCD strike ladder and the KXBTC range buckets
on the simulator through an hourly close, and its ledger equals the simulator's afterwards.

The simulator's makers misprice (``mispricing``) so the fair-value strategy finds edges on the hourly
markets; the run starts ten simulated minutes before the top of the hour so the hourly event closes and
settles inside it. The run is on virtual time (``engine_harness``): the same on any machine.
"""

from __future__ import annotations

from pathlib import Path

from engine_harness import virtual_engine, virtual_sim

from kxbtc.clock import NS_PER_S, LoopClock
from kxbtc.config import Config, RiskConfig, StrategyConfig
from kxbtc.engine.audit import LedgerComparison, compare_with_simulator
from kxbtc.sim.exchange import Exchange, SimConfig
from kxbtc.store.db import SqliteStore
from kxbtc.virtual_loop import run_virtual

HOURLY = ("KXBTCD", "KXBTC")
START_NS = (1_780_315_200 - 600) * NS_PER_S  # 2026-06-01 11:50 UTC: the 12:00 hourly close is 10 min away


def test_the_engine_trades_the_hourly_ladders_through_a_close_and_stays_reconciled(tmp_path: Path) -> None:
    config = Config(
        risk=RiskConfig(daily_loss_pct=50.0, max_drawdown_pct=50.0, per_strike_pct=5.0),
        strategies={"fair_value": StrategyConfig(), "book_glitch": StrategyConfig()},
    )
    store = SqliteStore(tmp_path / "kxbtc.db")
    seen_markets: set[str] = set()

    async def trade() -> tuple[Exchange, LedgerComparison, str]:
        clock = LoopClock(START_NS)
        exchange = Exchange(clock, seed=21, config=SimConfig(series=HOURLY, mispricing=0.06))
        async with (
            virtual_sim(exchange, step_interval_s=0.02) as sim,
            virtual_engine(config, sim, store, clock, series=HOURLY, reconcile_every_s=30.0) as engine,
        ):
            engine.core.listing_hooks.append(seen_markets.add)
            await engine.run(until_ns=START_NS + 14 * 60 * NS_PER_S)
            audit = compare_with_simulator(store, exchange, sim.user_id(), exchange.config.start_balance)
            return exchange, audit, sim.user_id()

    exchange, audit, user_id = run_virtual(trade())
    store.close()

    # It found the hourly markets through the API (both ladders) and traded them ...
    seen = seen_markets
    assert any(t.startswith("KXBTCD-") for t in seen) and any(t.startswith("KXBTC-") for t in seen)
    fills = exchange.accounts.fills.get(user_id, [])
    traded = {f.ticker for f in fills}
    assert traded and all(t.split("-")[0] in HOURLY for t in traded), traded
    # ... the 12:00 event closed and settled with our positions in it ...
    settled = exchange.accounts.settlements.get(user_id, [])
    assert settled, "no hourly market we traded settled during the run"
    # ... and the local record equals the simulator's, fill by fill and in cash.
    assert audit.matches, audit.mismatches
    assert audit.fills_local == len(fills) and audit.settlements_local == len(settled)
    print(f"hourly: {len(seen)} markets seen, {len(fills)} fills on {len(traded)}, {len(settled)} settled")
