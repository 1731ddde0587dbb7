"""The history database: one SQLite file with markets, candles, trades, spot candles and fetch progress.

Why it survives a SIGKILL without duplicates:

- every table has a primary key from the venue's own identity (ticker, ticker + minute, trade id,
  product + minute) and rows go in with ``INSERT OR IGNORE``, so writing a page twice is a no-op;
- a page's rows and the progress that says "this page is done, continue at cursor C" are committed in
  one transaction, so after a kill the database holds either both or neither, and a restart re-asks at
  most the page that was in flight.

WAL mode lets a reader (a test, a notebook) look at the file while a fetch writes it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import astuple, dataclass, fields
from pathlib import Path
from typing import Any

from kxbtc.errors import ConfigError
from kxbtc.history.rows import CandleRow, MarketRow, SpotCandleRow, TradeRow

SCHEMA = """
CREATE TABLE IF NOT EXISTS markets (
    ticker TEXT PRIMARY KEY,
    series_ticker TEXT NOT NULL,
    event_ticker TEXT NOT NULL,
    open_ts INTEGER NOT NULL,
    close_ts INTEGER NOT NULL,
    settled_ts INTEGER,
    status TEXT NOT NULL,
    result TEXT NOT NULL,
    strike_type TEXT,
    floor_strike_cents INTEGER,
    cap_strike_cents INTEGER,
    expiration_value_cents INTEGER,
    volume INTEGER,
    archived INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS markets_by_series_close ON markets (series_ticker, close_ts);
CREATE TABLE IF NOT EXISTS candles (
    ticker TEXT NOT NULL,
    end_ts INTEGER NOT NULL,
    yes_bid_open INTEGER, yes_bid_low INTEGER, yes_bid_high INTEGER, yes_bid_close INTEGER,
    yes_ask_open INTEGER, yes_ask_low INTEGER, yes_ask_high INTEGER, yes_ask_close INTEGER,
    price_open INTEGER, price_low INTEGER, price_high INTEGER, price_close INTEGER,
    price_mean INTEGER, price_previous INTEGER,
    volume INTEGER,
    open_interest INTEGER,
    PRIMARY KEY (ticker, end_ts)
);
CREATE TABLE IF NOT EXISTS trades (
    trade_id TEXT PRIMARY KEY,
    ticker TEXT NOT NULL,
    created_ns INTEGER NOT NULL,
    yes_price INTEGER NOT NULL,
    no_price INTEGER NOT NULL,
    count INTEGER NOT NULL,
    taker_outcome_side TEXT,
    is_block_trade INTEGER
);
CREATE INDEX IF NOT EXISTS trades_by_ticker ON trades (ticker, created_ns);
CREATE TABLE IF NOT EXISTS spot_candles (
    product TEXT NOT NULL,
    start_ts INTEGER NOT NULL,
    low_cents INTEGER NOT NULL,
    high_cents INTEGER NOT NULL,
    open_cents INTEGER NOT NULL,
    close_cents INTEGER NOT NULL,
    volume_e8 INTEGER NOT NULL,
    PRIMARY KEY (product, start_ts)
);
CREATE TABLE IF NOT EXISTS progress (
    task TEXT PRIMARY KEY,
    cursor TEXT NOT NULL DEFAULT '',
    done INTEGER NOT NULL DEFAULT 0
);
"""

Row = MarketRow | CandleRow | TradeRow | SpotCandleRow

_TABLES: dict[type[Any], str] = {
    MarketRow: "markets",
    CandleRow: "candles",
    TradeRow: "trades",
    SpotCandleRow: "spot_candles",
}


@dataclass(frozen=True, slots=True)
class Progress:
    """Where a paged task stands: ``cursor`` to continue from ("" = the start), or ``done``."""

    cursor: str = ""
    done: bool = False


class HistoryDb:
    """The history database file; one writer at a time."""

    def __init__(self, path: Path) -> None:
        try:
            self.conn = sqlite3.connect(path, isolation_level=None)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA busy_timeout=5000")
            self.conn.executescript(SCHEMA)
        except sqlite3.Error as exc:
            raise ConfigError(f"cannot use {path} as the history database: {exc}") from None

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> HistoryDb:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def progress(self, task: str) -> Progress:
        row = self.conn.execute("SELECT cursor, done FROM progress WHERE task = ?", (task,)).fetchone()
        return Progress() if row is None else Progress(str(row[0]), bool(row[1]))

    def commit_page(self, rows: Sequence[Row], task: str, progress: Progress) -> int:
        """Insert ``rows`` (duplicates ignored) and record ``task``'s progress, atomically.
        Returns how many rows were new."""
        added = 0
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            for row in rows:
                added += self._insert(row)
            self.conn.execute(
                "INSERT INTO progress (task, cursor, done) VALUES (?, ?, ?) "
                "ON CONFLICT(task) DO UPDATE SET cursor = excluded.cursor, done = excluded.done",
                (task, progress.cursor, int(progress.done)),
            )
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")
        return added

    def _insert(self, row: Row) -> int:
        table = _TABLES[type(row)]
        names = [f.name for f in fields(row)]
        sql = f"INSERT OR IGNORE INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
        return self.conn.execute(sql, astuple(row)).rowcount

    def markets_closing_in(self, series: str, start_ts: int, end_ts: int) -> list[MarketRow]:
        """The stored markets of ``series`` closing in [start_ts, end_ts), by close time then ticker."""
        names = [f.name for f in fields(MarketRow)]
        rows = self.conn.execute(
            f"SELECT {', '.join(names)} FROM markets WHERE series_ticker = ? AND close_ts >= ? "
            "AND close_ts < ? ORDER BY close_ts, ticker",
            (series, start_ts, end_ts),
        ).fetchall()
        return [MarketRow(*row) for row in rows]

    def count_scope(self, series: str, start_ts: int, end_ts: int, product: str) -> dict[str, int]:
        """Rows stored for one fetch's scope: its markets, their candles and trades, the spot candles."""
        in_scope = "SELECT ticker FROM markets WHERE series_ticker = ? AND close_ts >= ? AND close_ts < ?"
        scope = (series, start_ts, end_ts)

        def one(sql: str, params: tuple[object, ...]) -> int:
            return int(self.conn.execute(sql, params).fetchone()[0])

        return {
            "markets": one(f"SELECT COUNT(*) FROM ({in_scope})", scope),
            "candles": one(f"SELECT COUNT(*) FROM candles WHERE ticker IN ({in_scope})", scope),
            "trades": one(f"SELECT COUNT(*) FROM trades WHERE ticker IN ({in_scope})", scope),
            "spot_candles": one(
                "SELECT COUNT(*) FROM spot_candles WHERE product = ? AND start_ts >= ? AND start_ts < ?",
                (product, start_ts, end_ts),
            ),
        }


__all__ = ["SCHEMA", "HistoryDb", "Progress", "Row"]
