"""The ``engine`` part of ``kxbtc status`` and the dashboard: is an engine running on this database?

Read from the heartbeat the engine writes (``kxbtc.core.heartbeat``). Liveness is judged on the wall
clock: a beat younger than the bound means running; a final ``stopped`` beat means the engine shut down
cleanly; an old beat means it stopped without saying so (killed, crashed, machine off). The beat's
market time is the data's clock, which the dashboard shows instead of the browser's.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from kxbtc.ops.render import iso_time
from kxbtc.store.live_view import RUNNING, STOPPED, HeartbeatRecord, latest_heartbeat

_NS_PER_S = 1_000_000_000
#: A running engine whose last beat is older than this many seconds (or five intervals) has stopped.
STALE_AFTER_MIN_S = 30.0
JsonObject = dict[str, Any]


def stale_after_s(beat: HeartbeatRecord) -> float:
    return max(STALE_AFTER_MIN_S, 5 * beat.interval_s)


def duration_text(seconds: float) -> str:
    """``4.2 s``, ``3 min 12 s``, ``2 h 05 min``, ``3 d 4 h``."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = int(seconds)
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    if whole < 86_400:
        return f"{whole // 3600} h {whole % 3600 // 60:02d} min"
    return f"{whole // 86_400} d {whole % 86_400 // 3600} h"


def engine_view(conn: sqlite3.Connection, wall_now_ns: int) -> JsonObject | None:
    """The newest heartbeat judged against ``wall_now_ns``; None when no engine ever wrote one."""
    beat = latest_heartbeat(conn)
    if beat is None:
        return None
    age = max(0.0, (wall_now_ns - beat.beat_wall_ns) / _NS_PER_S)
    bound = stale_after_s(beat)
    if beat.state == STOPPED:
        state, text = STOPPED, f"stopped ({beat.mode} engine shut down cleanly {duration_text(age)} ago)"
    elif age > bound:
        state, text = STOPPED, f"stopped (no heartbeat for {duration_text(age)})"
    else:
        state, text = RUNNING, f"running ({beat.mode}, heartbeat {duration_text(age)} ago)"
    return {
        "state": state,
        "text": text,
        "clean_stop": beat.state == STOPPED,
        "mode": beat.mode,
        "engine_id": beat.engine_id,
        "pid": beat.pid,
        "heartbeat_age_s": round(age, 3),
        "stale_after_s": bound,
        "interval_s": beat.interval_s,
        "started": iso_time(beat.started_wall_ns),
        "last_beat": iso_time(beat.beat_wall_ns),
        "market_time_ns": beat.beat_market_ns,
        "market_time": iso_time(beat.beat_market_ns),
        "market_started": iso_time(beat.started_market_ns),
    }


def data_now(conn: sqlite3.Connection, wall_now_ns: int) -> int:
    """The data's clock: the market time of the newest heartbeat, else ``wall_now_ns``."""
    beat = latest_heartbeat(conn)
    return wall_now_ns if beat is None else beat.beat_market_ns


__all__ = ["data_now", "duration_text", "engine_view", "stale_after_s"]
