"""Opening a kxbtc SQLite file: refuse what is not ours, set the pragmas, bring the schema up to date.

Every failure is a ``StoreError`` whose message names the file and says what to do about it.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from kxbtc.errors import KxbtcError
from kxbtc.store.schema import APPLICATION_ID, MIGRATIONS

_SQLITE_MAGIC = b"SQLite format 3\x00"


class StoreError(KxbtcError):
    """The database cannot be opened or written; the message names the file."""


def describe_error(path: Path, exc: BaseException) -> str:
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
        raise StoreError(describe_error(path, exc)) from None


def migrate(conn: sqlite3.Connection, path: Path) -> int:
    """Bring the schema up to date; refuse databases that belong to something else or to a newer kxbtc."""
    try:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
    except sqlite3.Error as exc:
        raise StoreError(describe_error(path, exc)) from None
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
        raise StoreError(describe_error(path, exc)) from None
    return len(MIGRATIONS)
