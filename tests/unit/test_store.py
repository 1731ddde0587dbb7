from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import pytest

from kxbtc.store.connection import StoreError
from kxbtc.store.db import SqliteStore
from kxbtc.store.records import FillRecord, OrderRecord, RiskEventRecord
from kxbtc.units import Count, Money, Price


def _order(coid: str, ts: int = 1) -> OrderRecord:
    return OrderRecord(
        client_order_id=coid,
        ticker="KXBTC15M-26NOV251500-00",
        side="bid",
        price=Price(5600),
        count=Count(1000),
        time_in_force="fill_or_kill",
        status="intended",
        created_ns=ts,
        updated_ns=ts,
        strategy="fair_value",
    )


def _fill(fid: str, ts: int = 2) -> FillRecord:
    return FillRecord(
        fid, "o-1", "KXBTC15M-26NOV251500-00", "bid", Price(5600), Count(100), Money(17300), True, ts
    )


def test_orders_and_fills_survive_restart_and_fills_are_kept_once(tmp_path: Path) -> None:
    path = tmp_path / "kxbtc.db"
    store = SqliteStore(path)
    store.record_order(_order("c-1"))
    store.update_order("c-1", ts_ns=5, kind="ack", status="executed", order_id="o-1", fill_count=100)
    store.record_fill(_fill("f-1"))
    store.record_fill(_fill("f-1"))  # the same fill again, e.g. from REST reconciliation
    store.close()

    reopened = SqliteStore(path)
    [order] = reopened.orders()
    assert (order.order_id, order.status, order.fill_count) == ("o-1", "executed", 100)
    assert [f.fill_id for f in reopened.fills()] == ["f-1"]
    reopened.close()


def test_values_and_risk_events_round_trip(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "k.db")
    store.set_value("fills_cursor", "abc")
    store.set_value("fills_cursor", "def")
    store.record_risk_event(RiskEventRecord(7, "daily_loss", "halt", "lost 5.1%"))
    store.flush()
    assert store.get_value("fills_cursor") == "def"
    assert store.risk_events()[0].kind == "daily_loss"
    store.close()


def test_corrupt_file_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "garbage.db"
    path.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(StoreError, match=r"garbage\.db.*not a valid kxbtc database"):
        SqliteStore(path)
    assert path.read_bytes().startswith(b"this is not")  # untouched


def test_foreign_sqlite_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE customers (id INTEGER)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match=r"other\.db.*another application"):
        SqliteStore(path)


def test_full_disk_is_a_clear_error_and_earlier_records_stay(tmp_path: Path) -> None:
    path = tmp_path / "full.db"
    store = SqliteStore(path)
    store.record_order(_order("kept"))
    store.flush()
    # Simulate a full disk: SQLite reports SQLITE_FULL once the file may not grow further.
    store._conn.execute("PRAGMA max_page_count = 20")
    with pytest.raises(StoreError, match=r"full\.db.*disk is full"):
        for i in range(5000):
            store.record_decision(i, "s", "T", "x" * 500, "{}", "why")
        store.flush()
    with pytest.raises(StoreError):
        store.close()
    reopened = SqliteStore(path)
    assert [o.client_order_id for o in reopened.orders()] == ["kept"]
    reopened.close()


def test_read_only_location_is_a_clear_error() -> None:
    # /proc refuses file creation even for root, so this holds in CI's root sandbox too.
    with pytest.raises(StoreError, match=r"/proc/kxbtc-test\.db"):
        SqliteStore("/proc/kxbtc-test.db")


def test_a_fill_recorded_before_its_orders_id_was_known_gets_the_orders_strategy(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "kxbtc.db")
    store.record_order(_order("c-1"))
    store.record_fill(_fill("f-1"))  # the fill beat the acknowledgement: no strategy known yet
    store.update_order("c-1", ts_ns=5, kind="ack", status="executed", order_id="o-1", fill_count=100)
    store.update_order("c-unknown", ts_ns=6, kind="reconcile", order_id="o-2")  # no such order: no harm
    store.flush()
    [fill] = store.fills()
    assert fill.strategy == "fair_value"
    store.close()


def test_reading_orders_in_some_states_gives_them_in_the_order_a_read_of_all_would(tmp_path: Path) -> None:
    """The reconciler reads only the orders it must ask about (the day's orders, built as objects every
    pass, raised the engine's resident set): the same orders, ties in creation time in the same order."""
    store = SqliteStore(tmp_path / "orders.db")
    rng = random.Random(7)
    states = ["intended", "unknown", "resting", "executed", "canceled", "rejected"]
    for i in range(300):
        created = 1_000 + rng.randrange(20)  # many orders share an instant (one batch)
        status = rng.choice(states)
        store.record_order(
            OrderRecord(
                f"c{i}", f"K{i % 7}", "bid", Price(100), Count(100), "fill_or_kill", status, created, created
            )
        )
    store.flush()
    wanted = ("intended", "unknown", "resting")
    expected = [o.client_order_id for o in store.orders() if o.status in wanted]
    assert [o.client_order_id for o in store.orders(statuses=wanted)] == expected
    assert len(expected) > 100
    store.close()
