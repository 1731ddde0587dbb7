from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from kxbtc.config import load_config, to_money
from kxbtc.errors import ConfigError


def test_defaults_match_the_brief() -> None:
    cfg = load_config(environ={})
    assert cfg.risk.daily_loss_pct == 5.0
    assert cfg.risk.max_drawdown_pct == 10.0
    assert cfg.risk.per_strike_pct == 20.0
    assert cfg.risk.final_freeze_s == 60.0
    assert to_money(cfg.risk.accountability_usd) == 25_000_000_000


def test_file_and_environment_merge(tmp_path: Path) -> None:
    path = tmp_path / "kxbtc.toml"
    path.write_text('[risk]\ndaily_loss_pct = 3\n[strategies.fair_value]\nmin_edge = "0.03"\n')
    cfg = load_config(path, environ={"KXBTC_RISK__MAX_DRAWDOWN_PCT": "8"})
    assert cfg.risk.daily_loss_pct == 3.0
    assert cfg.risk.max_drawdown_pct == 8.0
    assert cfg.strategies["fair_value"].min_edge == Decimal("0.03")


def test_negative_limit_names_the_key(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[risk]\ndaily_loss_pct = -5\n")
    with pytest.raises(ConfigError, match=r"risk\.daily_loss_pct: Input should be greater than 0"):
        load_config(path, environ={})


def test_unknown_strategy_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[strategies.moonshot]\nenabled = true\n")
    with pytest.raises(ConfigError, match="unknown strategy moonshot"):
        load_config(path, environ={})


def test_unknown_key_and_bad_toml(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[risk]\ndaily_los_pct = 5\n")
    with pytest.raises(ConfigError, match=r"risk\.daily_los_pct"):
        load_config(path, environ={})
    path.write_text("[risk\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(path, environ={})
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.toml", environ={})
