"""The database file as a careless user or another process leaves it (issue 15): foreign files are refused
before anything changes them, a held database is a one-line error, and read commands work on read-only
media."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kxbtc.sim.harness import ThreadedSimHarness
from kxbtc.store.connection import StoreOpenError
from kxbtc.store.db import SqliteStore

REPO = Path(__file__).resolve().parents[2]


def _kxbtc(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KXBTC")}
    env["PYTHONPATH"] = str(REPO / "src")
    return subprocess.run(
        [sys.executable, "-m", "kxbtc", *args], capture_output=True, text=True, env=env, timeout=120
    )


@pytest.fixture
def foreign(tmp_path: Path) -> Path:
    path = tmp_path / "other-app.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes (body TEXT)")
    conn.execute("INSERT INTO notes VALUES ('mine')")
    conn.commit()
    conn.close()
    return path


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_halt_demo_and_run_refuse_a_foreign_file_without_touching_it(foreign: Path, tmp_path: Path) -> None:
    before = _digest(foreign)
    results = [_kxbtc("halt", "--db", str(foreign)), _kxbtc("demo", "--hours", "0.01", "--db", str(foreign))]
    with ThreadedSimHarness() as sim:
        key_file = sim.key.write_private_key(tmp_path)
        results.append(
            _kxbtc(
                *("run", "--env", "sim", "--rest-url", sim.rest_url, "--ws-url", sim.ws_url, "--no-ntp"),
                *("--key-id", sim.key.key_id, "--key-file", str(key_file), "--db", str(foreign)),
            )
        )
    for result in results:
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr
        assert "belongs to another application" in result.stderr
    assert _digest(foreign) == before
    assert sqlite3.connect(foreign).execute("PRAGMA journal_mode").fetchone() == ("delete",)
    assert not Path(f"{foreign}-wal").exists()


def test_a_database_another_process_holds_is_refused_at_open(tmp_path: Path) -> None:
    path = tmp_path / "kxbtc.db"
    SqliteStore(path).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreOpenError, match="another process holds the database"):
            SqliteStore(path)
    finally:
        holder.execute("ROLLBACK")
        holder.close()


@pytest.fixture
def read_only_mount(tmp_path: Path) -> Iterator[Path]:
    """``tmp_path/ro``: a read-only bind mount of ``tmp_path/rw`` (needs root; skipped otherwise)."""
    rw, ro = tmp_path / "rw", tmp_path / "ro"
    rw.mkdir()
    ro.mkdir()
    mounted = subprocess.run(["mount", "--bind", str(rw), str(ro)], capture_output=True).returncode == 0
    if not mounted:
        pytest.skip("a read-only bind mount needs root (mount --bind)")
    try:
        if subprocess.run(["mount", "-o", "remount,bind,ro", str(ro)], capture_output=True).returncode:
            pytest.skip("cannot remount read-only")
        yield ro
    finally:
        subprocess.run(["umount", str(ro)], capture_output=True)


def test_read_commands_work_on_a_read_only_database(read_only_mount: Path) -> None:
    store = SqliteStore(read_only_mount.parent / "rw" / "kxbtc.db")
    store.set_value("halted", "")
    store.close()
    db = str(read_only_mount / "kxbtc.db")
    for command in (["status", "--db", db], ["orders", "--db", db], ["fills", "--db", db]):
        result = _kxbtc(*command)
        assert result.returncode == 0, result.stderr
