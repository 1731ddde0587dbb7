"""What a running engine publishes for the operator, beside its ledger: a heartbeat and the latest state
of each live market (tables ``heartbeats`` and ``market_state``, migration 2).

The engine (and the in-process demo) writes them through the store's writer thread on its timer, at a
modest rate, never on the book path; ``kxbtc status`` and the dashboard read them back read-only. A
database written by an older kxbtc has neither table: the readers answer "nothing" rather than fail.

Units as everywhere in the store: prices are Price integers (1e-4 $), counts Count integers (1e-2
contracts), index values integer cents, times integer nanoseconds. Each heartbeat carries two times:
the machine's wall clock (how long ago, for liveness) and the engine's own clock (the market's time,
which for the simulator is simulated time).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict, dataclass, field
from typing import Any

RUNNING = "running"
STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class HeartbeatRecord:
    engine_id: str
    pid: int
    mode: str  # e.g. "demo", "sim", "kalshi-demo", "kalshi-prod"
    state: str  # running | stopped (written once, at a clean shutdown)
    interval_s: float  # beats are this many seconds of the engine's clock apart
    started_wall_ns: int
    started_market_ns: int
    beat_wall_ns: int
    beat_market_ns: int


@dataclass(frozen=True, slots=True)
class MarketStateRecord:
    """One live market as the engine saw it at ``ts_ns`` (its own clock)."""

    ticker: str
    series: str
    title: str
    strike_type: str
    floor_strike: float | None
    cap_strike: float | None
    open_ns: int
    close_ns: int
    ts_ns: int
    #: The YES side of the book: bids best (highest) first, asks best (lowest) first, (price, count).
    yes_bids: list[tuple[int, int]] = field(default_factory=list)
    yes_asks: list[tuple[int, int]] = field(default_factory=list)
    #: The model's P(YES) as a price (1e-4 $), None while the index cannot price it.
    fair_yes: int | None = None
    #: The settlement window (the last 60 index seconds before the close) as it forms.
    window_count: int = 0
    window_sum_cents: int = 0
    index_cents: int | None = None
    index_source: str = ""
    index_ts_ns: int = 0
    index_stale: bool = True
    #: ok | stale | crossed | no book; ``book_note`` says why when not ok.
    book_state: str = "no book"
    book_note: str = ""
    position: int = 0
    #: Spot feeds behind an index estimate, venue -> health (empty when the index is Kalshi's own).
    feeds: dict[str, str] = field(default_factory=dict)


def heartbeat_statement(beat: HeartbeatRecord) -> tuple[str, tuple[Any, ...]]:
    row = (
        beat.engine_id, beat.pid, beat.mode, beat.state, beat.interval_s, beat.started_wall_ns,
        beat.started_market_ns, beat.beat_wall_ns, beat.beat_market_ns,
    )  # fmt: skip
    return (
        "INSERT INTO heartbeats (engine_id, pid, mode, state, interval_s, started_wall_ns,"
        " started_market_ns, beat_wall_ns, beat_market_ns) VALUES (?,?,?,?,?,?,?,?,?)"
        " ON CONFLICT(engine_id) DO UPDATE SET state = excluded.state,"
        " beat_wall_ns = excluded.beat_wall_ns, beat_market_ns = excluded.beat_market_ns",
        row,
    )


def market_state_statements(
    engine_id: str, states: list[MarketStateRecord]
) -> list[tuple[str, tuple[Any, ...]]]:
    """Upsert each market's row and drop this engine's rows for markets it no longer follows."""
    statements: list[tuple[str, tuple[Any, ...]]] = [
        (
            "INSERT INTO market_state (ticker, engine_id, ts_ns, close_ns, state) VALUES (?,?,?,?,?)"
            " ON CONFLICT(ticker) DO UPDATE SET engine_id = excluded.engine_id, ts_ns = excluded.ts_ns,"
            " close_ns = excluded.close_ns, state = excluded.state",
            (s.ticker, engine_id, s.ts_ns, s.close_ns, json.dumps(asdict(s), separators=(",", ":"))),
        )
        for s in states
    ]
    tickers = [s.ticker for s in states]
    marks = ",".join("?" * len(tickers))
    statements.append(
        (f"DELETE FROM market_state WHERE engine_id = ? AND ticker NOT IN ({marks})", (engine_id, *tickers))
    )
    return statements


# -- reads (read-only connections; a database from before migration 2 has no such tables) -----------


def _missing_table(exc: sqlite3.OperationalError) -> bool:
    return "no such table" in str(exc)


def latest_heartbeat(conn: sqlite3.Connection) -> HeartbeatRecord | None:
    """The heartbeat written last (by wall time), or None when no engine ever wrote one."""
    try:
        row = conn.execute(
            "SELECT engine_id, pid, mode, state, interval_s, started_wall_ns, started_market_ns,"
            " beat_wall_ns, beat_market_ns FROM heartbeats ORDER BY beat_wall_ns DESC LIMIT 1"
        ).fetchone()
    except sqlite3.OperationalError as exc:
        if _missing_table(exc):
            return None
        raise
    return None if row is None else HeartbeatRecord(*row)


def read_market_states(conn: sqlite3.Connection) -> list[MarketStateRecord]:
    """Every published market, soonest close first; rows that do not parse are skipped."""
    try:
        rows = conn.execute("SELECT state FROM market_state ORDER BY close_ns, ticker").fetchall()
    except sqlite3.OperationalError as exc:
        if _missing_table(exc):
            return []
        raise
    out = []
    for (text,) in rows:
        record = _market_state(text)
        if record is not None:
            out.append(record)
    return out


def _market_state(text: str) -> MarketStateRecord | None:
    try:
        data = json.loads(text)
        data["yes_bids"] = [(int(p), int(c)) for p, c in data.get("yes_bids", [])]
        data["yes_asks"] = [(int(p), int(c)) for p, c in data.get("yes_asks", [])]
        return MarketStateRecord(**data)
    except (ValueError, TypeError, KeyError):
        return None
