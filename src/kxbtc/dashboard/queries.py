"""Read-only queries only the dashboard needs: order counts, the risk breakers' baseline, the equity curve
(downsampled in SQL), recent decisions and LLM calls. The operator reports live in ``kxbtc.ops``."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

from kxbtc.ops.queries import read_value
from kxbtc.store.records import PnlSnapshot

#: kv key where the engine keeps the day's starting equity and the peak (kxbtc.engine.core writes it;
#: not imported from there, which would load the whole engine into the web server).
RISK_BASELINE_KEY = "risk_baseline"

#: The equity curve never carries more points than this.
MAX_EQUITY_POINTS = 2000


@dataclass(frozen=True, slots=True)
class RiskBaseline:
    day: str
    day_start_equity: int  # Money
    peak_equity: int  # Money


@dataclass(frozen=True, slots=True)
class DecisionRow:
    ts_ns: int
    strategy: str
    ticker: str
    intent: dict[str, object]  # what the strategy asked for and the risk layer's outcome
    reason: str


@dataclass(frozen=True, slots=True)
class LlmCallRow:
    ts_ns: int
    provider: str
    model: str
    role: str
    ok: bool
    latency_ms: int
    cost: int  # Money


@dataclass(frozen=True, slots=True)
class LlmSpend:
    calls: int
    failed: int
    cost: int  # Money


def order_counts(conn: sqlite3.Connection) -> dict[str, int]:
    """How many orders are in each status, e.g. ``{"resting": 2, "executed": 9}``."""
    rows = conn.execute("SELECT status, count(*) FROM orders GROUP BY status ORDER BY status").fetchall()
    return {str(status): int(n) for status, n in rows}


def risk_baseline(conn: sqlite3.Connection) -> RiskBaseline | None:
    """The breakers' baseline as the engine last saved it; None when absent or unreadable."""
    saved = read_value(conn, RISK_BASELINE_KEY)
    if not saved:
        return None
    try:
        data = json.loads(saved)
        return RiskBaseline(str(data["day"]), int(data["day_start_equity"]), int(data["peak"]))
    except (ValueError, KeyError, TypeError):
        return None


def equity_curve(conn: sqlite3.Connection, max_points: int = MAX_EQUITY_POINTS) -> list[PnlSnapshot]:
    """The P&L snapshots in time order, at most ``max_points`` of them.

    When there are more, the snapshots are cut into equal runs of consecutive rows (by row id, which the
    store assigns in write order) and each run keeps its lowest- and highest-equity snapshot, so a
    drawdown or a spike survives the thinning; the newest snapshot is always kept, so the curve ends
    where ``status`` says equity is. One pass over the table, no sort of the whole of it.
    """
    if max_points < 3:
        raise ValueError("max_points must be at least 3")
    columns = "ts_ns, day, equity, realized, unrealized_mid, unrealized_exit, fees"
    first_id, last_id, total = conn.execute("SELECT min(id), max(id), count(*) FROM pnl_snapshots").fetchone()
    if total <= max_points:
        rows = conn.execute(f"SELECT {columns} FROM pnl_snapshots ORDER BY ts_ns, id").fetchall()
        return [PnlSnapshot(*row) for row in rows]
    runs = (max_points - 1) // 2  # two points per run, plus the newest snapshot
    per_run = -(-(last_id - first_id + 1) // runs)
    # SQLite takes a bare column (id) from the row that holds the group's min() or max().
    rows = conn.execute(
        f"""
        SELECT {columns} FROM pnl_snapshots WHERE id IN (
            SELECT id FROM (SELECT min(equity), id FROM pnl_snapshots GROUP BY (id - :first) / :per)
            UNION SELECT id FROM (SELECT max(equity), id FROM pnl_snapshots GROUP BY (id - :first) / :per)
            UNION SELECT :last
        ) ORDER BY ts_ns, id
        """,
        {"first": first_id, "per": per_run, "last": last_id},
    ).fetchall()
    return [PnlSnapshot(*row) for row in rows]


def recent_decisions(conn: sqlite3.Connection, limit: int) -> list[DecisionRow]:
    """The newest ``limit`` strategy decisions, newest first."""
    rows = conn.execute(
        "SELECT ts_ns, strategy, ticker, intent, reason FROM decisions ORDER BY ts_ns DESC, id DESC LIMIT ?",
        (limit,),
    ).fetchall()
    return [
        DecisionRow(ts, strategy, ticker, _json_object(intent), reason)
        for ts, strategy, ticker, intent, reason in rows
    ]


def _json_object(text: str) -> dict[str, object]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def recent_llm_calls(conn: sqlite3.Connection, limit: int) -> list[LlmCallRow]:
    """The newest ``limit`` LLM calls (without their request and response text), newest first."""
    rows = conn.execute(
        "SELECT ts_ns, provider, model, role, ok, latency_ms, cost FROM llm_calls"
        " ORDER BY ts_ns DESC, id DESC LIMIT ?",
        (limit,),
    ).fetchall()
    return [LlmCallRow(r[0], r[1], r[2], r[3], bool(r[4]), r[5], r[6]) for r in rows]


def llm_spend(conn: sqlite3.Connection, since_ns: int, until_ns: int) -> LlmSpend:
    """LLM calls made and their cost in ``[since_ns, until_ns)``."""
    calls, failed, cost = conn.execute(
        "SELECT count(*), coalesce(sum(ok = 0), 0), coalesce(sum(cost), 0) FROM llm_calls"
        " WHERE ts_ns >= ? AND ts_ns < ?",
        (since_ns, until_ns),
    ).fetchone()
    return LlmSpend(int(calls), int(failed), int(cost))
