"""The manual kill switch, as ``kxbtc halt`` / ``kxbtc resume`` and the dashboard's buttons throw it.

Halting sets the store's kv key "halted" to the reason and records a ``manual_halt`` risk event, in one
transaction; resuming clears the key and records a ``resume`` event. The running engine polls the key.
Errors are raised as they are (``DatabaseUnusable``, ``StoreError``, ``sqlite3.Error``): the caller
decides how to show them.
"""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

from kxbtc.ops import queries
from kxbtc.ops.queries import HALT_KEY
from kxbtc.store.records import RiskEventRecord

DEFAULT_HALT_REASON = "manual halt by the operator"
RESUME_DETAIL = "trading resumed by the operator"


def _switch(db: Path, reason: str, event: RiskEventRecord) -> str:
    with closing(queries.open_for_write(db)) as conn:
        return queries.set_halt(conn, db, reason=reason, event=event)


def halt(db: Path, reason: str, now_ns: int) -> str:
    """Stop trading for ``reason`` (must not be blank); returns the previous reason ("" if running)."""
    if not reason:
        raise ValueError("a halt needs a reason (an empty reason means running)")
    return _switch(db, reason, RiskEventRecord(now_ns, "manual_halt", "halt", reason))


def current_halt(db: Path) -> str:
    """The halt reason in force, or "" while trading runs (read-only)."""
    with closing(queries.open_readonly(db)) as conn:
        return queries.read_value(conn, HALT_KEY) or ""


def resume(db: Path, now_ns: int) -> str:
    """Lift the manual halt; returns the reason it lifted, or "" when trading was not halted (then
    nothing is written)."""
    halted = current_halt(db)
    if not halted:
        return ""
    _switch(db, "", RiskEventRecord(now_ns, "resume", "info", RESUME_DETAIL))
    return halted
