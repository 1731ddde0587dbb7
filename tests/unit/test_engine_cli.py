"""Bad input to the engine commands: one clear line on stderr and exit code 2, before anything starts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from kxbtc.cli import EXIT_OK, EXIT_USAGE, cli
from kxbtc.config import Config
from kxbtc.engine.cli import cross_venue_refusal


@pytest.fixture(autouse=True)
def _no_kxbtc_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # A developer's own KXBTC_* settings must not change what these commands see.
    for name in list(os.environ):
        if name.startswith("KXBTC_"):
            monkeypatch.delenv(name)


def _invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


@pytest.fixture
def negative_limit(tmp_path: Path) -> Path:
    path = tmp_path / "bad.toml"
    path.write_text("[risk]\ndaily_loss_pct = -5\n")
    return path


@pytest.fixture
def unknown_strategy(tmp_path: Path) -> Path:
    path = tmp_path / "bad.toml"
    path.write_text("[strategies.moonshot]\nenabled = true\n")
    return path


@pytest.mark.parametrize("command", [["config", "check"], ["run", "--env", "demo"]])
def test_negative_limit_is_refused_at_start(command: list[str], negative_limit: Path) -> None:
    result = _invoke(*command, "--config", str(negative_limit))
    assert result.exit_code == EXIT_USAGE
    assert "risk.daily_loss_pct" in result.stderr
    assert "greater than 0" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize("command", [["config", "check"], ["run", "--env", "demo"]])
def test_unknown_strategy_is_refused_at_start(command: list[str], unknown_strategy: Path) -> None:
    result = _invoke(*command, "--config", str(unknown_strategy))
    assert result.exit_code == EXIT_USAGE
    assert "unknown strategy moonshot" in result.stderr
    assert "fair_value" in result.stderr  # the message lists what is known
    assert "Traceback" not in result.output


def test_missing_config_file_is_refused(tmp_path: Path) -> None:
    result = _invoke("config", "check", "--config", str(tmp_path / "nowhere.toml"))
    assert result.exit_code == EXIT_USAGE
    assert "config file not found" in result.stderr


def test_missing_key_file_is_refused_before_any_connection(tmp_path: Path) -> None:
    missing = tmp_path / "missing.pem"
    db = tmp_path / "kxbtc.db"
    result = _invoke("run", "--env", "demo", "--key-id", "X", "--key-file", str(missing), "--db", str(db))
    assert result.exit_code == EXIT_USAGE
    assert f"key file {missing} does not exist" in result.stderr
    assert not db.exists()  # it stopped before opening the store


def test_missing_key_id_is_refused(tmp_path: Path) -> None:
    result = _invoke("run", "--env", "demo", "--key-file", str(tmp_path / "k.pem"))
    assert result.exit_code == EXIT_USAGE
    assert "no API key id" in result.stderr


def test_prod_without_real_money_flag_is_refused(tmp_path: Path) -> None:
    result = _invoke("run", "--env", "prod", "--key-id", "X", "--key-file", str(tmp_path / "k.pem"))
    assert result.exit_code == EXIT_USAGE
    assert "--yes-real-money" in result.stderr


def test_sim_without_urls_is_refused() -> None:
    result = _invoke("run", "--env", "sim")
    assert result.exit_code == EXIT_USAGE
    assert "--rest-url" in result.stderr


def test_good_config_passes_the_check(tmp_path: Path) -> None:
    path = tmp_path / "good.toml"
    path.write_text('[risk]\ndaily_loss_pct = 3\n[strategies.fair_value]\nmin_edge = "0.03"\n')
    result = _invoke("config", "check", "--config", str(path))
    assert result.exit_code == EXIT_OK, result.output
    assert "daily_loss_pct=3.0" in result.stdout


def test_the_installed_command_exits_2_on_a_bad_config(negative_limit: Path) -> None:
    # The real process, not the in-process runner: the shell sees exit status 2 and no traceback.
    env = {k: v for k, v in os.environ.items() if not k.startswith("KXBTC_")}
    proc = subprocess.run(
        [sys.executable, "-m", "kxbtc", "run", "--env", "demo", "--config", str(negative_limit)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == EXIT_USAGE
    assert "risk.daily_loss_pct" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_prod_refuses_a_cross_venue_pair_hedged_on_paper(tmp_path: Path) -> None:
    path = tmp_path / "xv.toml"
    path.write_text("[polymarket]\nenabled = true\n[strategies.cross_venue]\nenabled = true\n")
    result = _invoke(
        "run", "--env", "prod", "--yes-real-money", "--config", str(path), "--key-id", "X",
        "--key-file", str(tmp_path / "k.pem"), "--db", str(tmp_path / "kxbtc.db"),
    )  # fmt: skip
    assert result.exit_code == EXIT_USAGE
    assert "strategies.cross_venue" in result.stderr and "paper" in result.stderr
    assert not (tmp_path / "kxbtc.db").exists()


def test_prod_allows_the_pair_only_with_live_polymarket_legs_and_a_key() -> None:
    base = {"polymarket": {"enabled": True}, "strategies": {"cross_venue": {"enabled": True}}}
    paper = Config.model_validate(base)
    live = Config.model_validate({**base, "polymarket": {"enabled": True, "venue": "live"}})
    assert cross_venue_refusal(paper, "demo", {}) is None  # only prod trades real money on both legs
    assert "paper" in (cross_venue_refusal(paper, "prod", {}) or "")
    assert "KXBTC_POLY_PRIVATE_KEY" in (cross_venue_refusal(live, "prod", {}) or "")
    assert cross_venue_refusal(live, "prod", {"KXBTC_POLY_PRIVATE_KEY": "0x" + "11" * 32}) is None


def test_resting_orders_at_start_are_cancelled_unless_configured_to_be_adopted(tmp_path: Path) -> None:
    path = tmp_path / "adopt.toml"
    path.write_text('[engine]\non_start_resting = "adopt"\n')
    result = _invoke("config", "check", "--config", str(path))
    assert result.exit_code == EXIT_OK and "on_start_resting=adopt" in result.stdout
    path.write_text('[engine]\non_start_resting = "keep"\n')
    result = _invoke("config", "check", "--config", str(path))
    assert result.exit_code == EXIT_USAGE and "engine.on_start_resting" in result.stderr
