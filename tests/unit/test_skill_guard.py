"""The live skill guard: a strategy whose settled results fall clearly below its backtested edge is
paused, with a risk event, within a stated number of settled markets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from shared_format_builder import write_markets

from kxbtc.cli import cli
from kxbtc.config import Config, RiskConfig, StrategyConfig
from kxbtc.core.skill_guard import GuardSettings, SkillGuard
from kxbtc.recordings.shared_folder import SharedRecording
from kxbtc.replay.runner import ReplayRunner, ReplaySettings
from kxbtc.store.db import SqliteStore

WINNING, LOSING = 6, 12  # the edge holds for 6 markets, then is gone


def test_a_strategy_whose_edge_disappears_is_paused_within_eight_settled_markets(tmp_path: Path) -> None:
    folder = write_markets(tmp_path / "rec", ["yes"] * WINNING + ["no"] * LOSING)
    config = Config(
        risk=RiskConfig(daily_loss_pct=100, max_drawdown_pct=100),
        strategies={"fair_value": StrategyConfig(expected_edge_per_contract=0.30, max_contracts=10)},
    )
    store = SqliteStore(tmp_path / "replay.db")
    runner = ReplayRunner(config, SharedRecording.open(folder), ReplaySettings(latency_ms=50), store)
    runner.run()
    store.flush()
    record = runner.core.skill.records["fair_value"]
    events = [e for e in store.risk_events() if e.kind == "skill_guard"]
    store.close()

    assert record.paused and len(events) == 1
    assert "fair_value paused" in events[0].detail
    assert record.observations[:WINNING] == [pytest.approx(0.5327, abs=1e-4)] * WINNING
    assert 1 <= record.paused_after - WINNING <= 8  # the stated bound: 8 markets losing $0.467 a contract
    # Once paused it opens nothing more: only the market already bought when the pause came (the next
    # one opens before the previous settles) is traded after it.
    assert record.markets <= record.paused_after + 1 < WINNING + LOSING
    assert runner.core.stats.rejected["skill_guard"] > 0
    # `kxbtc status` shows the paused strategy and why.
    status = CliRunner().invoke(cli, ["status", "--db", str(tmp_path / "replay.db"), "--json"])
    assert status.exit_code == 0, status.output
    paused = json.loads(status.stdout)["paused_strategies"]
    assert list(paused) == ["fair_value"] and "expected +0.300" in paused["fair_value"]


def test_the_cusum_stays_quiet_while_results_match_the_expectation() -> None:
    guard = SkillGuard({"s": 0.05}, GuardSettings())
    # Alternating wins and losses averaging +$0.05 a contract: never paused.
    for i in range(200):
        ticker = f"M{i}"
        guard.on_fill("s", ticker, "bid", 4500, 1000, 0)
        assert guard.on_settled(ticker, "yes" if i % 20 < 10 else "no") == []
    assert not guard.paused("s")


@pytest.mark.parametrize(("loss", "bound"), [(0.45, 12), (0.25, 23)])
def test_the_stated_detection_delay(loss: float, bound: int) -> None:
    guard = SkillGuard({"s": 0.05}, GuardSettings())
    price = round((1 - 0) * 10_000 * loss)  # buy YES at `loss`, it settles NO: -loss a contract
    for i in range(1, 100):
        guard.on_fill("s", f"M{i}", "bid", price, 100, 0)
        if guard.on_settled(f"M{i}", "no"):
            break
    assert guard.paused("s") and guard.records["s"].markets <= bound
