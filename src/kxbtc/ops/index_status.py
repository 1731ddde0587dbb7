"""The ``index`` part of ``kxbtc status``: the source the engine trades on, its last print and the gap.

The live engine writes one JSON object to the store's key-value table (``kxbtc.engine.index_feed``);
here it is read back and given ages against the caller's clock, so a stopped engine shows as old data
rather than as a current index.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from kxbtc.ops import queries

#: The key ``kxbtc.engine.index_feed.INDEX_KEY`` writes (the same string; ops reads without the engine).
INDEX_KEY = "index_status"

_NS_PER_S = 1_000_000_000
JsonObject = dict[str, Any]


def _age_s(now_ns: int, ts_ns: object) -> float | None:
    return round((now_ns - ts_ns) / _NS_PER_S, 3) if isinstance(ts_ns, int) else None


def index_view(conn: sqlite3.Connection, now_ns: int) -> JsonObject | None:
    """The engine's last index record with ages added; None if no engine wrote one (or it is unreadable)."""
    raw = queries.read_value(conn, INDEX_KEY)
    if not raw:
        return None
    try:
        record = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(record, dict):
        return None
    sources = record.get("sources") or {}
    return {
        "source": record.get("source"),
        "value": record.get("value"),
        "ts_ns": record.get("ts_ns"),
        "age_s": _age_s(now_ns, record.get("ts_ns")),
        "sources": {
            label: {**last, "age_s": _age_s(now_ns, last.get("ts_ns"))} for label, last in sources.items()
        },
        "gap": record.get("gap"),
        "feeds": record.get("feeds", {}),
        "written_ns": record.get("written_ns"),
        "written_age_s": _age_s(now_ns, record.get("written_ns")),
    }


def index_text(view: JsonObject) -> str:
    """One line for the status table: ``kalshi $91,234.56 (2.0 s old); estimate - kalshi: ...``."""
    value, age = view.get("value"), view.get("age_s")
    last = "no print yet" if value is None else f"${value:,.2f} ({age:.1f} s old)"
    head = f"{view.get('source')} {last}"
    gap = view.get("gap") or {}
    if gap.get("last") is None:
        return f"{head}; no gap to Kalshi measured in the last {gap.get('window_s', '?')} s"
    return (
        f"{head}; estimate - kalshi: last {gap['last']:+.2f}, mean {gap['mean']:+.2f},"
        f" max |{gap['max_abs']:.2f}| over {gap['seconds']} s in the last {gap['window_s']} s"
    )


__all__ = ["INDEX_KEY", "index_text", "index_view"]
