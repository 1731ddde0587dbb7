"""SQLite store: the crash-safe local record of orders, fills, positions and P&L.

One writer thread owns the write connection and drains a bounded queue, so the trading loop never
waits on disk (``kxbtc.store.writer``). Reads use their own connection (WAL lets them run beside the
writer). Everything the exchange tells us is written idempotently (fills by ``fill_id``), so replays
and reconciliation can never count a fill twice.

The parts: opening and migrating the file (``connection``), the write statements (``writes``), the read
queries (``reads``); ``SqliteStore`` puts them together.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from kxbtc.store.connection import StoreError, describe_error, migrate, open_connection
from kxbtc.store.intents import IntentLog, intents_path
from kxbtc.store.reads import read_fills, read_orders, read_positions, read_risk_events, read_settlements
from kxbtc.store.records import (
    FillRecord,
    OrderRecord,
    PnlSnapshot,
    PositionRecord,
    RiskEventRecord,
    SettlementRecord,
)
from kxbtc.store.writer import StoreWriter, Write
from kxbtc.store.writes import StoreWrites


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


#: Page cache of the store's writer connection, in KiB (SQLite's default is 2,000).
CACHE_KIB = 1024


class SqliteStore(StoreWrites):
    """The embedded default store. Thread-safe writes through one writer thread."""

    def __init__(self, path: str | Path, *, queue_size: int = 100_000, alarm_fraction: float = 0.8) -> None:
        self.path = Path(path)
        self._conn = open_connection(self.path)
        migrate(self._conn, self.path)
        # Measured in a running engine: SQLite's memory went from 0.9 to 2.4 MB over the first four
        # simulated hours as the writer's page cache (2 MB by default) filled, 1.5 of the 10 MB the
        # flat-memory target allows. Half of it keeps more of a day's random-key index pages (about
        # 2 MB by the end of a day); a miss is a read from the system's file cache, on the writer thread.
        self._conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
        self._writer = StoreWriter(
            self._conn, self.path, queue_size=queue_size, alarm_fraction=alarm_fraction
        )
        self._reader = open_connection(self.path)
        self._intents = IntentLog(intents_path(self.path))
        #: Writes held back by ``hold`` (None: not holding).
        self._held: list[Write] | None = None
        #: ``batch_writes``: writes handed to the writer thread this many at a time, and those waiting.
        self._batch_size = 1
        self._batched: list[Write] = []

    @property
    def backlogged(self) -> bool:
        """True while the write queue is backed up; the risk layer reads it to stop opening positions."""
        return self._writer.backlogged

    @property
    def alarms(self) -> int:
        return self._writer.alarms

    @property
    def error(self) -> StoreError | None:
        return self._writer.error

    def _submit(self, write: Write) -> None:
        if self._held is not None:
            self._held.append(write)
        elif self._batch_size > 1:
            self._batched.append(write)
            if len(self._batched) >= self._batch_size:
                self._hand_over_batch()
        else:
            self._writer.submit(write)

    def batch_writes(self, count: int) -> None:
        """Hand writes to the writer thread ``count`` at a time, as one transaction. For a replay, whose
        store is its own and which writes a P&L snapshot every simulated second: a commit (and a thread
        wake-up) per record cost about a twentieth of its time. ``flush`` and ``close`` hand over what is
        waiting. The default, 1, hands each write over at once: a live engine's records commit as they
        come."""
        self._hand_over_batch()
        self._batch_size = max(1, count)

    def _hand_over_batch(self) -> None:
        batch, self._batched = self._batched, []
        self._submit_together(batch)

    def _submit_together(self, writes: list[Write]) -> None:
        """``writes`` as one item of the writer's queue (one wake-up of its thread), run in order."""
        if not writes:
            return
        if len(writes) == 1:
            self._writer.submit(writes[0])
            return

        def write_all(conn: sqlite3.Connection) -> None:
            for write in writes:
                write(conn)

        self._writer.submit(write_all)

    @contextmanager
    def hold(self) -> Iterator[None]:
        """Writes made inside go to the writer thread only on leaving, in order: the frame handler's
        records (decisions, intended orders) are queued after its order is on the wire, so the writer
        thread is not woken to compete for the interpreter while the order is being written. Nested
        holds release with the outermost."""
        started = self.hold_writes()
        try:
            yield
        finally:
            if started:
                self.release_writes()

    def hold_writes(self) -> bool:
        """Start holding writes (see ``hold``); False when already holding."""
        if self._held is not None:
            return False
        self._held = []
        return True

    def release_writes(self) -> None:
        """Queue the held writes, in order, and stop holding."""
        held, self._held = self._held or [], None
        if self._batch_size > 1:
            for write in held:
                self._submit(write)
        else:
            self._submit_together(held)

    def write_ahead(self, orders: Sequence[OrderRecord]) -> None:
        """Put these orders' ``intended`` rows beyond a SIGKILL now, before they are sent
        (``kxbtc.store.intents``); their usual records still go through the queue."""
        self._intents.append(orders)

    def trim_write_ahead(self) -> None:
        """Empty the write-ahead file once every row in it is committed, so it stays small over a long
        run. The rows' queued records are committed by a flush, so call it off the order path (the
        engine does at each reconciliation) and never while writes are held (then it does nothing)."""
        if self._intents.rows == 0 or self._held is not None:
            return
        self.flush()
        self._intents.clear()

    def recover_write_ahead(self) -> int:
        """At start: commit the ``intended`` rows a killed run wrote ahead but never committed, then
        empty the file. How many rows it held."""
        rows = self._intents.read()
        for row in rows:
            self.record_written_ahead(row)
        self.flush()
        self._intents.clear()
        return len(rows)

    def flush(self, timeout_s: float = 10.0) -> None:
        """Wait until every write submitted so far is committed; raise if a write failed."""
        self._hand_over_batch()
        self._writer.flush(timeout_s)
        if self._writer.error is not None:
            raise self._writer.error

    def discard_pending(self) -> int:
        """Drop the writes not yet committed (the soak's emulated kill); how many were dropped."""
        return self._writer.discard_pending()

    def close(self) -> None:
        self._hand_over_batch()
        self._intents.close()
        self._writer.stop()
        self._conn.close()
        self._reader.close()
        if self._writer.error is not None:
            raise self._writer.error

    # -- reads (see what has been committed; call flush() first to include pending writes) --------

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        try:
            yield self._reader
        except sqlite3.Error as exc:
            raise StoreError(describe_error(self.path, exc)) from None

    def get_value(self, key: str) -> str | None:
        with self._read() as conn:
            row = conn.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def orders(self, status: str | None = None, statuses: Sequence[str] = ()) -> list[OrderRecord]:
        return read_orders(self._reader, status, statuses)

    def fills(self, ticker: str | None = None) -> list[FillRecord]:
        return read_fills(self._reader, ticker)

    def has_fill(self, fill_id: str) -> bool:
        """Whether the fill is stored, writes not yet committed included (they are committed first)."""
        self.flush()
        with self._read() as conn:
            return conn.execute("SELECT 1 FROM fills WHERE fill_id = ?", (fill_id,)).fetchone() is not None

    def order_strategy(self, order_id: str) -> str | None:
        """The strategy of the stored order with this exchange order id (pending writes committed first)."""
        self.flush()
        with self._read() as conn:
            row = conn.execute("SELECT strategy FROM orders WHERE order_id = ?", (order_id,)).fetchone()
        return None if row is None else str(row[0])

    def positions(self) -> list[PositionRecord]:
        return read_positions(self._reader)

    def settlements(self) -> list[SettlementRecord]:
        return read_settlements(self._reader)

    def risk_events(self) -> list[RiskEventRecord]:
        return read_risk_events(self._reader)
