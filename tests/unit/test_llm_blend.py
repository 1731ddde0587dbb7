"""The ensemble's arithmetic, its roles and its configuration, without a network."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from kxbtc.cli import cli
from kxbtc.clock import NS_PER_S, ManualClock
from kxbtc.config import LLM_ROLES, LlmConfig, LlmPrice, load_config
from kxbtc.errors import ConfigError
from kxbtc.llm.ensemble import Ensemble, RoleResult, blend, call_cost
from kxbtc.llm.providers import ChatProvider, Completion, Secret
from kxbtc.llm.roles import build_roles, user_message
from kxbtc.llm.schemas import Forecast, ForecastRequest, parse_forecast
from kxbtc.llm.service import PriorService, forecast_request, pick_markets
from kxbtc.store.connection import StoreError
from kxbtc.strategy.base import ContractView, OracleView
from kxbtc.units import Money


def result(p: float | None, weight: float, confidence: float = 1.0) -> RoleResult:
    forecast = None if p is None else Forecast(probability=p, confidence=confidence, rationale="r")
    return RoleResult("lead", "x", "m", weight, forecast, "" if forecast else "failed", 0, Money(0))


probability = st.floats(min_value=0.001, max_value=0.999)
weight = st.floats(min_value=0.01, max_value=10)


@given(st.lists(st.tuples(probability, weight), min_size=1, max_size=5))
def test_the_blend_lies_between_the_answers(pairs: list[tuple[float, float]]) -> None:
    b = blend([result(p, w) for p, w in pairs], sum(w for _, w in pairs), 0.5)
    assert b.probability is not None
    assert min(p for p, _ in pairs) - 1e-9 <= b.probability <= max(p for p, _ in pairs) + 1e-9
    assert 0 <= b.agreement <= 1 and 0 <= b.confidence <= 1


@given(
    st.lists(st.tuples(probability, weight), min_size=1, max_size=5), st.floats(min_value=0.1, max_value=100)
)
def test_only_relative_weights_matter(pairs: list[tuple[float, float]], scale: float) -> None:
    a = blend([result(p, w) for p, w in pairs], 1, 0)
    b = blend([result(p, w * scale) for p, w in pairs], 1, 0)
    assert a.probability == pytest.approx(b.probability, abs=1e-9)


def test_log_odds_not_linear_pooling() -> None:
    # Equal weights on 0.9 and 0.5: log-odds mean is sigmoid(ln(9) / 2) = 0.75, not the linear 0.7.
    b = blend([result(0.9, 1), result(0.5, 1)], 2, 0.5)
    assert b.probability == pytest.approx(0.75)
    assert b.spread == pytest.approx(0.2) and b.agreement == pytest.approx(0.6)


def test_certain_answers_stay_finite_and_unanimity_is_full_agreement() -> None:
    b = blend([result(1.0, 1), result(1.0, 2)], 3, 0.5)
    assert b.probability is not None and 0.999 < b.probability < 1
    assert b.agreement == 1 and b.confidence == 1


def test_failed_roles_renormalise_and_too_little_weight_gives_no_prior() -> None:
    roles = [result(0.8, 0.3), result(None, 0.2), result(0.4, 0.5)]
    b = blend(roles, 1.0, 0.5)
    expected = 1 / (1 + math.exp(-(0.3 * math.log(4) + 0.5 * math.log(2 / 3)) / 0.8))
    assert b.probability == pytest.approx(expected) and b.surviving_weight == pytest.approx(0.8)
    assert blend(roles, 1.0, 0.81).probability is None
    assert blend([result(None, 1)], 1.0, 0).probability is None


def test_confidence_scales_with_the_answering_share() -> None:
    b = blend([result(0.6, 0.5, confidence=0.8), result(None, 0.5)], 1.0, 0.5)
    assert b.confidence == pytest.approx(0.8 * 0.5)


def test_cost_is_exact_micro_dollars() -> None:
    price = LlmPrice(input_usd_per_mtok=Decimal("3"), output_usd_per_mtok=Decimal("15"))
    assert call_cost(price, 1_234, 567) == 3 * 1_234 + 15 * 567
    assert call_cost(LlmPrice(input_usd_per_mtok=Decimal("0.28"), output_usd_per_mtok=Decimal(0)), 3, 0) == 1
    assert call_cost(None, 10**6, 10**6) == 0


def test_every_role_prompt_demands_the_json_contract() -> None:
    roles = build_roles(LlmConfig())
    assert [r.name for r in roles] == list(LLM_ROLES)
    assert len({r.system_prompt for r in roles}) == 5
    for role in roles:
        for key in ("probability", "confidence", "rationale", "key_drivers", "JSON"):
            assert key in role.system_prompt


def test_disabled_and_zero_weight_roles_are_not_asked() -> None:
    cfg = LlmConfig.model_validate({"roles": {"bull": {"enabled": False}, "bear": {"weight": 0}}})
    assert [r.name for r in build_roles(cfg)] == ["lead", "news", "risk"]


def test_defaults_follow_the_brief_and_are_off() -> None:
    cfg = LlmConfig()
    assert not cfg.enabled
    weights = {name: role.weight for name, role in cfg.roles.items()}
    assert weights == {"lead": 0.30, "news": 0.20, "bull": 0.175, "bear": 0.175, "risk": 0.15}
    assert {name: cfg.providers[role.provider].kind for name, role in cfg.roles.items()}[
        "news"
    ] == "anthropic"
    assert 0 < cfg.blend_weight <= 0.2 and cfg.min_weight == 0.5


def test_a_partial_override_keeps_the_other_defaults(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        '[llm.roles.lead]\nmodel = "grok-next"\n[llm.providers.local]\nkind = "openai"\nbase_url = "http://127.0.0.1:8080/v1"\n'
    )
    cfg = load_config(path, environ={"KXBTC_LLM__ROLES__RISK__WEIGHT": "0.5"}).llm
    assert cfg.roles["lead"].model == "grok-next" and cfg.roles["lead"].provider == "xai"
    assert cfg.roles["risk"].weight == 0.5 and cfg.roles["news"].weight == 0.2
    assert cfg.providers["local"].api_key_env == "" and "openai" in cfg.providers


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ("[llm.roles.lead]\nweight = -0.1\n", "llm.roles.lead.weight"),
        ("[llm.roles.oracle]\nprovider = 'xai'\nmodel = 'm'\nweight = 1\n", "unknown role oracle"),
        ("[llm.roles.news]\nprovider = 'nowhere'\n", "roles.news.provider"),
        (
            "".join(f"[llm.roles.{r}]\nweight = 0\n" for r in LLM_ROLES),
            "llm.roles: Value error, the enabled roles' weights must sum to more than 0",
        ),
        ("[llm]\nblend_weight = 1.5\n", "llm.blend_weight"),
        ("[llm]\nmax_age_s = 0\n", "llm.max_age_s"),
        ("[llm.providers.openai]\napi_key_env = 'sk-live-abc123'\n", "llm.providers.openai.api_key_env"),
        ("[llm.providers.openai]\ntimeout_s = -1\n", "llm.providers.openai.timeout_s"),
        (
            "[llm.prices.m]\ninput_usd_per_mtok = -1\noutput_usd_per_mtok = 1\n",
            "llm.prices.m.input_usd_per_mtok",
        ),
    ],
)
def test_bad_values_fail_config_check_naming_the_key(tmp_path: Path, toml: str, key: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError, match="invalid configuration"):
        load_config(path, environ={})
    outcome = CliRunner().invoke(cli, ["config", "check", "--config", str(path)])
    assert outcome.exit_code == 2
    assert key in outcome.output
    assert "sk-live-abc123" not in outcome.output  # a key pasted in by mistake is not echoed


def contract(
    strike_type: str = "greater", floor: float | None = 100_000.0, cap: float | None = None
) -> ContractView:
    close = 1_767_225_600 * NS_PER_S
    return ContractView(
        "KXBTC-T", "KXBTC-E", "KXBTC", strike_type, floor, cap, close - 3600 * NS_PER_S, close
    )


def test_forecast_request_from_the_engines_views() -> None:
    view = contract()
    now = view.close_ns - 900 * NS_PER_S
    oracle = OracleView(spot=100_250.0, dollar_vol=10.0, ts_ns=now)
    request = forecast_request(view, oracle, now, book_mid=0.55)
    assert request is not None
    assert request.seconds_to_close == 900 and request.strike == 100_000 and request.book_mid == 0.55
    assert request.close_time == datetime(2026, 1, 1, tzinfo=UTC)
    assert request.model_probability is not None and 0.5 < request.model_probability < 1
    assert request.realized_vol == pytest.approx(10.0 / 100_250 * math.sqrt(365 * 86_400))
    assert forecast_request(view, OracleView(None, None, now), now) is None
    assert forecast_request(view, oracle, view.close_ns) is None
    assert forecast_request(contract("weird"), oracle, now) is None
    below = forecast_request(contract("less", None, 99_000.0), oracle, now)
    assert below is not None and below.strike == 99_000.0
    assert '"ticker": "KXBTC-T"' in user_message(request)


def test_the_markets_nearest_even_odds_are_forecast_first() -> None:
    def req(ticker: str, p: float | None, seconds: float) -> ForecastRequest:
        close = datetime(2026, 1, 1, tzinfo=UTC)
        return ForecastRequest(
            ticker=ticker, strike=1, close_time=close, seconds_to_close=seconds, spot=1, model_probability=p
        )

    chosen = pick_markets(
        [req("a", 0.95, 100), req("b", 0.52, 900), req("c", None, 50), req("d", 0.45, 60), req("e", 0.5, 0)],
        2,
    )
    assert [r.ticker for r in chosen] == ["b", "d"]
    assert parse_forecast('{"probability": 0.5, "confidence": 0.5, "rationale": "r"}').key_drivers == ()


class CannedProvider(ChatProvider):
    """A provider that answers every role with the same forecast, without a network."""

    def __init__(self, config: LlmConfig) -> None:
        super().__init__("canned", config.providers["openai"], ManualClock(), Secret("k"))

    async def _send(self, model: str, system: str, user: str, max_output_tokens: int) -> Completion:
        return Completion('{"probability": 0.7, "confidence": 1, "rationale": "r"}', 10, 5)

    async def aclose(self) -> None:
        return None


async def test_a_store_failure_stops_the_service_with_its_own_error() -> None:
    config = LlmConfig()
    providers = {name: CannedProvider(config) for name in config.providers}

    def broken_store(*args: object, **kwargs: object) -> None:
        raise StoreError("kxbtc.db: the disk is full")

    clock = ManualClock()
    ensemble = Ensemble(config, providers, clock, broken_store)
    request = ForecastRequest(
        ticker="T", strike=1, close_time=datetime(2026, 1, 1, tzinfo=UTC), seconds_to_close=60, spot=1
    )
    service = PriorService(clock, ensemble, 60, requests=lambda: [request], max_age_s=60, blend_weight=0.1)
    with pytest.raises(StoreError, match="disk is full"):
        await service.run()
    assert service.priors() == {}

    working = PriorService(
        clock,
        Ensemble(config, providers, clock),
        60,
        requests=lambda: [request],
        max_age_s=60,
        blend_weight=0.1,
    )
    await working.refresh()
    assert working.priors() == {"T": (pytest.approx(0.7), pytest.approx(0.1))}
