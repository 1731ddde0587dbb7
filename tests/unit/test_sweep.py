"""``kxbtc sweep``: cells in parallel processes, one table with in-sample beside out-of-sample."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from shared_format_builder import FIRST_OPEN, write_markets

from kxbtc.cli import EXIT_OK, cli
from kxbtc.config import Config, RiskConfig
from kxbtc.replay.sweep import cells, sweep, table

SPLIT_NS = FIRST_OPEN + 4 * 900 * 1_000_000_000  # after the 4th market opens


def test_in_sample_and_out_of_sample_columns_come_from_their_own_markets(tmp_path: Path) -> None:
    # The model is sure of YES throughout: four wins before the split, four losses after it.
    folder = write_markets(tmp_path / "rec", ["yes"] * 4 + ["no"] * 4)
    config = Config(risk=RiskConfig(daily_loss_pct=100, max_drawdown_pct=100))
    rows = sweep(config, [folder], cells(["fair_value"], [50.0], SPLIT_NS, "auto"), jobs=2)
    [row] = table(rows)
    assert row["strategy"] == "fair_value" and row["latency_ms"] == 50.0
    assert row["is_markets"] == 4 and row["oos_markets"] == 4
    assert row["is_net_pnl"] > 0 > row["oos_net_pnl"]  # each column saw only its own part
    # Parallel or not, the same figures.
    assert table(sweep(config, [folder], cells(["fair_value"], [50.0], SPLIT_NS, "auto"), jobs=1)) == [row]


def test_the_command_prints_the_table_as_json(tmp_path: Path) -> None:
    folder = write_markets(tmp_path / "rec", ["yes", "no"])
    split = datetime.fromtimestamp((FIRST_OPEN + 900 * 1_000_000_000) / 1e9, UTC).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    args = ["sweep", str(folder), "--strategy", "fair_value", "--latency-ms", "0", "--split", split]
    result = CliRunner().invoke(cli, [*args, "--jobs", "1", "--json"])
    assert result.exit_code == EXIT_OK, result.output
    [row] = json.loads(result.stdout)
    assert {"is_net_pnl", "oos_net_pnl", "oos_net_pnl_interval_95", "oos_net_per_contract"} <= set(row)


def test_on_a_ray_cluster_the_table_is_the_same(tmp_path: Path) -> None:
    """Ray is an optional extra (`pip install 'kxbtc[ray]'`): skipped where it is not installed."""
    pytest.importorskip("ray")
    folder = write_markets(tmp_path / "rec", ["yes"] * 2 + ["no"] * 2)
    config = Config(risk=RiskConfig(daily_loss_pct=100, max_drawdown_pct=100))
    todo = cells(["fair_value"], [50.0], FIRST_OPEN + 2 * 900 * 1_000_000_000, "auto")
    local = table(sweep(config, [folder], todo, jobs=1))
    assert table(sweep(config, [folder], todo, ray_address="local")) == local
