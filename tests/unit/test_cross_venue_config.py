"""Turning the cross-venue strategy on: it needs Polymarket enabled, and says so at start (exit code 2)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from kxbtc.cli import EXIT_OK, EXIT_USAGE, cli
from kxbtc.config import load_config
from kxbtc.errors import ConfigError
from kxbtc.strategy import build_strategies


@pytest.fixture(autouse=True)
def _no_kxbtc_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("KXBTC_"):
            monkeypatch.delenv(name)


@pytest.fixture
def cross_venue_only(tmp_path: Path) -> Path:
    path = tmp_path / "kxbtc.toml"
    path.write_text("[strategies.cross_venue]\nenabled = true\n")
    return path


def test_cross_venue_without_polymarket_is_a_config_error_naming_both_keys(cross_venue_only: Path) -> None:
    with pytest.raises(ConfigError, match=r"strategies\.cross_venue is enabled but polymarket\.enabled"):
        load_config(cross_venue_only, environ={})


@pytest.mark.parametrize("command", [["config", "check"], ["run", "--env", "demo"]])
def test_cross_venue_without_polymarket_is_refused_at_start(
    command: list[str], cross_venue_only: Path
) -> None:
    result = CliRunner().invoke(cli, [*command, "--config", str(cross_venue_only)])
    assert result.exit_code == EXIT_USAGE
    assert "strategies.cross_venue" in result.stderr and "polymarket.enabled" in result.stderr
    assert "Traceback" not in result.output


def test_cross_venue_with_polymarket_is_accepted(cross_venue_only: Path) -> None:
    cfg = load_config(cross_venue_only, environ={"KXBTC_POLYMARKET__ENABLED": "true"})
    assert cfg.strategies["cross_venue"].enabled and cfg.polymarket.enabled
    # The engine builds it through its cross-venue desk, not as a per-market strategy.
    assert build_strategies(cfg.strategies) == []
    result = CliRunner().invoke(
        cli, ["config", "check", "--config", str(cross_venue_only)], env={"KXBTC_POLYMARKET__ENABLED": "true"}
    )
    assert result.exit_code == EXIT_OK, result.output


def test_a_disabled_cross_venue_entry_needs_nothing(tmp_path: Path) -> None:
    path = tmp_path / "kxbtc.toml"
    path.write_text("[strategies.cross_venue]\nenabled = false\n")
    assert not load_config(path, environ={}).polymarket.enabled
