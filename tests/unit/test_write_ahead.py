"""An order's ``intended`` row is written ahead (one ``os.write`` to a file beside the database) before
the order leaves; its queued database record follows the send. A SIGKILL between the send and the commit
loses the queued record but not the written-ahead row, which the next start commits, with the strategy
that sent the order."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from kxbtc.store.db import SqliteStore
from kxbtc.store.intents import intents_path
from kxbtc.store.records import OrderRecord
from kxbtc.units import Count, Price

ORDER = OrderRecord(
    client_order_id="coid-1",
    ticker="KXBTC15M-26JUN011215-15",
    side="bid",
    price=Price(4200),
    count=Count(300),
    time_in_force="fill_or_kill",
    status="intended",
    created_ns=1_780_315_200_000_000_000,
    updated_ns=1_780_315_200_000_000_000,
    strategy="fair_value",
    exchange_index=2,
)

# The engine's order path in a child process: the records held until the order is out, the intended row
# written ahead, the order "sent", then SIGKILL before the held records ever reach the writer thread.
CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from kxbtc.store.db import SqliteStore
    sys.path.insert(0, {tests!r})
    from test_write_ahead import ORDER
    store = SqliteStore({db!r})
    with store.hold():
        store.record_order(ORDER)
        store.write_ahead([ORDER])
        os.kill(os.getpid(), signal.SIGKILL)  # the order is on the wire; nothing is committed
    """
)


def test_a_kill_between_send_and_commit_leaves_the_intended_row_for_the_next_start(tmp_path: Path) -> None:
    db = tmp_path / "kxbtc.db"
    SqliteStore(db).close()  # the schema exists, as it would after any earlier run
    child = CHILD.format(tests=str(Path(__file__).parent), db=str(db))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", child], env=env, timeout=60, check=False)
    assert done.returncode == -signal.SIGKILL

    store = SqliteStore(db)
    try:
        assert store.orders() == []  # the queued record died with the process
        assert store.recover_write_ahead() == 1
        [row] = store.orders()
        assert row == ORDER
        assert intents_path(db).read_bytes() == b""  # committed, so the file is emptied
        assert store.recover_write_ahead() == 0
    finally:
        store.close()


def test_recovery_leaves_an_order_the_database_already_has_alone(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "kxbtc.db")
    try:
        store.write_ahead([ORDER])
        store.record_order(ORDER)
        store.update_order(ORDER.client_order_id, ts_ns=ORDER.created_ns + 1, kind="ack", status="executed")
        store.flush()
        assert store.recover_write_ahead() == 1
        [row] = store.orders()
        assert row.status == "executed"
        kinds = [r[0] for r in store._reader.execute("SELECT kind FROM order_events ORDER BY id")]
        assert "written_ahead" not in kinds
    finally:
        store.close()


def test_a_line_cut_short_by_the_kill_is_skipped(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "kxbtc.db")
    try:
        store.write_ahead([ORDER])
        with intents_path(store.path).open("ab") as f:
            f.write(b'["coid-2","KXBTC')  # the kill landed inside the write: that order never left
        assert store.recover_write_ahead() == 1
        assert [o.client_order_id for o in store.orders()] == ["coid-1"]
    finally:
        store.close()


def test_held_writes_reach_the_database_only_after_the_block(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "kxbtc.db")
    try:
        with store.hold():
            store.record_order(ORDER)
            store.flush()
            assert store.orders() == []
        store.flush()
        assert [o.client_order_id for o in store.orders()] == ["coid-1"]
    finally:
        store.close()


def test_the_file_is_emptied_once_its_rows_are_committed_but_never_while_writes_are_held(
    tmp_path: Path,
) -> None:
    store = SqliteStore(tmp_path / "kxbtc.db")
    try:
        with store.hold():
            store.record_order(ORDER)
            store.write_ahead([ORDER])
            store.trim_write_ahead()  # held: its record is not committed yet, so the row must stay
            assert intents_path(store.path).read_bytes() != b""
        store.trim_write_ahead()  # the reconciliation's call: commits, then empties the file
        assert intents_path(store.path).read_bytes() == b""
        assert [o.client_order_id for o in store.orders()] == ["coid-1"]
    finally:
        store.close()
