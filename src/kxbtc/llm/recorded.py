"""LLM priors for backtests, from answers recorded at the time, never from fresh calls.

A model asked today about a market that settled last month may know how it settled, so a backtest
must not call one. Instead, ``RecordedPriors`` rebuilds each round the live engine ran from the
``llm_calls`` table of that run's database: the answers of one round (same start time, same market)
are blended exactly as live (``ensemble.blend``, the configured role weights, ``min_weight``), and
the prior becomes visible only once the round's slowest answer had arrived (start + its latency),
then expires ``max_age_s`` after the start, as live. ``priors()`` reads the injected (replay) clock.
"""

from __future__ import annotations

import bisect
import json
import sqlite3
from dataclasses import dataclass

from kxbtc.clock import NS_PER_MS, NS_PER_S, Clock
from kxbtc.config import LlmConfig
from kxbtc.errors import LlmOutputError
from kxbtc.llm.ensemble import RoleResult, blend
from kxbtc.llm.schemas import Forecast, parse_forecast
from kxbtc.units import Money

NO_LLM_NOTE = "no LLM priors: backtests never call a model about past markets (it may know the outcome)"


@dataclass(frozen=True, slots=True)
class RecordedRound:
    ticker: str
    started_ns: int
    visible_ns: int  # when the live engine had the blend: the slowest answer's arrival
    probability: float
    weight: float


def _ticker(request: str) -> str | None:
    try:
        user = json.loads(request)["user"]
        market, _ = json.JSONDecoder().raw_decode(user[user.index("{") :])
    except (ValueError, KeyError, TypeError):
        return None
    ticker = market.get("ticker") if isinstance(market, dict) else None
    return ticker if isinstance(ticker, str) else None


def load_rounds(conn: sqlite3.Connection, config: LlmConfig) -> list[RecordedRound]:
    """Every recorded round with a blended prior, in start order."""
    weights = {name: role.weight for name, role in config.roles.items() if role.enabled and role.weight > 0}
    total = sum(weights.values())
    grouped: dict[tuple[int, str], list[tuple[str, Forecast | None, int]]] = {}
    rows = conn.execute(
        "SELECT ts_ns, role, request, response, ok, latency_ms FROM llm_calls ORDER BY ts_ns, id"
    )
    for ts_ns, role, request, response, ok, latency_ms in rows:
        ticker = _ticker(request)
        if ticker is None or role not in weights:
            continue
        forecast: Forecast | None = None
        if ok:
            try:
                forecast = parse_forecast(response)
            except LlmOutputError:
                forecast = None
        grouped.setdefault((ts_ns, ticker), []).append((role, forecast, latency_ms))
    rounds = []
    for (ts_ns, ticker), answers in sorted(grouped.items()):
        results = [
            RoleResult(role, "", "", weights[role], f, "" if f else "recorded failure", lat, Money(0))
            for role, f, lat in answers
        ]
        mixed = blend(results, total, config.min_weight)
        if mixed.probability is None:
            continue
        slowest = max(lat for _, _, lat in answers) * NS_PER_MS
        weight = config.blend_weight * mixed.confidence
        rounds.append(RecordedRound(ticker, ts_ns, ts_ns + slowest, mixed.probability, weight))
    return rounds


class RecordedPriors:
    def __init__(self, rounds: list[RecordedRound], clock: Clock, max_age_s: float) -> None:
        self.clock = clock
        self.max_age_ns = int(max_age_s * NS_PER_S)
        self.rounds = len(rounds)
        self._by_ticker: dict[str, list[RecordedRound]] = {}
        for r in sorted(rounds, key=lambda r: r.visible_ns):
            self._by_ticker.setdefault(r.ticker, []).append(r)
        self._visible = {t: [r.visible_ns for r in rs] for t, rs in self._by_ticker.items()}

    def priors(self) -> dict[str, tuple[float, float]]:
        """Ticker -> (probability, weight) as the live engine had them at the clock's time."""
        now = self.clock.time_ns()
        out = {}
        for ticker, rounds in self._by_ticker.items():
            i = bisect.bisect_right(self._visible[ticker], now) - 1
            if i >= 0 and now - rounds[i].started_ns <= self.max_age_ns:
                out[ticker] = (rounds[i].probability, rounds[i].weight)
        return out

    def note(self, source: str) -> str:
        return (
            f"LLM priors from {self.rounds} rounds recorded at the time ({source}); no fresh LLM calls "
            "(a model asked about a past market may know the outcome)"
        )
