"""Configuration: one TOML file plus ``KXBTC_<SECTION>__<KEY>`` environment variables, validated at start.

Validation is pydantic's: every error names the offending key (``risk.daily_loss_pct``) and the allowed
range. ``load_config`` raises ``ConfigError`` with all problems listed, so ``kxbtc`` can exit with code 2.
"""

from __future__ import annotations

import os
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from kxbtc.errors import ConfigError
from kxbtc.units import COUNT_SCALE, MONEY_SCALE, PRICE_SCALE, Count, Money, Price

#: Strategies the engine knows; a config naming anything else is rejected at start.
KNOWN_STRATEGIES = ("fair_value", "imbalance", "book_glitch", "settlement_window")

ENV_PREFIX = "KXBTC_"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RiskConfig(_Section):
    daily_loss_pct: float = Field(
        5.0, gt=0, le=100, description="halt after losing this % of start-of-day equity"
    )
    max_drawdown_pct: float = Field(10.0, gt=0, le=100, description="halt after this % fall from peak equity")
    per_strike_pct: float = Field(20.0, gt=0, le=100, description="max % of equity at risk on one strike")
    final_freeze_s: float = Field(60.0, ge=0, le=3600, description="no new positions this close to close")
    accountability_usd: Decimal = Field(
        Decimal(25_000), gt=0, decimal_places=2, description="Kalshi per-strike position accountability"
    )
    max_order_contracts: Decimal = Field(
        Decimal(500), gt=0, decimal_places=2, description="largest single order, in contracts"
    )
    stale_data_s: float = Field(5.0, gt=0, le=600, description="halt a market whose data is older than this")
    max_clock_skew_ms: float = Field(2_000.0, gt=0, le=60_000)


class StrategyConfig(_Section):
    enabled: bool = True
    kelly_fraction: float = Field(0.75, gt=0, le=1)
    min_edge: Decimal = Field(
        Decimal("0.02"),
        ge=0,
        le=1,
        decimal_places=4,
        description="required edge over cost, in dollars per contract",
    )
    time_in_force: Literal["fill_or_kill", "immediate_or_cancel", "good_till_canceled"] = "fill_or_kill"
    imbalance_threshold: float = Field(0.7, gt=0.5, lt=1)
    imbalance_levels: int = Field(3, ge=1, le=50)
    max_contracts: Decimal = Field(Decimal(100), gt=0, decimal_places=2)


class KalshiConfig(_Section):
    env: Literal["sim", "demo", "prod"] = "sim"
    key_id: str = ""
    key_file: Path | None = None
    rest_url: str = ""
    ws_url: str = ""


class ClockConfig(_Section):
    ntp_servers: tuple[str, ...] = ("time.cloudflare.com", "pool.ntp.org", "time.google.com")
    ntp_timeout_s: float = Field(2.0, gt=0, le=30)


class StoreConfig(_Section):
    path: Path = Path("kxbtc.db")


class Config(_Section):
    risk: RiskConfig = RiskConfig()
    strategies: dict[str, StrategyConfig] = Field(
        default_factory=lambda: {"fair_value": StrategyConfig(), "book_glitch": StrategyConfig()}
    )
    kalshi: KalshiConfig = KalshiConfig()
    clock: ClockConfig = ClockConfig()
    store: StoreConfig = StoreConfig()

    @field_validator("strategies")
    @classmethod
    def _known_strategies(cls, value: dict[str, StrategyConfig]) -> dict[str, StrategyConfig]:
        unknown = sorted(set(value) - set(KNOWN_STRATEGIES))
        if unknown:
            raise ValueError(f"unknown strategy {', '.join(unknown)}; known: {', '.join(KNOWN_STRATEGIES)}")
        return value


def to_money(value: Decimal) -> Money:
    return Money(int(value * MONEY_SCALE))


def to_count(value: Decimal) -> Count:
    return Count(int(value * COUNT_SCALE))


def to_price(value: Decimal) -> Price:
    return Price(int(value * PRICE_SCALE))


def _env_overrides(environ: dict[str, str]) -> dict[str, Any]:
    """``KXBTC_RISK__DAILY_LOSS_PCT=4`` -> ``{"risk": {"daily_loss_pct": "4"}}``."""
    tree: dict[str, Any] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        path = name[len(ENV_PREFIX) :].lower().split("__")
        node = tree
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return tree


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _format_errors(source: str, exc: ValidationError) -> str:
    lines = [f"invalid configuration ({source}):"]
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"])
        lines.append(f"  {key}: {err['msg']}")
    return "\n".join(lines)


def load_config(path: Path | None = None, environ: dict[str, str] | None = None) -> Config:
    data: dict[str, Any] = {}
    source = "defaults"
    if path is not None:
        source = str(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{path}: config file not found") from None
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read config file ({exc.strerror})") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    data = _merge(data, _env_overrides(dict(os.environ if environ is None else environ)))
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_errors(source, exc)) from None
