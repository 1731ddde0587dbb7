"""Opening a kxbtc SQLite file: refuse what is not ours, set the pragmas, bring the schema up to date.

Every failure is a ``StoreError`` whose message names the file and says what to do about it.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from urllib.parse import quote

from kxbtc.errors import KxbtcError
from kxbtc.store.schema import APPLICATION_ID, MIGRATIONS

_SQLITE_MAGIC = b"SQLite format 3\x00"


class StoreError(KxbtcError):
    """The database cannot be opened or written; the message names the file."""


class StoreOpenError(StoreError):
    """The file cannot be used as a kxbtc database (foreign, newer, locked by another process, unreadable):
    the operator must fix ``--db``, so commands exit 2 (usage) on it rather than 1."""


def describe_error(path: Path, exc: BaseException) -> str:
    text = str(exc)
    if "disk is full" in text or "database or disk is full" in text:
        return f"{path}: the disk is full; free space and restart (nothing recorded earlier is lost)"
    if "readonly" in text or "read-only" in text or "attempt to write a readonly database" in text:
        return f"{path}: the database is read-only; choose a writable path"
    if "database is locked" in text:
        return f"{path}: another process holds the database (locked); stop it or choose another --db"
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
        raise StoreOpenError(f"{path}: is a directory, not a database file")
    try:
        with path.open("rb") as fh:
            head = fh.read(len(_SQLITE_MAGIC))
    except OSError as exc:
        raise StoreOpenError(f"{path}: cannot read the database file ({exc.strerror})") from None
    if head and head != _SQLITE_MAGIC:
        raise StoreOpenError(f"{path}: the file is not a valid kxbtc database (corrupt or not SQLite)")


def _uri(path: Path, **params: str) -> str:
    """An SQLite URI for ``path`` (quoted: a ``?`` or ``#`` in a file name must not end the path)."""
    query = "&".join(f"{key}={value}" for key, value in params.items())
    return f"file:{quote(str(path.absolute()))}?{query}"


def _read_only(path: Path) -> sqlite3.Connection:
    """A connection that never writes. A WAL database on read-only media (or in a directory we cannot
    write) cannot get its shared-memory file, so it is opened as immutable, which needs none; that is
    only safe with no write-ahead log left to read, which is checked first."""
    conn = sqlite3.connect(_uri(path, mode="ro"), uri=True, check_same_thread=False)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return conn
    except sqlite3.Error:
        conn.close()
        wal = path.with_name(path.name + "-wal")
        if os.access(path.parent, os.W_OK) or (wal.exists() and wal.stat().st_size > 0):
            raise
    return sqlite3.connect(_uri(path, mode="ro", immutable="1"), uri=True, check_same_thread=False)


def refuse_foreign(conn: sqlite3.Connection, path: Path) -> None:
    """Refuse a database that belongs to something else or to a newer kxbtc. It only reads, so it runs
    before anything (the journal mode, a migration) changes the file."""
    try:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
    except sqlite3.Error as exc:
        raise StoreOpenError(describe_error(path, exc)) from None
    if app_id not in (0, APPLICATION_ID) or (app_id == 0 and tables > 0):
        raise StoreOpenError(f"{path}: this SQLite file belongs to another application; refusing to touch it")
    if version > len(MIGRATIONS):
        raise StoreOpenError(
            f"{path}: schema version {version} is newer than this kxbtc knows"
            f" ({len(MIGRATIONS)}); upgrade kxbtc"
        )


def open_connection(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    check_database_file(path)
    if readonly and not path.exists():
        raise StoreOpenError(f"{path}: no database here yet (run kxbtc first, or pass --db)")
    try:
        if readonly:
            conn = _read_only(path)
        else:
            conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA busy_timeout = 5000")
        if not readonly:
            refuse_foreign(conn, path)
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
        return conn
    except sqlite3.Error as exc:
        raise StoreOpenError(describe_error(path, exc)) from None


def migrate(conn: sqlite3.Connection, path: Path) -> int:
    """Bring the schema up to date; refuse databases that belong to something else or to a newer kxbtc."""
    refuse_foreign(conn, path)
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        for number in range(version, len(MIGRATIONS)):
            conn.execute("BEGIN IMMEDIATE")
            for statement in MIGRATIONS[number].split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number + 1}")
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.execute("COMMIT")
        # A write probe: a database another process holds (an exclusive lock) is refused now, with a
        # message, instead of failing the first write minutes later.
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
    except sqlite3.Error as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise StoreOpenError(describe_error(path, exc)) from None
    return len(MIGRATIONS)
