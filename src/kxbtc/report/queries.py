"""The one read only the tearsheet needs: each decision with what the strategy saw (its ``inputs`` JSON).

Everything else the report shows comes from the existing readers (``kxbtc.store.db``, ``kxbtc.ops``,
``kxbtc.dashboard.queries``); the dashboard's decision query leaves the inputs out, which here are the
point: the forecast ``p_yes`` and the book (``yes_ask``/``no_ask``, or ``mid``) the decision was made on.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DecisionInputs:
    ts_ns: int
    strategy: str
    ticker: str
    inputs: dict[str, object]
    approved: bool  # the risk layer let it through (only approved decisions become orders)


def decision_inputs(conn: sqlite3.Connection) -> list[DecisionInputs]:
    """Every recorded decision, oldest first, with its inputs parsed (``{}`` when unreadable)."""
    rows = conn.execute(
        "SELECT ts_ns, strategy, ticker, inputs, intent FROM decisions ORDER BY ts_ns, id"
    ).fetchall()
    return [
        DecisionInputs(int(ts), str(strategy), str(ticker), _object(inputs), _approved(intent))
        for ts, strategy, ticker, inputs, intent in rows
    ]


def _object(text: str) -> dict[str, object]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _approved(intent_text: str) -> bool:
    outcome = _object(intent_text).get("outcome", "")
    return isinstance(outcome, str) and outcome.startswith("approved")
