"""Parity of the live path and the backtest path: one engine run against the simulator over REST and
WebSocket on loopback, journaled (every input its trading core was given), then replayed through the
backtest with the same fills: the same orders come out, with the same ids, at the same sizes and prices.

The live run keeps its books in the WebSocket client (``KalshiWsClient``); the replay rebuilds them from
the journaled frames with the stream state machine (``KalshiStream``) and ``BookSet``. Both run the one
``TradingCore``. The run is on virtual time (``kxbtc.virtual_loop``), so it is the same on any machine.
"""

from __future__ import annotations

from pathlib import Path

from engine_harness import on_virtual_time, virtual_sim

from kxbtc.clock import NS_PER_S, LoopClock
from kxbtc.config import Config, RiskConfig, StrategyConfig
from kxbtc.engine.core import Engine
from kxbtc.engine.journal import EngineJournal
from kxbtc.kalshi.rest import KalshiRestClient
from kxbtc.kalshi.ws import KalshiWsClient
from kxbtc.replay.journal_replay import JournalReplay
from kxbtc.sim.exchange import Exchange, SimConfig
from kxbtc.store.db import SqliteStore

MIDDAY_NS = 1_780_315_200 * NS_PER_S  # 2026-06-01 12:00:00 UTC, a quarter-hour boundary
RUN_ID = "parity-run"
CONFIG = Config(
    risk=RiskConfig(daily_loss_pct=50.0, max_drawdown_pct=50.0),
    strategies={"fair_value": StrategyConfig(time_in_force="fill_or_kill")},
)
Order = tuple[str, str, str, int, int]


@on_virtual_time
async def _live_run(tmp_path: Path, result: dict[str, object]) -> None:
    clock = LoopClock(MIDDAY_NS + 60 * NS_PER_S)
    exchange = Exchange(clock, seed=3, config=SimConfig(series=("KXBTC15M",), mispricing=0.06))
    journal = EngineJournal(tmp_path / "journal.jsonl", clock)
    store = SqliteStore(tmp_path / "live.db")
    async with virtual_sim(exchange, step_interval_s=0.02) as sim:
        signer = sim.signer()
        async with KalshiRestClient(sim.rest_url, signer, clock) as rest:
            ws = KalshiWsClient(sim.ws_url, signer, clock)
            engine = Engine(
                CONFIG,
                rest=rest,
                ws=ws,
                store=store,
                clock=clock,
                run_id=RUN_ID,
                simulated=True,
                journal=journal,
                reconcile_every_s=60.0,
                refresh_every_s=15.0,
            )
            journal.start(("KXBTC15M",), RUN_ID, use_yes_price=ws.use_yes_price)
            await engine.run(until_ns=MIDDAY_NS + 10 * 60 * NS_PER_S)
    journal.close()
    store.flush()
    orders = sorted(store.orders(), key=lambda o: (o.created_ns, o.client_order_id))
    result["orders"] = [(o.client_order_id, o.ticker, o.side, o.price, o.count) for o in orders]
    result["fills"] = len(store.fills())
    result["start_cash"] = exchange.config.start_balance
    store.close()


def test_the_backtest_replay_of_a_live_run_gives_the_same_orders(tmp_path: Path) -> None:
    live: dict[str, object] = {}
    _live_run(tmp_path, live)
    live_orders = live["orders"]
    assert isinstance(live_orders, list) and len(live_orders) >= 3, "the run must trade to compare anything"
    assert isinstance(live["fills"], int) and live["fills"] > 0

    store = SqliteStore(tmp_path / "replay.db")
    start_cash = live["start_cash"]
    assert isinstance(start_cash, int)
    placed = JournalReplay(CONFIG, tmp_path / "journal.jsonl", store, start_cash=start_cash).run()
    store.close()
    replayed: list[Order] = [
        (o.client_order_id, o.order.intent.ticker, o.order.intent.side, o.order.intent.price, o.order.count)
        for o in placed
    ]
    # Compared as sets of whole orders: two orders of one evaluation share an instant, so the live list's
    # order within an instant is the database's, not the sending order. The ids still pin the sequence:
    # each is derived from (run, strategy, market, sequence number).
    assert sorted(replayed) == sorted(live_orders)


def test_a_journal_is_a_recording_the_replay_and_the_scoring_read(tmp_path: Path) -> None:
    """An observe-only `kxbtc run` keeps a journal: it must replay and score like any recording."""
    import json

    from click.testing import CliRunner

    from kxbtc.cli import cli

    live: dict[str, object] = {}
    _live_run(tmp_path, live)
    journal = str(tmp_path / "journal.jsonl")
    replayed = CliRunner().invoke(cli, ["backtest", "--replay", journal, "--index", "kalshi", "--json"])
    assert replayed.exit_code == 0, replayed.output
    assert json.loads(replayed.stdout)["counts"]["frames"] > 0
    scored = CliRunner().invoke(cli, ["score", journal, "--json", "--resamples", "10"])
    assert scored.exit_code == 0, scored.output
    assert "n" in json.loads(scored.stdout)
