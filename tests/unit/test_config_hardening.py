"""Configuration input that used to give tracebacks, hang or be silently ignored (issue 15)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kxbtc.config import load_config
from kxbtc.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"[risk]\ndaily_loss_pct = 5 # \xff\xfe\n", "not UTF-8"),
        (b"x = " + b"[" * 100_000 + b"]" * 100_000 + b"\n", "not valid TOML"),
        (b"[risk]\ndaily_loss_pct = " + b"9" * 5000 + b"\n", "not valid TOML"),
        (b"[risk]\ndaily_loss_pct = " + b"9" * 400 + b"\n", "risk.daily_loss_pct"),
    ],
)
def test_hostile_files_are_one_line_config_errors(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=message):
        load_config(path, environ={})


def test_non_regular_and_huge_files_are_refused_without_waiting(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match="not a regular file"):
        load_config(fifo, environ={})
    with pytest.raises(ConfigError, match="not a regular file"):
        load_config(Path("/dev/zero"), environ={})
    big = tmp_path / "big.toml"
    big.write_bytes(b"# " + b"x" * (2 << 20) + b"\n")
    with pytest.raises(ConfigError, match="larger than"):
        load_config(big, environ={})


@pytest.mark.parametrize(
    ("name", "closest"),
    [
        ("KXBTC_RISK_DAILY_LOSS_PCT", "KXBTC_RISK__DAILY_LOSS_PCT"),
        ("KXBTC_RISK", "KXBTC_RISK__"),
        ("KXBTC_STRATEGIES_FAIR_VALUE_MIN_EDGE", "KXBTC_STRATEGIES__FAIR_VALUE__MIN_EDGE"),
        ("KXBTC_ENGINE__", "KXBTC_ENGINE__"),
    ],
)
def test_mistyped_environment_variables_name_the_closest_valid_one(name: str, closest: str) -> None:
    with pytest.raises(ConfigError, match=f"{name} names no configuration key; did you mean {closest}"):
        load_config(environ={name: "5"})


def test_a_mistyped_key_after_the_separator_is_named_by_validation() -> None:
    with pytest.raises(ConfigError, match=r"risk\.daily_los_pct"):
        load_config(environ={"KXBTC_RISK__DAILY_LOS_PCT": "5"})


def test_other_kxbtc_variables_and_valid_ones_are_accepted() -> None:
    env = {
        "KXBTC_TEST_LLM_KEY": "sk-x",  # an API key an llm provider's api_key_env may name
        "KXBTC_RISK__DAILY_LOSS_PCT": "4",
        "KXBTC_STRATEGIES__FAIR_VALUE__ENABLED": "False",
        "KXBTC_LLM__ROLES__LEAD__WEIGHT": "0.5",
    }
    cfg = load_config(environ=env)
    assert cfg.risk.daily_loss_pct == 4.0
    assert cfg.strategies["fair_value"].enabled is False
    assert cfg.llm.roles["lead"].weight == 0.5


def test_booleans_are_strict_in_files_and_environment(tmp_path: Path) -> None:
    path = tmp_path / "yes.toml"
    path.write_text('[strategies.fair_value]\nenabled = "yes"\n')
    with pytest.raises(ConfigError, match=r"strategies\.fair_value\.enabled.*true or false"):
        load_config(path, environ={})
    path.write_text("[llm]\nenabled = 1\n")
    with pytest.raises(ConfigError, match=r"llm\.enabled.*true or false"):
        load_config(path, environ={})
    with pytest.raises(ConfigError, match="true or false"):
        load_config(environ={"KXBTC_POLYMARKET__ENABLED": "yes"})


def test_cli_prints_one_line_and_exits_2_on_a_hostile_config(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_bytes(b"\xff\xfe")
    result = subprocess.run(
        [sys.executable, "-m", "kxbtc", "config", "check", "--config", str(path)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO / "src")},
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and "not UTF-8" in result.stderr
