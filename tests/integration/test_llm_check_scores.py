"""``kxbtc llm check`` against local stubs of both provider wire protocols, and ``kxbtc llm scores`` on
a database recorded by an engine run with stub LLMs against the simulator."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from engine_harness import on_virtual_time, virtual_engine, virtual_sim
from llm_stub import LlmStub, Reply, forecast, stub_in_thread
from test_llm_cli import KEY_ENV, PROBABILITIES, write_config
from test_llm_engine import llm_config

from kxbtc.clock import NS_PER_S, LoopClock
from kxbtc.config import Config, RiskConfig, StrategyConfig
from kxbtc.llm.cli import llm
from kxbtc.risk.limits import OrderIntent
from kxbtc.sim.exchange import Exchange, SimConfig
from kxbtc.store.db import SqliteStore
from kxbtc.strategy.base import Decision, DecisionContext, MarketState, OracleView, Strategy
from kxbtc.units import Count, Price


def test_check_calls_each_provider_once_and_reports_latency_validity_and_cost(tmp_path: Path) -> None:
    stub = LlmStub(key="sk-check-test")
    for role, p in PROBABILITIES.items():
        stub.script(f"{role}-model", forecast(p))
    with stub_in_thread(stub):
        config = write_config(tmp_path / "llm.toml", stub)
        price = '[llm.prices.lead-model]\ninput_usd_per_mtok = "2"\noutput_usd_per_mtok = "10"\n'
        config.write_text(config.read_text() + price)
        result = CliRunner().invoke(llm, ["check", "--config", str(config)], env={KEY_ENV: stub.key})
        as_json = CliRunner().invoke(
            llm, ["check", "--config", str(config), "--json"], env={KEY_ENV: stub.key}
        )
        # The Anthropic endpoint now answers outside the schema: the check says so and exits 1.
        stub.scripts["news-model"].clear()
        stub.script("news-model", Reply(text='{"probability": 2}'))
        # ... and an evidence source that cannot be reached is a FAIL line too.
        feed = '[llm.sources.wire]\nkind = "rss"\nurl = "http://127.0.0.1:9/feed.rss"\ntimeout_s = 2\n'
        config.write_text(config.read_text() + feed)
        bad = CliRunner().invoke(llm, ["check", "--config", str(config)], env={KEY_ENV: stub.key})

    assert result.exit_code == 0, result.output
    # One call per provider (the first role that uses each), over each wire protocol.
    assert {(r.protocol, r.model) for r in stub.received[:2]} == {
        ("openai", "lead-model"),
        ("anthropic", "news-model"),
    }
    assert "OK   chat (openai, lead-model):" in result.output and "cost $0.004," in result.output
    assert "OK   claude (anthropic, news-model):" in result.output and "valid forecast" in result.output
    data = json.loads(as_json.output)
    assert data["ok"] is True and [p["provider"] for p in data["providers"]] == ["chat", "claude"]
    lead = data["providers"][0]
    # 1,000 tokens in at $2/M + 200 out at $10/M = $0.004, exactly.
    assert lead["valid"] and lead["cost_usd"] == "0.004000" and lead["latency_ms"] >= 0
    assert bad.exit_code == 1
    assert "FAIL claude (anthropic, news-model)" in bad.output and "probability" in bad.output
    assert "FAIL source wire (rss): 0 items: wire: fetch failed: ConnectError" in bad.output
    assert stub.key not in result.output + bad.output


class BuyOnce(Strategy):
    """Buys one YES contract at the ask on each market, early enough to beat the final-minute freeze:
    a position, so the market's settlement lands in the database."""

    name = "buy_once"

    def __init__(self) -> None:
        super().__init__(StrategyConfig())

    def on_book(self, market: MarketState, oracle: OracleView, ctx: DecisionContext) -> list[Decision]:
        ticker, ask = market.contract.ticker, market.book.yes_ask()
        if market.position or ask is None or market.contract.seconds_to_close(ctx.now_ns) < 80:
            return []
        return [Decision(OrderIntent(ticker, "bid", Price(ask), Count(100), "buy_once", "own it"), {})]


@on_virtual_time
async def test_scores_rank_roles_on_a_recorded_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stub = LlmStub(key="sk-scores-test")
    await stub.start()
    monkeypatch.setenv("KXBTC_TEST_ENGINE_LLM_KEY", stub.key)
    answers = {"lead": 0.9, "news": 0.7, "bull": 0.5, "bear": 0.3, "risk": 0.1}
    for role, p in answers.items():
        stub.script(f"{role}-m", forecast(p))
    config = Config(risk=RiskConfig(), strategies={}, llm=llm_config(stub))
    start = (1_780_315_200 + 760) * NS_PER_S  # 2026-06-01 12:12:40 UTC: the window closes in 140 s
    clock = LoopClock(start)
    exchange = Exchange(clock, seed=4, config=SimConfig(series=("KXBTC15M",)))
    db = tmp_path / "kxbtc.db"
    store = SqliteStore(db)
    try:
        async with (
            virtual_sim(exchange, step_interval_s=0.02) as sim,
            virtual_engine(config, sim, store, clock, strategies=[BuyOnce()]) as engine,
        ):
            await engine.run(until_ns=start + 240 * NS_PER_S)
    finally:
        await stub.stop()
    store.flush()
    store.close()
    with contextlib.closing(sqlite3.connect(db)) as conn:
        [(ticker, result)] = conn.execute("SELECT ticker, result FROM settlements").fetchall()
        asked = conn.execute(
            "SELECT count(*) FROM llm_calls WHERE ok = 1 AND request LIKE ?", (f"%{ticker}%",)
        )
        assert asked.fetchone()[0] >= len(answers)

    out = CliRunner().invoke(llm, ["scores", "--db", str(db), "--json"])
    assert out.exit_code == 0, out.output
    rows = {r["role"]: r for r in json.loads(out.output)["scores"]}
    y = 1 if result == "yes" else 0
    for role, p in answers.items():
        assert rows[role]["markets"] == 1 and rows[role]["answers"] >= 1
        assert rows[role]["brier"] == pytest.approx((p - y) ** 2)
    assert rows["model"]["answers"] >= 1 and rows["model"]["brier"] is not None
    text = CliRunner().invoke(llm, ["scores", "--db", str(db)])
    assert text.exit_code == 0 and text.output.splitlines()[0].split() == [
        "role",
        "answers",
        "markets",
        "Brier",
        "log",
        "loss",
    ]
    missing = CliRunner().invoke(llm, ["scores", "--db", str(tmp_path / "none.db")])
    assert missing.exit_code == 2 and "no database" in missing.output
