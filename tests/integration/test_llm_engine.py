"""The LLM priors inside the engine: ``[llm] enabled`` runs the ensemble beside the trading loop, every
call lands in the store, and the strategies see the blended prior in their decision context.

The engine trades the in-process simulator on virtual time (``engine_harness``) while the ensemble's five
roles talk to the OpenAI/Anthropic stub on 127.0.0.1, on the same loop.
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from engine_harness import on_virtual_time, virtual_engine, virtual_sim
from llm_stub import LlmStub, forecast

from kxbtc.clock import NS_PER_S, LoopClock
from kxbtc.config import Config, LlmConfig, RiskConfig, StrategyConfig
from kxbtc.llm.ensemble import logit, sigmoid
from kxbtc.sim.exchange import Exchange, SimConfig
from kxbtc.store.db import SqliteStore
from kxbtc.strategy.base import Decision, DecisionContext, MarketState, OracleView, Strategy

KEY_ENV = "KXBTC_TEST_ENGINE_LLM_KEY"
START_NS = (1_780_315_200 + 60) * NS_PER_S  # 2026-06-01 12:01 UTC: a 15-minute window just opened
ANSWERS = {"lead": 0.80, "news": 0.70, "bull": 0.90, "bear": 0.60, "risk": 0.75}
WEIGHTS = {"lead": 0.30, "news": 0.20, "bull": 0.175, "bear": 0.175, "risk": 0.15}


class SeePriors(Strategy):
    """Trades nothing; keeps every prior the engine hands the strategies."""

    name = "see_priors"

    def __init__(self) -> None:
        super().__init__(StrategyConfig())
        self.seen: dict[str, tuple[float, float]] = {}

    def on_book(self, market: MarketState, oracle: OracleView, ctx: DecisionContext) -> list[Decision]:
        self.seen.update(ctx.priors)
        return []


def llm_config(stub: LlmStub) -> LlmConfig:
    common: dict[str, Any] = {"api_key_env": KEY_ENV, "timeout_s": 5.0, "max_retries": 0}
    return LlmConfig.model_validate(
        {
            "enabled": True,
            "providers": {
                "chat": {"kind": "openai", "base_url": stub.openai_url, **common},
                "claude": {"kind": "anthropic", "base_url": stub.base_url, **common},
            },
            "roles": {
                role: {"provider": "claude" if role == "news" else "chat", "model": f"{role}-m", "weight": w}
                for role, w in WEIGHTS.items()
            },
            "interval_s": 30.0,
            "max_age_s": 600.0,
            "blend_weight": 0.5,
            "deadline_s": 20.0,
        }
    )


@on_virtual_time
async def test_the_engine_blends_the_ensembles_prior_and_records_every_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stub = LlmStub(key="sk-engine-test-0123")
    await stub.start()
    monkeypatch.setenv(KEY_ENV, stub.key)
    for role, p in ANSWERS.items():
        stub.script(f"{role}-m", forecast(p, confidence=1.0))
    config = Config(risk=RiskConfig(), strategies={}, llm=llm_config(stub))
    clock = LoopClock(START_NS)
    exchange = Exchange(clock, seed=4, config=SimConfig(series=("KXBTC15M",)))
    store = SqliteStore(tmp_path / "kxbtc.db")
    seer = SeePriors()
    try:
        async with (
            virtual_sim(exchange, step_interval_s=0.02) as sim,
            virtual_engine(config, sim, store, clock, strategies=[seer]) as engine,
        ):
            await engine.run(until_ns=clock.time_ns() + 60 * NS_PER_S)
    finally:
        await stub.stop()
    store.flush()
    store.close()

    # The engine asked the ensemble about the open market and handed its prior to the strategies:
    # the weighted log-odds blend, weighted by the configured 0.5 times the ensemble's confidence.
    assert seer.seen, "no strategy ever saw an LLM prior"
    blended = sigmoid(sum(WEIGHTS[r] * logit(p) for r, p in ANSWERS.items()) / sum(WEIGHTS.values()))
    for probability, weight in seer.seen.values():
        assert probability == pytest.approx(blended)
        assert 0 < weight <= 0.5
    # Every call is on record, one row per role per round, all answered.
    with contextlib.closing(sqlite3.connect(tmp_path / "kxbtc.db")) as db:
        rows = db.execute("SELECT role, ok FROM llm_calls").fetchall()
    assert rows and len(rows) % len(ANSWERS) == 0
    assert {role for role, _ in rows} == set(ANSWERS) and all(ok for _, ok in rows)
    assert len(stub.received) == len(rows)
