"""The store's writer thread: it owns the write connection and drains a bounded queue of writes.

The trading loop only enqueues, so it never waits on disk. Writes that queue up together commit in one
transaction (one fsync per batch, not per record). A full queue is never answered by dropping a record:
the caller waits, and ``backlogged`` is raised so the risk layer stops opening positions.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kxbtc.store.connection import StoreError, describe_error

# The records keep the logger name they had when the writer lived in ``kxbtc.store.db``.
log = logging.getLogger("kxbtc.store.db")

Write = Callable[[sqlite3.Connection], None]

_STOP = object()
#: The most writes committed in one transaction.
_MAX_BATCH = 500


class StoreWriter:
    """Runs queued writes on ``conn`` in a daemon thread, until ``stop``."""

    def __init__(
        self, conn: sqlite3.Connection, path: Path, *, queue_size: int, alarm_fraction: float
    ) -> None:
        self.path = path
        self._conn = conn
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=queue_size)
        self._alarm_depth = int(queue_size * alarm_fraction)
        #: Set when the queue backed up; cleared once it drains below half the alarm depth.
        self.backlogged = False
        self.alarms = 0
        self.error: StoreError | None = None
        self._thread = threading.Thread(target=self._run, name="kxbtc-store-writer", daemon=True)
        self._thread.start()

    def submit(self, write: Write) -> None:
        if self.error is not None:
            raise self.error
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
            while len(batch) < _MAX_BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = any(w is _STOP for w in batch)
            writes = [w for w in batch if w is not _STOP and not isinstance(w, threading.Event)]
            events = [w for w in batch if isinstance(w, threading.Event)]
            if writes and self.error is None:
                try:
                    self._conn.execute("BEGIN")
                    for write in writes:
                        write(self._conn)
                    self._conn.execute("COMMIT")
                except sqlite3.Error as exc:
                    if self._conn.in_transaction:
                        self._conn.execute("ROLLBACK")
                    self.error = StoreError(describe_error(self.path, exc))
                    log.error("store write failed: %s", self.error)
            for _ in batch:
                self._queue.task_done()
            if self.backlogged and self._queue.qsize() < self._alarm_depth // 2:
                self.backlogged = False
            for event in events:
                event.set()
            if stop:
                return

    def flush(self, timeout_s: float) -> None:
        """Wait until every write submitted so far is committed (or failed)."""
        if self._thread.is_alive():
            done = threading.Event()
            self._queue.put(done)
            if not done.wait(timeout_s):
                raise StoreError(f"{self.path}: writer did not flush within {timeout_s} s")

    def discard_pending(self) -> int:
        """Drop every write still queued (never committed): what a killed process loses. For the soak's
        emulated kill; returns how many were dropped."""
        dropped = 0
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return dropped
            self._queue.task_done()
            if isinstance(item, threading.Event):
                item.set()
            else:
                dropped += 1

    def stop(self) -> None:
        """Commit what is queued, then end the thread."""
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join(timeout=30)
