"""The engine's heartbeat in its database and what ``kxbtc status`` makes of it: running with the beat's
age, stopped after a clean shutdown, stopped when the beats stop coming; the data's clock is the market
time of the last beat (simulated time for the demo), the age is judged on the wall clock."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from kxbtc.cli import EXIT_OK, cli
from kxbtc.clock import NS_PER_S, ManualClock
from kxbtc.core.heartbeat import Heartbeat
from kxbtc.ops.engine_status import duration_text, engine_view
from kxbtc.store.db import SqliteStore
from kxbtc.store.live_view import latest_heartbeat

MARKET_START = 1_778_673_600 * NS_PER_S  # 2026-05-13T12:00:00Z, simulated
WALL_START = 1_796_601_600 * NS_PER_S  # 2026-12-07T00:00:00Z


def beats(path: Path) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT state, beat_market_ns, beat_wall_ns FROM heartbeats").fetchall()
    finally:
        conn.close()


def status_json(path: Path, wall_ns: int) -> dict[str, Any]:
    result = CliRunner().invoke(
        cli, ["status", "--db", str(path), "--json"], obj={"clock": ManualClock(wall_ns)}
    )
    assert result.exit_code == EXIT_OK, result.output
    return dict(json.loads(result.stdout))


def test_beats_every_interval_of_the_engines_clock_and_says_stopped_at_a_clean_shutdown(
    tmp_path: Path,
) -> None:
    path = tmp_path / "kxbtc.db"
    store = SqliteStore(path)
    market, wall = ManualClock(MARKET_START), ManualClock(WALL_START)
    heart = Heartbeat(store, market, mode="demo", every_s=5.0, wall_clock=wall)
    heart.start()
    market.advance(4.9)
    heart.maybe_beat()  # not due yet
    store.flush()
    assert beats(path) == [("running", MARKET_START, WALL_START)]
    market.advance(0.1)
    wall.advance(0.01)  # the demo's clock runs far faster than the wall's
    heart.maybe_beat()
    store.flush()
    assert beats(path) == [("running", MARKET_START + 5 * NS_PER_S, WALL_START + 10**7)]
    heart.stop()
    heart.maybe_beat()  # nothing after the final beat
    store.close()
    assert beats(path) == [("stopped", MARKET_START + 5 * NS_PER_S, WALL_START + 10**7)]


def test_status_says_running_with_the_age_then_stopped_when_the_beats_stop(tmp_path: Path) -> None:
    path = tmp_path / "kxbtc.db"
    store = SqliteStore(path)
    market, wall = ManualClock(MARKET_START), ManualClock(WALL_START)
    Heartbeat(store, market, mode="kalshi-prod", every_s=5.0, wall_clock=wall).start()
    store.close()

    fresh = status_json(path, WALL_START + 3 * NS_PER_S)["engine"]
    assert (fresh["state"], fresh["mode"], fresh["heartbeat_age_s"]) == ("running", "kalshi-prod", 3.0)
    assert fresh["text"] == "running (kalshi-prod, heartbeat 3.0 s ago)"
    assert fresh["market_time"] == "2026-05-13T12:00:00.000Z"

    # The process died without a final beat: past the bound it is stopped, with how long it has been.
    dead = status_json(path, WALL_START + 7_500 * NS_PER_S)
    assert dead["engine"]["state"] == "stopped" and dead["engine"]["clean_stop"] is False
    assert dead["engine"]["text"] == "stopped (no heartbeat for 2 h 05 min)"
    # One clock for the data: "today" and the data time follow the market, not the wall.
    assert dead["data_time"] == "2026-05-13T12:00:00.000Z" and dead["today"]["day"] == "2026-05-13"
    for key in ("db", "schema_version", "halted", "balance", "equity", "today", "index", "trading_mode"):
        assert key in dead  # the keys status always had are kept

    table = CliRunner().invoke(
        cli, ["status", "--db", str(path)], obj={"clock": ManualClock(WALL_START + 40 * NS_PER_S)}
    )
    assert "stopped (no heartbeat for 40.0 s)" in table.stdout


def test_a_database_no_engine_beat_in_says_so(tmp_path: Path) -> None:
    path = tmp_path / "kxbtc.db"
    SqliteStore(path).close()
    status = status_json(path, WALL_START)
    assert status["engine"] is None and status["data_time"] == "2026-12-07T00:00:00.000Z"
    table = CliRunner().invoke(cli, ["status", "--db", str(path)], obj={"clock": ManualClock(WALL_START)})
    assert "no heartbeat" in table.stdout


def test_a_database_from_before_the_heartbeat_reads_as_no_engine(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    SqliteStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute("DROP TABLE heartbeats")
    conn.close()
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        assert latest_heartbeat(conn) is None and engine_view(conn, WALL_START) is None
    finally:
        conn.close()


def test_durations_read_like_a_person_wrote_them() -> None:
    assert [duration_text(s) for s in (0.04, 59.94, 60, 3_599, 3_600, 86_399, 90_000)] == [
        "0.0 s", "59.9 s", "1 min 00 s", "59 min 59 s", "1 h 00 min", "23 h 59 min", "1 d 1 h",
    ]  # fmt: skip
