"""The dashboard's JSON answers, built from one read-only connection.

Where ``kxbtc status/positions/orders/fills/pnl --json`` answer the same question, the payload is theirs
(``kxbtc.ops.reports``), so the page and the command line always agree; the status payload only adds
to it. Money is ``{"micros": int, "dollars": "d.dddddd"}`` as everywhere else (``render.money_json``).
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from kxbtc.clock import NS_PER_S
from kxbtc.dashboard import queries
from kxbtc.dashboard.queries import DecisionRow, LlmCallRow
from kxbtc.ops import reports
from kxbtc.ops.engine_status import data_now
from kxbtc.ops.pnl_report import GroupBy
from kxbtc.ops.queries import recent_risk_events
from kxbtc.ops.render import JsonObject, iso_time, money_json, pnl_snapshot_json, risk_event_json
from kxbtc.units import format_count, format_price

_NS_PER_DAY = 86_400 * NS_PER_S


def utc_day_start(now_ns: int) -> int:
    """The start of the UTC day holding ``now_ns``, in nanoseconds."""
    return now_ns - now_ns % _NS_PER_DAY


def status(conn: sqlite3.Connection, db: Path, now_ns: int) -> JsonObject:
    """``kxbtc status --json``, plus the order counts by status and the breakers' baseline."""
    payload = reports.status_view(conn, db, now_ns).as_json()
    baseline = queries.risk_baseline(conn)
    payload["order_counts"] = queries.order_counts(conn)
    payload["risk_baseline"] = (
        None
        if baseline is None
        else {
            "day": baseline.day,
            "day_start_equity": money_json(baseline.day_start_equity),
            "peak_equity": money_json(baseline.peak_equity),
        }
    )
    # One clock on the page: the data's (the engine's last heartbeat in market time), not the browser's.
    payload["now"] = payload["data_time"]
    return payload


def positions(conn: sqlite3.Connection, db: Path) -> JsonObject:
    return reports.positions_report(conn, db).as_json()


def orders(conn: sqlite3.Connection, db: Path, status: str | None, limit: int) -> JsonObject:
    return reports.orders_report(conn, db, status, limit).as_json()


def fills(conn: sqlite3.Connection, db: Path, limit: int) -> JsonObject:
    return reports.fills_report(conn, db, None, limit).as_json()


def pnl(conn: sqlite3.Connection, db: Path, by: GroupBy) -> JsonObject:
    return reports.pnl_report_by(conn, db, by).as_json()


def equity(conn: sqlite3.Connection, db: Path) -> JsonObject:
    """The equity curve from the P&L snapshots, oldest first, thinned to at most ~2,000 points."""
    points = queries.equity_curve(conn)
    return {
        "db": str(db),
        "max_points": queries.MAX_EQUITY_POINTS,
        "points": [pnl_snapshot_json(p) for p in points],
    }


def risk_events(conn: sqlite3.Connection, db: Path, limit: int) -> JsonObject:
    return {"db": str(db), "risk_events": [risk_event_json(e) for e in recent_risk_events(conn, limit)]}


def decisions(conn: sqlite3.Connection, db: Path, limit: int) -> JsonObject:
    return {"db": str(db), "decisions": [_decision_json(d) for d in queries.recent_decisions(conn, limit)]}


def _decision_json(d: DecisionRow) -> JsonObject:
    price, count = d.intent.get("price"), d.intent.get("count")
    return {
        "ts_ns": d.ts_ns,
        "time": iso_time(d.ts_ns),
        "strategy": d.strategy,
        "ticker": d.ticker,
        "side": str(d.intent.get("side", "")),
        # Intents carry Price and Count integers (Kalshi and Polymarket legs alike); anything else as is.
        "price": format_price(price) if isinstance(price, int) else None if price is None else str(price),
        "count": format_count(count) if isinstance(count, int) else None if count is None else str(count),
        "outcome": str(d.intent.get("outcome", "")),
        "reason": d.reason,
    }


def llm(conn: sqlite3.Connection, db: Path, limit: int, now_ns: int) -> JsonObject:
    """The newest LLM calls and what today's (UTC, on the data's clock) calls cost."""
    start = utc_day_start(data_now(conn, now_ns))
    spend = queries.llm_spend(conn, start, start + _NS_PER_DAY)
    return {
        "db": str(db),
        "today": {
            "day": datetime.fromtimestamp(start // NS_PER_S, UTC).strftime("%Y-%m-%d"),
            "calls": spend.calls,
            "failed": spend.failed,
            "cost": money_json(spend.cost),
        },
        "calls": [_llm_call_json(c) for c in queries.recent_llm_calls(conn, limit)],
    }


def _llm_call_json(c: LlmCallRow) -> JsonObject:
    return {
        "ts_ns": c.ts_ns,
        "time": iso_time(c.ts_ns),
        "provider": c.provider,
        "model": c.model,
        "role": c.role,
        "ok": c.ok,
        "latency_ms": c.latency_ms,
        "cost": money_json(c.cost),
    }
