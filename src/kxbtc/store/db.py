"""SQLite store: the crash-safe local record of orders, fills, positions and P&L.

One writer thread owns the write connection and drains a bounded queue, so the trading loop never
waits on disk. Reads use their own connection (WAL lets them run beside the writer). Everything the
exchange tells us is written idempotently (fills by ``fill_id``), so replays and reconciliation can
never count a fill twice.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import astuple
from pathlib import Path
from typing import Any, Protocol

from kxbtc.errors import KxbtcError
from kxbtc.store.records import (
    FillRecord,
    OrderRecord,
    PnlSnapshot,
    PositionRecord,
    RiskEventRecord,
    SettlementRecord,
)
from kxbtc.store.schema import APPLICATION_ID, MIGRATIONS

log = logging.getLogger(__name__)

_SQLITE_MAGIC = b"SQLite format 3\x00"

Write = Callable[[sqlite3.Connection], None]


class StoreError(KxbtcError):
    """The database cannot be opened or written; the message names the file."""


class Store(Protocol):
    """What callers need from a store; SQLite today, PostgreSQL can implement the same later."""

    def record_order(self, order: OrderRecord) -> None: ...
    def update_order(
        self,
        client_order_id: str,
        *,
        ts_ns: int,
        kind: str,
        status: str | None = None,
        order_id: str | None = None,
        fill_count: int | None = None,
        remaining_count: int | None = None,
        fees: int | None = None,
        detail: str = "",
    ) -> None: ...
    def record_fill(self, fill: FillRecord) -> None: ...
    def set_position(self, position: PositionRecord) -> None: ...
    def record_settlement(self, settlement: SettlementRecord) -> None: ...
    def record_balance(self, ts_ns: int, balance: int, portfolio_value: int, source: str) -> None: ...
    def record_pnl(self, snapshot: PnlSnapshot) -> None: ...
    def record_decision(
        self, ts_ns: int, strategy: str, ticker: str, inputs: str, intent: str, reason: str
    ) -> None: ...
    def record_risk_event(self, event: RiskEventRecord) -> None: ...
    def set_value(self, key: str, value: str) -> None: ...
    def flush(self, timeout_s: float = 10.0) -> None: ...
    def close(self) -> None: ...


def _describe(path: Path, exc: BaseException) -> str:
    text = str(exc)
    if "disk is full" in text or "database or disk is full" in text:
        return f"{path}: the disk is full; free space and restart (nothing recorded earlier is lost)"
    if "readonly" in text or "read-only" in text or "attempt to write a readonly database" in text:
        return f"{path}: the database is read-only; choose a writable path"
    if "unable to open" in text:
        return f"{path}: cannot open the database file (missing directory or no permission)"
    if "not a database" in text or "malformed" in text:
        return f"{path}: the file is not a valid kxbtc database (corrupt or not SQLite)"
    return f"{path}: {text}"


def check_database_file(path: Path) -> None:
    """Refuse a file that exists but is not SQLite, before sqlite3 gets a chance to misreport it."""
    if not path.exists():
        return
    if path.is_dir():
        raise StoreError(f"{path}: is a directory, not a database file")
    try:
        with path.open("rb") as fh:
            head = fh.read(len(_SQLITE_MAGIC))
    except OSError as exc:
        raise StoreError(f"{path}: cannot read the database file ({exc.strerror})") from None
    if head and head != _SQLITE_MAGIC:
        raise StoreError(f"{path}: the file is not a valid kxbtc database (corrupt or not SQLite)")


def open_connection(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    check_database_file(path)
    if readonly and not path.exists():
        raise StoreError(f"{path}: no database here yet (run kxbtc first, or pass --db)")
    try:
        if readonly:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        else:
            conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA busy_timeout = 5000")
        if not readonly:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
        return conn
    except sqlite3.Error as exc:
        raise StoreError(_describe(path, exc)) from None


def migrate(conn: sqlite3.Connection, path: Path) -> int:
    """Bring the schema up to date; refuse databases that belong to something else or to a newer kxbtc."""
    try:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
    except sqlite3.Error as exc:
        raise StoreError(_describe(path, exc)) from None
    if app_id not in (0, APPLICATION_ID) or (app_id == 0 and tables > 0):
        raise StoreError(f"{path}: this SQLite file belongs to another application; refusing to touch it")
    if version > len(MIGRATIONS):
        raise StoreError(
            f"{path}: schema version {version} is newer than this kxbtc knows"
            f" ({len(MIGRATIONS)}); upgrade kxbtc"
        )
    try:
        for number in range(version, len(MIGRATIONS)):
            conn.execute("BEGIN IMMEDIATE")
            for statement in MIGRATIONS[number].split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number + 1}")
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.execute("COMMIT")
    except sqlite3.Error as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise StoreError(_describe(path, exc)) from None
    return len(MIGRATIONS)


_STOP = object()


class SqliteStore:
    """The embedded default store. Thread-safe writes through one writer thread."""

    def __init__(self, path: str | Path, *, queue_size: int = 100_000, alarm_fraction: float = 0.8) -> None:
        self.path = Path(path)
        self._conn = open_connection(self.path)
        migrate(self._conn, self.path)
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=queue_size)
        self._alarm_depth = int(queue_size * alarm_fraction)
        #: Set when the queue backed up; the risk layer reads it to stop opening positions.
        self.backlogged = False
        self.alarms = 0
        self._error: StoreError | None = None
        self._thread = threading.Thread(target=self._run, name="kxbtc-store-writer", daemon=True)
        self._thread.start()
        self._reader = open_connection(self.path)

    # -- the writer ------------------------------------------------------------------------------

    def _submit(self, write: Write) -> None:
        if self._error is not None:
            raise self._error
        try:
            self._queue.put_nowait(write)
        except queue.Full:
            # Never drop a record: fall back to waiting, and raise the alarm so trading stops.
            self._raise_alarm()
            self._queue.put(write)
        if self._queue.qsize() >= self._alarm_depth:
            self._raise_alarm()

    def _raise_alarm(self) -> None:
        if not self.backlogged:
            log.error("store queue backed up (%d pending) for %s", self._queue.qsize(), self.path)
        self.backlogged = True
        self.alarms += 1

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            batch = [item]
            # Commit many small writes at once: one fsync per batch, not per record.
            while len(batch) < 500:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = any(w is _STOP for w in batch)
            writes = [w for w in batch if w is not _STOP and not isinstance(w, threading.Event)]
            events = [w for w in batch if isinstance(w, threading.Event)]
            if writes and self._error is None:
                try:
                    self._conn.execute("BEGIN")
                    for write in writes:
                        write(self._conn)
                    self._conn.execute("COMMIT")
                except sqlite3.Error as exc:
                    if self._conn.in_transaction:
                        self._conn.execute("ROLLBACK")
                    self._error = StoreError(_describe(self.path, exc))
                    log.error("store write failed: %s", self._error)
            for _ in batch:
                self._queue.task_done()
            if self.backlogged and self._queue.qsize() < self._alarm_depth // 2:
                self.backlogged = False
            for event in events:
                event.set()
            if stop:
                return

    def flush(self, timeout_s: float = 10.0) -> None:
        """Wait until every write submitted so far is committed; raise if a write failed."""
        if self._thread.is_alive():
            done = threading.Event()
            self._queue.put(done)
            if not done.wait(timeout_s):
                raise StoreError(f"{self.path}: writer did not flush within {timeout_s} s")
        if self._error is not None:
            raise self._error

    def close(self) -> None:
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join(timeout=30)
        self._conn.close()
        self._reader.close()
        if self._error is not None:
            raise self._error

    @property
    def error(self) -> StoreError | None:
        return self._error

    # -- writes ----------------------------------------------------------------------------------

    def _sql(self, *statements: tuple[str, tuple[Any, ...]]) -> None:
        """Queue statements that commit together, in order."""

        def write(conn: sqlite3.Connection) -> None:
            for sql, args in statements:
                conn.execute(sql, args)

        self._submit(write)

    def record_order(self, order: OrderRecord) -> None:
        row = (
            order.client_order_id,
            order.order_id,
            order.ticker,
            order.side,
            order.price,
            order.count,
            order.time_in_force,
            order.strategy,
            order.status,
            order.fill_count,
            order.remaining_count,
            order.fees,
            order.exchange_index,
            order.created_ns,
            order.updated_ns,
        )
        self._sql(
            (
                "INSERT INTO orders (client_order_id, order_id, ticker, side, price, count, time_in_force,"
                " strategy, status, fill_count, remaining_count, fees, exchange_index, created_ns,"
                " updated_ns) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(client_order_id) DO NOTHING",
                row,
            ),
            (
                "INSERT INTO order_events (client_order_id, order_id, ts_ns, kind, status)"
                " VALUES (?,?,?,?,?)",
                (order.client_order_id, order.order_id, order.created_ns, "recorded", order.status),
            ),
        )

    def update_order(
        self,
        client_order_id: str,
        *,
        ts_ns: int,
        kind: str,
        status: str | None = None,
        order_id: str | None = None,
        fill_count: int | None = None,
        remaining_count: int | None = None,
        fees: int | None = None,
        detail: str = "",
    ) -> None:
        self._sql(
            (
                "UPDATE orders SET order_id = COALESCE(?, order_id), status = COALESCE(?, status),"
                " fill_count = COALESCE(?, fill_count), remaining_count = COALESCE(?, remaining_count),"
                " fees = COALESCE(?, fees), updated_ns = MAX(updated_ns, ?) WHERE client_order_id = ?",
                (order_id, status, fill_count, remaining_count, fees, ts_ns, client_order_id),
            ),
            (
                "INSERT INTO order_events (client_order_id, order_id, ts_ns, kind, status, fill_count,"
                " remaining_count, detail) VALUES (?,?,?,?,?,?,?,?)",
                (client_order_id, order_id, ts_ns, kind, status, fill_count, remaining_count, detail),
            ),
            # A fill can be recorded before its order's id was known (the fill beat the acknowledgement,
            # or reconciliation found it first): once the id is known, the fill gets its strategy.
            (
                "UPDATE fills SET strategy ="
                " COALESCE((SELECT strategy FROM orders WHERE client_order_id = ?), '')"
                " WHERE order_id = ? AND strategy = ''",
                (client_order_id, order_id),
            ),
        )

    def record_fill(self, fill: FillRecord) -> None:
        # A fill seen twice (WS, then REST reconciliation) is the same fill: the first copy stays.
        self._sql(
            (
                "INSERT INTO fills (fill_id, order_id, ticker, side, price, count, fee, is_taker, ts_ns,"
                " strategy, source) VALUES (?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(fill_id) DO NOTHING",
                astuple(fill),
            )
        )

    def set_position(self, position: PositionRecord) -> None:
        self._sql(
            (
                "INSERT INTO positions (ticker, position, exposure, realized_pnl, fees_paid, updated_ns)"
                " VALUES (?,?,?,?,?,?) ON CONFLICT(ticker) DO UPDATE SET position = excluded.position,"
                " exposure = excluded.exposure, realized_pnl = excluded.realized_pnl,"
                " fees_paid = excluded.fees_paid, updated_ns = excluded.updated_ns",
                astuple(position),
            )
        )

    def record_settlement(self, settlement: SettlementRecord) -> None:
        self._sql(
            (
                "INSERT INTO settlements (ticker, event_ticker, result, yes_count, no_count, yes_cost,"
                " no_cost, revenue, fee, settled_ns) VALUES (?,?,?,?,?,?,?,?,?,?)"
                " ON CONFLICT(ticker) DO NOTHING",
                astuple(settlement),
            )
        )

    def record_balance(self, ts_ns: int, balance: int, portfolio_value: int, source: str) -> None:
        self._sql(
            (
                "INSERT INTO balance_snapshots (ts_ns, balance, portfolio_value, source) VALUES (?,?,?,?)",
                (ts_ns, balance, portfolio_value, source),
            )
        )

    def record_pnl(self, snapshot: PnlSnapshot) -> None:
        self._sql(
            (
                "INSERT INTO pnl_snapshots (ts_ns, day, equity, realized, unrealized_mid,"
                " unrealized_exit, fees) VALUES (?,?,?,?,?,?,?)",
                astuple(snapshot),
            )
        )

    def record_decision(
        self, ts_ns: int, strategy: str, ticker: str, inputs: str, intent: str, reason: str
    ) -> None:
        self._sql(
            (
                "INSERT INTO decisions (ts_ns, strategy, ticker, inputs, intent, reason)"
                " VALUES (?,?,?,?,?,?)",
                (ts_ns, strategy, ticker, inputs, intent, reason),
            )
        )

    def record_risk_event(self, event: RiskEventRecord) -> None:
        self._sql(
            ("INSERT INTO risk_events (ts_ns, kind, severity, detail) VALUES (?,?,?,?)", astuple(event))
        )

    def record_llm_call(
        self,
        ts_ns: int,
        provider: str,
        model: str,
        role: str,
        request: str,
        response: str,
        ok: bool,
        latency_ms: int,
        cost: int = 0,
    ) -> None:
        self._sql(
            (
                "INSERT INTO llm_calls (ts_ns, provider, model, role, request, response, ok,"
                " latency_ms, cost) VALUES (?,?,?,?,?,?,?,?,?)",
                (ts_ns, provider, model, role, request, response, int(ok), latency_ms, cost),
            )
        )

    def set_value(self, key: str, value: str) -> None:
        self._sql(
            (
                "INSERT INTO kv (key, value) VALUES (?, ?)"
                " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )
        )

    # -- reads (see what has been committed; call flush() first to include pending writes) --------

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        try:
            yield self._reader
        except sqlite3.Error as exc:
            raise StoreError(_describe(self.path, exc)) from None

    def get_value(self, key: str) -> str | None:
        with self._read() as conn:
            row = conn.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def orders(self, status: str | None = None) -> list[OrderRecord]:
        return read_orders(self._reader, status)

    def fills(self, ticker: str | None = None) -> list[FillRecord]:
        return read_fills(self._reader, ticker)

    def positions(self) -> list[PositionRecord]:
        return read_positions(self._reader)

    def settlements(self) -> list[SettlementRecord]:
        return read_settlements(self._reader)

    def risk_events(self) -> list[RiskEventRecord]:
        return read_risk_events(self._reader)


# Read helpers shared by the store and the operator commands (which open the file read-only).

_ORDER_COLS = (
    "client_order_id, ticker, side, price, count, time_in_force, status, created_ns, updated_ns,"
    " strategy, order_id, fill_count, remaining_count, fees, exchange_index"
)


def read_orders(conn: sqlite3.Connection, status: str | None = None) -> list[OrderRecord]:
    sql = f"SELECT {_ORDER_COLS} FROM orders"
    args: tuple[Any, ...] = ()
    if status is not None:
        sql += " WHERE status = ?"
        args = (status,)
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
