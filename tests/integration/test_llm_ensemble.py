"""The LLM ensemble against a local stub speaking the OpenAI and Anthropic wire protocols."""

from __future__ import annotations

import asyncio
import logging
import math
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from llm_stub import LlmStub, Reply, forecast, forecast_text

from kxbtc.clock import Clock, ManualClock, SystemClock
from kxbtc.config import LlmConfig
from kxbtc.llm.ensemble import CallRecorder, Ensemble, EnsembleResult
from kxbtc.llm.providers import build_providers
from kxbtc.llm.schemas import ForecastRequest
from kxbtc.llm.service import PriorService
from kxbtc.store.db import SqliteStore

KEY_ENV = "KXBTC_TEST_LLM_KEY"
MODELS = {
    "lead": "lead-model",
    "news": "news-model",
    "bull": "bull-model",
    "bear": "bear-model",
    "risk": "risk-model",
}
WEIGHTS = {"lead": 0.30, "news": 0.20, "bull": 0.175, "bear": 0.175, "risk": 0.15}
GOOD = {"lead": 0.70, "news": 0.60, "bull": 0.80, "bear": 0.40, "risk": 0.55}


def stub_config(stub: LlmStub, **overrides: Any) -> LlmConfig:
    """All five roles on the stub: news over the Anthropic protocol, the rest over OpenAI's."""
    common = {"api_key_env": KEY_ENV, "timeout_s": 5.0, "max_retries": 1, "retry_backoff_s": 0.0}
    providers = {
        "chat": {"kind": "openai", "base_url": stub.openai_url, **common},
        "claude": {"kind": "anthropic", "base_url": stub.base_url, **common},
    }
    roles = {
        name: {
            "provider": "claude" if name == "news" else "chat",
            "model": MODELS[name],
            "weight": WEIGHTS[name],
        }
        for name in MODELS
    }
    data: dict[str, Any] = {"enabled": True, "providers": providers, "roles": roles, "deadline_s": 30.0}
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            for name, entry in value.items():
                data[key][name] = {**data[key].get(name, {}), **entry}
        else:
            data[key] = value
    return LlmConfig.model_validate(data)


def market(
    ticker: str = "KXBTC-26JAN0100-T100000", model_probability: float | None = 0.62
) -> ForecastRequest:
    return ForecastRequest(
        ticker=ticker,
        strike=100_000.0,
        strike_type="greater",
        close_time=datetime(2026, 1, 1, 1, tzinfo=UTC),
        seconds_to_close=900.0,
        spot=100_250.0,
        model_probability=model_probability,
        realized_vol=0.45,
        book_mid=0.6,
    )


def hand_blend(pairs: list[tuple[float, float]]) -> float:
    """Weighted mean of log-odds, written out independently of the code under test."""
    total = sum(w for _, w in pairs)
    mean_logit = sum(w * math.log(p / (1 - p)) for p, w in pairs) / total
    return 1 / (1 + math.exp(-mean_logit))


def make_ensemble(
    stub: LlmStub, clock: Clock, record: CallRecorder | None = None, **overrides: Any
) -> Ensemble:
    config = stub_config(stub, **overrides)
    providers = build_providers(config, clock, {KEY_ENV: stub.key})
    return Ensemble(config, providers, clock, record) if record else Ensemble(config, providers, clock)


@pytest.fixture
async def stub() -> AsyncIterator[LlmStub]:
    server = LlmStub(key="sk-test-SECRET-0123456789")
    await server.start()
    yield server
    await server.stop()


def script_all_good(stub: LlmStub, *skip: str) -> None:
    for role, p in GOOD.items():
        if role not in skip:
            stub.script(MODELS[role], forecast(p))


async def forecast_once(ensemble: Ensemble, request: ForecastRequest | None = None) -> EnsembleResult:
    try:
        return await ensemble.forecast(request or market())
    finally:
        await ensemble.aclose()


async def test_blend_is_the_weighted_mean_of_log_odds(stub: LlmStub) -> None:
    script_all_good(stub)
    result = await forecast_once(make_ensemble(stub, SystemClock()))

    assert all(r.ok for r in result.roles), [r.error for r in result.roles]
    expected = hand_blend([(GOOD[r], WEIGHTS[r]) for r in MODELS])
    assert result.probability == pytest.approx(expected, abs=1e-12)
    assert result.probability == pytest.approx(0.6311208084112122, abs=1e-12)
    assert result.blend.surviving_weight == pytest.approx(1.0)
    mean = sum(GOOD[r] * WEIGHTS[r] for r in MODELS)
    spread = math.sqrt(sum(WEIGHTS[r] * (GOOD[r] - mean) ** 2 for r in MODELS))
    assert result.blend.spread == pytest.approx(spread)
    assert result.blend.agreement == pytest.approx(1 - 2 * spread)
    assert result.confidence == pytest.approx(0.8 * (1 - 2 * spread))
    # Both protocols were really used, with the key in each one's own header and a JSON-mode request.
    [news] = stub.calls(MODELS["news"])
    sent_key = news.headers.get("x-api-key") or news.headers.get("Authorization", "").removeprefix("Bearer ")
    assert news.protocol == "anthropic" and sent_key == stub.key
    assert news.headers["anthropic-version"]
    assert news.body["output_config"]["format"]["type"] == "json_schema"
    [lead] = stub.calls(MODELS["lead"])
    assert lead.protocol == "openai" and lead.headers["Authorization"] == f"Bearer {stub.key}"
    assert lead.body["response_format"]["type"] == "json_schema"
    assert "KXBTC-26JAN0100-T100000" in lead.body["messages"][1]["content"]


FAILURES = {
    "invalid_json": Reply(text='{"probability": 0.9, "confidence": 0.5, "rationale": "cut off'),
    "prose": Reply(text="I think the probability is about 0.9."),
    "out_of_range": Reply(text=forecast_text(1.7)),
    "extra_keys": Reply(text=forecast_text(0.9, sentiment="bullish")),
    "wrong_type": Reply(text='{"probability": "0.9", "confidence": 0.5, "rationale": "r"}'),
    "http_500": Reply(status=500),
    "http_400": Reply(status=400, text='{"error": {"message": "unknown parameter"}}'),
}


@pytest.mark.parametrize("failure", sorted(FAILURES))
@pytest.mark.parametrize("role", ["lead", "news"])  # one role on each protocol
async def test_a_failing_role_is_dropped_and_the_weights_renormalise(
    stub: LlmStub, failure: str, role: str
) -> None:
    script_all_good(stub, role)
    stub.script(MODELS[role], FAILURES[failure])
    result = await forecast_once(make_ensemble(stub, SystemClock()))

    failed = [r for r in result.roles if not r.ok]
    assert [r.role for r in failed] == [role]
    assert failed[0].error
    survivors = [(GOOD[r], WEIGHTS[r]) for r in MODELS if r != role]
    assert result.probability == pytest.approx(hand_blend(survivors), abs=1e-12)
    assert result.blend.surviving_weight == pytest.approx(1 - WEIGHTS[role])
    # Retries only on what may pass: a 500 is asked twice (max_retries=1), everything else once.
    assert len(stub.calls(MODELS[role])) == (2 if failure == "http_500" else 1)


async def test_a_500_then_an_answer_is_retried_and_counts(stub: LlmStub) -> None:
    script_all_good(stub, "bull")
    stub.script(MODELS["bull"], Reply(status=503), forecast(GOOD["bull"]))
    result = await forecast_once(make_ensemble(stub, SystemClock()))
    assert all(r.ok for r in result.roles)
    assert len(stub.calls(MODELS["bull"])) == 2


async def test_a_role_that_times_out_is_dropped(stub: LlmStub) -> None:
    script_all_good(stub, "bear")
    stub.script(MODELS["bear"], Reply(hang=True))
    ensemble = make_ensemble(stub, SystemClock(), providers={"chat": {"timeout_s": 0.3, "max_retries": 0}})
    result = await forecast_once(ensemble)
    [bear] = [r for r in result.roles if r.role == "bear"]
    assert not bear.ok and "LlmTimeoutError" in bear.error
    survivors = [(GOOD[r], WEIGHTS[r]) for r in MODELS if r != "bear"]
    assert result.probability == pytest.approx(hand_blend(survivors), abs=1e-12)


async def test_the_deadline_cancels_roles_still_running() -> None:
    stub = LlmStub()
    await stub.start()
    try:
        for model in MODELS.values():
            stub.script(model, Reply(hang=True))
        clock = ManualClock()
        rows: list[tuple[Any, ...]] = []
        ensemble = make_ensemble(stub, clock, lambda *a: rows.append(a), deadline_s=45.0)
        task = asyncio.create_task(forecast_once(ensemble))
        for _ in range(500):  # until every role's request is at the stub (bounded)
            if len(stub.received) == len(MODELS):
                break
            await asyncio.sleep(0.01)
        assert len(stub.received) == len(MODELS)
        clock.advance(45.0)
        result = await asyncio.wait_for(task, 10)
    finally:
        await stub.stop()
    assert result.probability is None
    assert all("deadline of 45 s passed" in r.error for r in result.roles)
    assert len(rows) == len(MODELS) and not any(row[6] for row in rows)


async def test_too_little_surviving_weight_gives_no_prior(stub: LlmStub) -> None:
    script_all_good(stub, "lead", "news", "bull")
    stub.script(MODELS["lead"], Reply(status=500))
    stub.script(MODELS["news"], Reply(text="not json"))
    stub.script(MODELS["bull"], Reply(text=forecast_text(-0.1)))
    # lead 0.3 + news 0.2 + bull 0.175 fail: 0.325 of the weight is left, under the 0.5 minimum.
    result = await forecast_once(make_ensemble(stub, SystemClock()))
    assert result.probability is None
    assert result.blend.surviving_weight == pytest.approx(0.325)


async def test_every_call_lands_in_the_store_with_latency_and_cost(stub: LlmStub, tmp_path: Path) -> None:
    for role, p in GOOD.items():
        text = "no" if role == "risk" else forecast_text(p)
        stub.script(MODELS[role], Reply(text=text, delay_s=0.02, input_tokens=1_000, output_tokens=200))
    prices = {
        MODELS["lead"]: {"input_usd_per_mtok": "2", "output_usd_per_mtok": "10"},
        MODELS["risk"]: {"input_usd_per_mtok": "0.28", "output_usd_per_mtok": "0.42"},
    }
    store = SqliteStore(tmp_path / "llm.db")
    try:
        ensemble = make_ensemble(stub, SystemClock(), store.record_llm_call, prices=prices)
        await forecast_once(ensemble)
        store.flush()
    finally:
        store.close()
    with sqlite3.connect(tmp_path / "llm.db") as conn:
        rows = conn.execute(
            "SELECT role, provider, model, ok, latency_ms, cost, request, response FROM llm_calls"
        ).fetchall()
    by_role = {row[0]: row for row in rows}
    assert sorted(by_role) == sorted(MODELS)
    assert by_role["news"][1:3] == ("claude", MODELS["news"])
    assert {role: row[3] for role, row in by_role.items()} == {r: int(r != "risk") for r in MODELS}
    assert all(row[4] >= 20 for row in rows)  # the stub waits 20 ms before answering
    # 1000 tokens in at $2/M + 200 out at $10/M = $0.004; 1000 x $0.28/M + 200 x $0.42/M = $0.000364.
    assert by_role["lead"][5] == 4_000
    assert by_role["risk"][5] == 364  # a bad answer still cost money
    assert by_role["bull"][5] == 0  # no price configured
    assert "Market:" in by_role["lead"][6] and '"probability": 0.7' in by_role["lead"][7]
    assert "not a JSON object" in by_role["risk"][7]


async def wait_for_rounds(service: PriorService, rounds: int) -> None:
    """Until the service has finished ``rounds`` rounds (and so is asleep on its clock); bounded."""
    for _ in range(1_000):
        if service.rounds >= rounds:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"the service finished {service.rounds} rounds, not {rounds}")


async def test_priors_expire_and_the_service_refreshes_on_its_interval(stub: LlmStub) -> None:
    script_all_good(stub)
    clock = ManualClock()
    ensemble = make_ensemble(stub, clock)
    service = PriorService(
        clock, ensemble, 60.0, requests=lambda: [market()], max_age_s=90.0, blend_weight=0.1, max_markets=3
    )
    assert service.priors() == {}
    task = asyncio.create_task(service.run())
    try:
        await wait_for_rounds(service, 1)
        result = service.latest[market().ticker]
        assert result.probability is not None
        assert service.priors() == {market().ticker: (result.probability, 0.1 * result.confidence)}
        assert len(stub.received) == len(MODELS)

        clock.advance(60.0)  # the next round starts
        await wait_for_rounds(service, 2)
        assert len(stub.received) == 2 * len(MODELS)
        assert service.latest[market().ticker].ts_ns == result.ts_ns + 60 * 10**9
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        clock.set_ns(service.latest[market().ticker].ts_ns + 90 * 10**9)
        assert market().ticker in service.priors()  # exactly max_age old still counts
        clock.advance(0.001)
        assert service.priors() == {}
    finally:
        task.cancel()
        await ensemble.aclose()


async def test_a_round_without_enough_answers_withdraws_the_prior(stub: LlmStub) -> None:
    script_all_good(stub)
    clock = ManualClock()
    ensemble = make_ensemble(stub, clock)
    service = PriorService(
        clock, ensemble, 60.0, requests=lambda: [market()], max_age_s=600, blend_weight=0.2
    )
    try:
        await service.refresh()
        assert market().ticker in service.priors()
        for model in MODELS.values():
            stub.scripts[model].clear()
            stub.script(model, Reply(status=500))
        await service.refresh()
        assert service.priors() == {}
    finally:
        await ensemble.aclose()


async def test_api_keys_never_reach_logs_reprs_errors_or_the_store(
    stub: LlmStub, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    wrong_key = "sk-WRONG-never-print-me-42"
    script_all_good(stub)
    caplog.set_level(logging.DEBUG)
    config = stub_config(stub)
    clock = SystemClock()
    providers = build_providers(config, clock, {KEY_ENV: wrong_key})
    store = SqliteStore(tmp_path / "keys.db")
    ensemble = Ensemble(config, providers, clock, store.record_llm_call)
    try:
        result = await ensemble.forecast(market())
        store.flush()
    finally:
        await ensemble.aclose()
        store.close()
    # The key was really sent (the stub echoed it back in its 401 body) ...
    assert stub.received and all(wrong_key in str(r.headers) for r in stub.received)
    assert all("LlmAuthError" in r.error and "401" in r.error for r in result.roles)
    # ... but it appears nowhere we write.
    texts = [caplog.text, repr(providers), repr(config), config.model_dump_json()]
    texts += [r.error for r in result.roles] + [repr(result)]
    with sqlite3.connect(tmp_path / "keys.db") as conn:
        texts += [str(row) for row in conn.execute("SELECT * FROM llm_calls")]
    assert len(texts) > 5 and not [t for t in texts if wrong_key in t]
    assert "***" in result.roles[0].error  # the echoed key was scrubbed


async def test_a_missing_key_fails_its_role_without_a_request(stub: LlmStub) -> None:
    script_all_good(stub)
    config = stub_config(stub)
    clock = SystemClock()
    ensemble = Ensemble(config, build_providers(config, clock, {}), clock)
    result = await forecast_once(ensemble)
    assert result.probability is None
    assert all(f"environment variable {KEY_ENV} is not set" in r.error for r in result.roles)
    assert stub.received == []


async def test_spend_guards_pause_the_ensemble_until_the_next_utc_day(stub: LlmStub) -> None:
    def script_round() -> None:
        for role, p in GOOD.items():
            stub.script(MODELS[role], Reply(text=forecast_text(p), input_tokens=1_000, output_tokens=200))

    prices = {MODELS["lead"]: {"input_usd_per_mtok": "2", "output_usd_per_mtok": "10"}}  # $0.004 a call
    clock = ManualClock()  # 2026-01-01T00:00:00Z
    # By money: one round spends the whole $0.004 budget; the next round asks nobody.
    ensemble = make_ensemble(stub, clock, prices=prices)
    service = PriorService(
        clock,
        ensemble,
        60.0,
        requests=lambda: [market()],
        max_age_s=600,
        blend_weight=0.1,
        daily_budget=4_000,
    )
    try:
        script_round()
        await service.refresh()
        assert len(stub.received) == len(MODELS) and service.spend.cost == 4_000
        clock.advance(3_600)
        await service.refresh()
        assert len(stub.received) == len(MODELS)  # paused: no call went out
        clock.advance(86_400)  # a new UTC day re-opens the budget
        script_round()
        await service.refresh()
        assert len(stub.received) == 2 * len(MODELS)
    finally:
        await ensemble.aclose()
    # By count, which holds even for models without a price.
    ensemble = make_ensemble(stub, clock)
    service = PriorService(
        clock,
        ensemble,
        60.0,
        requests=lambda: [market()],
        max_age_s=600,
        blend_weight=0.1,
        max_calls_per_day=5,
    )
    try:
        script_round()
        await service.refresh()
        await service.refresh()
        assert len(stub.received) == 3 * len(MODELS) and service.spend.calls == 5
    finally:
        await ensemble.aclose()
