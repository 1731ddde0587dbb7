"""Writes held back while an order is decided and sent are all queued, in order, when the block ends."""

from __future__ import annotations

from pathlib import Path

from kxbtc.store.db import SqliteStore


def test_held_writes_reach_the_database_after_the_block_in_order(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "k.db")
    with store.held():
        store.set_value("a", "1")
        store.set_value("a", "2")
        with store.held():  # nested blocks queue with the outer one
            store.set_value("b", "x")
        store._writer.flush(5)  # the writer itself has nothing yet
        assert store.get_value("a") is None
    store.flush()
    assert (store.get_value("a"), store.get_value("b")) == ("2", "x")
    with store.held():
        store.set_value("c", "y")
        store.flush()  # an explicit flush inside still commits everything
        assert store.get_value("c") == "y"
    store.close()
