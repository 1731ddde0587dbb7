"""Read queries over the store's tables, shared by the store and the operator commands (which open the
file read-only). They see what has been committed."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from kxbtc.store.records import FillRecord, OrderRecord, PositionRecord, RiskEventRecord, SettlementRecord

_ORDER_COLS = (
    "client_order_id, ticker, side, price, count, time_in_force, status, created_ns, updated_ns,"
    " strategy, order_id, fill_count, remaining_count, fees, exchange_index"
)


def read_orders(
    conn: sqlite3.Connection, status: str | None = None, statuses: Sequence[str] = ()
) -> list[OrderRecord]:
    """Orders by creation time: all, those in ``status``, or those in any of ``statuses``."""
    sql = f"SELECT {_ORDER_COLS} FROM orders"
    args: tuple[Any, ...] = ()
    if status is not None:
        sql += " WHERE status = ?"
        args = (status,)
    elif statuses:
        # Through the status index; orders created at the same instant (one batch) in the order a read of
        # all of them gives, the table's (rowid), not the index's.
        placeholders = ", ".join("?" * len(statuses))
        sql += f" WHERE status IN ({placeholders}) ORDER BY created_ns, rowid"
        return [OrderRecord(*row) for row in conn.execute(sql, tuple(statuses))]
    return [OrderRecord(*row) for row in conn.execute(sql + " ORDER BY created_ns", args)]


def read_fills(conn: sqlite3.Connection, ticker: str | None = None) -> list[FillRecord]:
    sql = (
        "SELECT fill_id, order_id, ticker, side, price, count, fee, is_taker, ts_ns, strategy, source"
        " FROM fills"
    )
    args: tuple[Any, ...] = ()
    if ticker is not None:
        sql += " WHERE ticker = ?"
        args = (ticker,)
    rows = conn.execute(sql + " ORDER BY ts_ns, fill_id", args).fetchall()
    return [FillRecord(r[0], r[1], r[2], r[3], r[4], r[5], r[6], bool(r[7]), r[8], r[9], r[10]) for r in rows]


def read_positions(conn: sqlite3.Connection) -> list[PositionRecord]:
    rows = conn.execute(
        "SELECT ticker, position, exposure, realized_pnl, fees_paid, updated_ns"
        " FROM positions ORDER BY ticker"
    ).fetchall()
    return [PositionRecord(*row) for row in rows]


def read_settlements(conn: sqlite3.Connection) -> list[SettlementRecord]:
    rows = conn.execute(
        "SELECT ticker, event_ticker, result, yes_count, no_count, yes_cost, no_cost, revenue, fee,"
        " settled_ns FROM settlements ORDER BY settled_ns"
    ).fetchall()
    return [SettlementRecord(*row) for row in rows]


def read_risk_events(conn: sqlite3.Connection) -> list[RiskEventRecord]:
    rows = conn.execute("SELECT ts_ns, kind, severity, detail FROM risk_events ORDER BY id").fetchall()
    return [RiskEventRecord(*row) for row in rows]
