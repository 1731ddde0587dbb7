"""The store as the operator commands see it: validated opening, read-only queries, and the kill switch.

Reads open the file read-only, so a command can run beside the live engine. The one write, the manual
kill switch, is a single short transaction: the kv key ``halted`` plus a risk event, committed together.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kxbtc.store.connection import StoreError, StoreOpenError, open_connection
from kxbtc.store.records import FillRecord, OrderRecord, PnlSnapshot, RiskEventRecord
from kxbtc.store.schema import APPLICATION_ID, MIGRATIONS

#: kv key of the manual kill switch. Its value is the halt reason; empty or absent means trading runs.
#: The engine polls it: a non-empty value makes it stop opening positions and cancel resting orders.
HALT_KEY = "halted"
TRADING_MODE_KEY = "trading_mode"  # the engine's one line on whether it trades (kxbtc.core.stand_aside)
PAUSED_KEY = "paused_strategies"  # JSON {strategy: reason} from the skill guard


class DatabaseUnusable(StoreOpenError):
    """The file is missing, not SQLite, foreign, or from a newer kxbtc: the operator must fix --db."""


@dataclass(frozen=True, slots=True)
class BalanceSnapshot:
    ts_ns: int
    balance: int  # Money
    portfolio_value: int  # Money
    source: str


def _unusable(path: Path, exc: sqlite3.Error) -> DatabaseUnusable:
    text = str(exc)
    if "not a database" in text or "malformed" in text:
        return DatabaseUnusable(f"{path}: the file is not a valid kxbtc database (corrupt or not SQLite)")
    return DatabaseUnusable(f"{path}: {text}")


def schema_version(conn: sqlite3.Connection, path: Path) -> int:
    """The schema version of a kxbtc database; refuses anything else, naming the file."""
    try:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
    except sqlite3.Error as exc:
        raise _unusable(path, exc) from None
    if app_id != APPLICATION_ID:
        if app_id == 0 and tables == 0:
            raise DatabaseUnusable(f"{path}: an empty SQLite file, not a kxbtc database (yet)")
        raise DatabaseUnusable(f"{path}: this SQLite file belongs to another application, not kxbtc")
    if version > len(MIGRATIONS):
        raise DatabaseUnusable(
            f"{path}: schema version {version} is newer than this kxbtc knows ({len(MIGRATIONS)});"
            " upgrade kxbtc"
        )
    if version < 1:
        raise DatabaseUnusable(f"{path}: the kxbtc schema was never created in this file")
    return int(version)


def _open(path: Path, *, readonly: bool) -> sqlite3.Connection:
    if not path.exists():
        raise DatabaseUnusable(f"{path}: no database file here (pass --db or set KXBTC_STORE__PATH)")
    try:
        conn = open_connection(path, readonly=readonly)
    except StoreError as exc:
        raise DatabaseUnusable(str(exc)) from None
    try:
        schema_version(conn, path)
    except DatabaseUnusable:
        conn.close()
        raise
    return conn


def open_readonly(path: Path) -> sqlite3.Connection:
    return _open(path, readonly=True)


def open_for_write(path: Path) -> sqlite3.Connection:
    """A write connection to an existing kxbtc database (never creates one: the engine does that)."""
    return _open(path, readonly=False)


# -- reads ------------------------------------------------------------------------------------------

_ORDER_COLUMNS = (
    "client_order_id, ticker, side, price, count, time_in_force, status, created_ns, updated_ns,"
    " strategy, order_id, fill_count, remaining_count, fees, exchange_index"
)
_FILL_COLUMNS = "fill_id, order_id, ticker, side, price, count, fee, is_taker, ts_ns, strategy, source"


def read_value(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row[0])


def latest_balance(conn: sqlite3.Connection) -> BalanceSnapshot | None:
    row = conn.execute(
        "SELECT ts_ns, balance, portfolio_value, source FROM balance_snapshots ORDER BY ts_ns DESC, id DESC"
        " LIMIT 1"
    ).fetchone()
    return None if row is None else BalanceSnapshot(*row)


def latest_pnl(conn: sqlite3.Connection) -> PnlSnapshot | None:
    row = conn.execute(
        "SELECT ts_ns, day, equity, realized, unrealized_mid, unrealized_exit, fees FROM pnl_snapshots"
        " ORDER BY ts_ns DESC, id DESC LIMIT 1"
    ).fetchone()
    return None if row is None else PnlSnapshot(*row)


def count_orders(conn: sqlite3.Connection, status: str) -> int:
    return int(conn.execute("SELECT count(*) FROM orders WHERE status = ?", (status,)).fetchone()[0])


#: An order's fees are what its fills paid: the order row's own ``fees`` is only the venue's answer to
#: the order (0 for a maker order filled later, or a taker fill reported on the fill stream).
_ORDER_FEES = "COALESCE((SELECT sum(f.fee) FROM fills f WHERE f.order_id = orders.order_id), orders.fees)"


def recent_orders(conn: sqlite3.Connection, status: str | None, limit: int) -> list[OrderRecord]:
    """The newest ``limit`` orders (by creation), newest first; fees summed from their fills."""
    where, args = _where("status", status)
    columns = _ORDER_COLUMNS.replace(" fees,", f" {_ORDER_FEES},")
    rows = conn.execute(
        f"SELECT {columns} FROM orders{where} ORDER BY created_ns DESC, client_order_id DESC LIMIT ?",
        (*args, limit),
    ).fetchall()
    return [OrderRecord(*row) for row in rows]


def recent_fills(conn: sqlite3.Connection, ticker: str | None, limit: int) -> list[FillRecord]:
    """The newest ``limit`` fills, newest first."""
    where, args = _where("ticker", ticker)
    rows = conn.execute(
        f"SELECT {_FILL_COLUMNS} FROM fills{where} ORDER BY ts_ns DESC, fill_id DESC LIMIT ?", (*args, limit)
    ).fetchall()
    return [FillRecord(r[0], r[1], r[2], r[3], r[4], r[5], r[6], bool(r[7]), r[8], r[9], r[10]) for r in rows]


def recent_risk_events(conn: sqlite3.Connection, limit: int) -> list[RiskEventRecord]:
    """The newest ``limit`` risk events, newest first."""
    rows = conn.execute(
        "SELECT ts_ns, kind, severity, detail FROM risk_events ORDER BY id DESC LIMIT ?", (limit,)
    ).fetchall()
    return [RiskEventRecord(*row) for row in rows]


def _where(column: str, value: str | None) -> tuple[str, tuple[Any, ...]]:
    return ("", ()) if value is None else (f" WHERE {column} = ?", (value,))


# -- the kill switch --------------------------------------------------------------------------------


def set_halt(conn: sqlite3.Connection, path: Path, *, reason: str, event: RiskEventRecord) -> str:
    """Set the kill switch to ``reason`` ("" = running) and record ``event``, atomically.

    Returns the previous reason ("" when trading was running).
    """
    try:
        # IMMEDIATE takes the write lock up front; busy_timeout waits out the engine's short commits.
        conn.execute("BEGIN IMMEDIATE")
        try:
            previous = read_value(conn, HALT_KEY) or ""
            conn.execute(
                "INSERT INTO kv (key, value) VALUES (?, ?)"
                " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (HALT_KEY, reason),
            )
            conn.execute(
                "INSERT INTO risk_events (ts_ns, kind, severity, detail) VALUES (?,?,?,?)",
                (event.ts_ns, event.kind, event.severity, event.detail),
            )
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: could not write the kill switch: {exc}") from None
    return previous
