"""A replay's store hands its records to the writer in batches (``SqliteStore.batch_writes``): nothing
written is lost or reordered, ``flush`` and ``close`` commit what is held, and a failed write still
surfaces instead of vanishing in a batch."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from kxbtc.store.connection import StoreError
from kxbtc.store.db import SqliteStore


def _values(path: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT key, value FROM kv ORDER BY key").fetchall()


def test_batched_writes_all_commit_in_order_at_flush_and_close(tmp_path: Path) -> None:
    path = tmp_path / "replay.db"
    store = SqliteStore(path)
    store.batch_writes(4)
    for i in range(6):  # one full batch of 4 handed over, 2 still held
        store.set_value(f"k{i}", str(i))
    store.set_value("k0", "last")  # a later write of the same key wins, as without holding
    store.flush()
    assert store.get_value("k0") == "last"
    assert store.get_value("k5") == "5"
    store.set_value("k6", "6")
    store.close()
    assert _values(path) == [("k0", "last")] + [(f"k{i}", str(i)) for i in range(1, 7)]


def test_a_failed_write_in_a_batch_is_raised(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "replay.db")
    store.batch_writes(100)
    store.set_value("fine", "1")
    store._sql(("INSERT INTO no_such_table VALUES (?)", (1,)))
    with pytest.raises(StoreError):
        store.flush()
    with pytest.raises(StoreError):
        store.close()
