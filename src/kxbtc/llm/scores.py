"""Which role has skill: each role's Brier score and log loss on the markets that have settled.

Read from a kxbtc database: every valid answer in ``llm_calls`` (the market it was about is in the
recorded request, its probability in the recorded response) scored against the result in
``settlements``. Each answer counts once; a market asked about in several rounds counts several times.
Beside the roles, the quantitative model's probability shown in the same requests is scored on the same
rounds (``model``, once per round and market): the baseline a role has to beat. Lower is better for
both scores; always saying 0.5 scores Brier 0.25 and log loss 0.693.
"""

from __future__ import annotations

import json
import math
import sqlite3
from dataclasses import dataclass

from kxbtc.config import LLM_ROLES
from kxbtc.errors import LlmOutputError
from kxbtc.llm.ensemble import LOGIT_EPS
from kxbtc.llm.schemas import parse_forecast
from kxbtc.store.reads import read_settlements

BASELINE = "model"


@dataclass(frozen=True, slots=True)
class RoleScore:
    role: str
    answers: int
    markets: int
    brier: float | None  # None without any scored answer
    log_loss: float | None

    def as_json(self) -> dict[str, object]:
        return {
            "role": self.role,
            "answers": self.answers,
            "markets": self.markets,
            "brier": self.brier,
            "log_loss": self.log_loss,
        }


def _market_of(request: str) -> tuple[str, float | None] | None:
    """(ticker, the quant model's probability) from a recorded request; None if unreadable."""
    try:
        user = json.loads(request)["user"]
        text = user[user.index("{") :]
        market, _ = json.JSONDecoder().raw_decode(text)
    except (ValueError, KeyError, TypeError):
        return None
    ticker = market.get("ticker") if isinstance(market, dict) else None
    if not isinstance(ticker, str):
        return None
    p = market.get("model_probability")
    return ticker, float(p) if isinstance(p, int | float) else None


def _score(pairs: list[tuple[float, int, str]], role: str) -> RoleScore:
    if not pairs:
        return RoleScore(role, 0, 0, None, None)
    brier = sum((p - y) ** 2 for p, y, _ in pairs) / len(pairs)
    clipped = [(min(max(p, LOGIT_EPS), 1 - LOGIT_EPS), y) for p, y, _ in pairs]
    loss = -sum(math.log(p) if y else math.log(1 - p) for p, y in clipped) / len(pairs)
    return RoleScore(role, len(pairs), len({t for _, _, t in pairs}), brier, loss)


def role_scores(conn: sqlite3.Connection) -> list[RoleScore]:
    """One row per role that answered (in the brief's order), then the quant model's baseline."""
    outcomes = {
        s.ticker: 1 if s.result == "yes" else 0 for s in read_settlements(conn) if s.result in ("yes", "no")
    }
    by_role: dict[str, list[tuple[float, int, str]]] = {}
    baseline: dict[tuple[int, str], tuple[float, int, str]] = {}  # one per round and market
    rows = conn.execute(
        "SELECT ts_ns, role, request, response FROM llm_calls WHERE ok = 1 ORDER BY ts_ns, id"
    )
    for ts_ns, role, request, response in rows:
        market = _market_of(request)
        if market is None or market[0] not in outcomes:
            continue
        ticker, model_p = market
        try:
            probability = parse_forecast(response).probability
        except LlmOutputError:
            continue
        y = outcomes[ticker]
        by_role.setdefault(role, []).append((probability, y, ticker))
        if model_p is not None:
            baseline[(ts_ns, ticker)] = (model_p, y, ticker)
    order = [r for r in LLM_ROLES if r in by_role] + sorted(set(by_role) - set(LLM_ROLES))
    return [_score(by_role[r], r) for r in order] + [_score(list(baseline.values()), BASELINE)]
