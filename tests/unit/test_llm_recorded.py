"""Backtests take LLM priors only from answers recorded at the time: rebuilt from a live run's
``llm_calls``, visible from when the live engine had them, and said so in the report."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_replay import CLOSE_NS, START_NS, TICKER, RecordingBuilder, _index_every_second

from kxbtc.cli import EXIT_OK, cli
from kxbtc.clock import NS_PER_S, ManualClock
from kxbtc.config import Config, LlmConfig, StrategyConfig
from kxbtc.llm.ensemble import logit, sigmoid
from kxbtc.llm.recorded import NO_LLM_NOTE, RecordedPriors, load_rounds
from kxbtc.llm.roles import user_message
from kxbtc.llm.schemas import ForecastRequest
from kxbtc.recordings.kxbtc_file import KxbtcRecording
from kxbtc.replay.runner import ReplayRunner, ReplaySettings
from kxbtc.store.connection import open_connection
from kxbtc.store.db import SqliteStore
from kxbtc.strategy.base import Decision, DecisionContext, MarketState, OracleView, Strategy

ANSWERS = {"lead": 0.8, "news": 0.7, "bull": 0.9, "bear": 0.6, "risk": 0.75}
WEIGHTS = {"lead": 0.30, "news": 0.20, "bull": 0.175, "bear": 0.175, "risk": 0.15}
ASKED_NS = START_NS + 2 * NS_PER_S


def record_live_round(path: Path, latency_ms: int = 1_500) -> None:
    """One round as the live engine records it: five calls started at ASKED_NS."""
    request = ForecastRequest(
        ticker=TICKER, strike=100_000.0, close_time=datetime.fromtimestamp(CLOSE_NS / NS_PER_S, UTC),
        seconds_to_close=838.0, spot=100_100.0, model_probability=0.6,
    )  # fmt: skip
    store = SqliteStore(path)
    for role, p in ANSWERS.items():
        sent = json.dumps({"system": "…", "user": user_message(request, "<<<UNTRUSTED_EVIDENCE x>>> …")})
        answer = json.dumps({"probability": p, "confidence": 1.0, "rationale": "r", "key_drivers": []})
        store.record_llm_call(
            ASKED_NS, "p", "m", role, sent, answer, True, latency_ms if role == "bear" else 10
        )
    store.flush()
    store.close()


def test_recorded_rounds_are_blended_as_live_and_visible_only_once_answered(tmp_path: Path) -> None:
    record_live_round(tmp_path / "live.db")
    config = LlmConfig(blend_weight=0.2, max_age_s=300.0)
    with contextlib.closing(open_connection(tmp_path / "live.db", readonly=True)) as conn:
        [round_] = load_rounds(conn, config)
    expected = sigmoid(sum(WEIGHTS[r] * logit(p) for r, p in ANSWERS.items()) / sum(WEIGHTS.values()))
    assert round_.probability == pytest.approx(expected)
    clock = ManualClock(ASKED_NS)
    priors = RecordedPriors([round_], clock, config.max_age_s)
    # Not before the slowest answer (bear, 1.5 s) had arrived: that is when the live engine had it.
    clock.set_ns(ASKED_NS + 1_499_000_000)
    assert priors.priors() == {}
    clock.set_ns(ASKED_NS + 1_500_000_000)
    [(p, weight)] = priors.priors().values()
    assert p == pytest.approx(expected) and 0 < weight <= 0.2
    clock.set_ns(ASKED_NS + 300 * NS_PER_S + 1)
    assert priors.priors() == {}  # expired, as live


class SeePriors(Strategy):
    name = "see_priors"

    def __init__(self) -> None:
        super().__init__(StrategyConfig())
        self.seen: list[tuple[int, dict[str, tuple[float, float]]]] = []

    def on_book(self, market: MarketState, oracle: OracleView, ctx: DecisionContext) -> list[Decision]:
        self.seen.append((ctx.now_ns, dict(ctx.priors)))
        return []


def _recording(tmp_path: Path) -> Path:
    b = RecordingBuilder(tmp_path / "r.jsonl")
    b.start()
    b.index(0.5)
    b.snapshot(1.0, yes=[("0.4000", "20.00")], asks=[("0.4500", "50.00")])
    for s in (3.0, 4.0, 6.0):
        b.delta(s, "yes", "0.4000", "1.00")
    _index_every_second(b, 8)
    b.determined(841.0, "no")
    return b.write()


def test_a_replay_sees_the_recorded_priors_and_its_report_says_where_they_came_from(tmp_path: Path) -> None:
    record_live_round(tmp_path / "live.db")
    path = _recording(tmp_path)
    seer = SeePriors()
    store = SqliteStore(tmp_path / "replay.db")
    try:
        settings = ReplaySettings(latency_ms=50, index="kalshi", llm_answers=tmp_path / "live.db")
        ReplayRunner(Config(), KxbtcRecording(path), settings, store, strategies=[seer]).run()
    finally:
        store.close()
    before = [priors for t, priors in seer.seen if t < ASKED_NS + 1_500_000_000]
    after = [priors for t, priors in seer.seen if t >= ASKED_NS + 1_500_000_000]
    assert before and all(p == {} for p in before)
    assert after and all(TICKER in p for p in after)

    args = ["backtest", "--replay", str(path), "--latency-ms", "50", "--json"]
    plain = CliRunner().invoke(cli, args)
    recorded = CliRunner().invoke(cli, [*args, "--llm-answers", str(tmp_path / "live.db")])
    assert plain.exit_code == recorded.exit_code == EXIT_OK, plain.output + recorded.output
    assert json.loads(plain.stdout)["llm"] == NO_LLM_NOTE
    note = json.loads(recorded.stdout)["llm"]
    assert "1 rounds recorded at the time (live.db)" in note and "no fresh LLM calls" in note
