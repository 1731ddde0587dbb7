"""The SQLite schema as an ordered list of migrations.

``PRAGMA user_version`` holds the number of migrations applied. A migration is never edited once
released: add a new one. Money and counts are INTEGER columns in the wire's own units (Money 1e-6 $,
Price 1e-4 $, Count 1e-2 contracts); timestamps are integer nanoseconds since the epoch (``*_ns``).
"""

from __future__ import annotations

#: Written into ``application_id`` so a foreign SQLite file is recognised as not ours ("KXBT").
APPLICATION_ID = 0x4B584254

MIGRATIONS: tuple[str, ...] = (
    # 1: the initial schema.
    """
    CREATE TABLE orders (
        client_order_id TEXT PRIMARY KEY,
        order_id        TEXT UNIQUE,
        ticker          TEXT NOT NULL,
        side            TEXT NOT NULL CHECK (side IN ('bid', 'ask')),
        price           INTEGER NOT NULL,
        count           INTEGER NOT NULL,
        time_in_force   TEXT NOT NULL,
        strategy        TEXT NOT NULL DEFAULT '',
        status          TEXT NOT NULL,
        fill_count      INTEGER NOT NULL DEFAULT 0,
        remaining_count INTEGER NOT NULL DEFAULT 0,
        fees            INTEGER NOT NULL DEFAULT 0,
        exchange_index  INTEGER,
        created_ns      INTEGER NOT NULL,
        updated_ns      INTEGER NOT NULL
    );
    CREATE INDEX orders_status ON orders (status);
    CREATE INDEX orders_ticker ON orders (ticker);

    CREATE TABLE order_events (
        id              INTEGER PRIMARY KEY,
        client_order_id TEXT NOT NULL,
        order_id        TEXT,
        ts_ns           INTEGER NOT NULL,
        kind            TEXT NOT NULL,
        status          TEXT,
        fill_count      INTEGER,
        remaining_count INTEGER,
        detail          TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX order_events_coid ON order_events (client_order_id);

    CREATE TABLE fills (
        fill_id         TEXT PRIMARY KEY,
        order_id        TEXT NOT NULL,
        ticker          TEXT NOT NULL,
        side            TEXT NOT NULL CHECK (side IN ('bid', 'ask')),
        price           INTEGER NOT NULL,
        count           INTEGER NOT NULL,
        fee             INTEGER NOT NULL,
        is_taker        INTEGER NOT NULL,
        ts_ns           INTEGER NOT NULL,
        strategy        TEXT NOT NULL DEFAULT '',
        source          TEXT NOT NULL DEFAULT 'ws'
    );
    CREATE INDEX fills_ticker ON fills (ticker);
    CREATE INDEX fills_order ON fills (order_id);

    CREATE TABLE positions (
        ticker          TEXT PRIMARY KEY,
        position        INTEGER NOT NULL,
        exposure        INTEGER NOT NULL DEFAULT 0,
        realized_pnl    INTEGER NOT NULL DEFAULT 0,
        fees_paid       INTEGER NOT NULL DEFAULT 0,
        updated_ns      INTEGER NOT NULL
    );

    CREATE TABLE settlements (
        ticker          TEXT PRIMARY KEY,
        event_ticker    TEXT NOT NULL DEFAULT '',
        result          TEXT NOT NULL,
        yes_count       INTEGER NOT NULL,
        no_count        INTEGER NOT NULL,
        yes_cost        INTEGER NOT NULL,
        no_cost         INTEGER NOT NULL,
        revenue         INTEGER NOT NULL,
        fee             INTEGER NOT NULL,
        settled_ns      INTEGER NOT NULL
    );

    CREATE TABLE balance_snapshots (
        id              INTEGER PRIMARY KEY,
        ts_ns           INTEGER NOT NULL,
        balance         INTEGER NOT NULL,
        portfolio_value INTEGER NOT NULL,
        source          TEXT NOT NULL
    );

    CREATE TABLE pnl_snapshots (
        id              INTEGER PRIMARY KEY,
        ts_ns           INTEGER NOT NULL,
        day             TEXT NOT NULL,
        equity          INTEGER NOT NULL,
        realized        INTEGER NOT NULL,
        unrealized_mid  INTEGER NOT NULL,
        unrealized_exit INTEGER NOT NULL,
        fees            INTEGER NOT NULL
    );

    CREATE TABLE decisions (
        id              INTEGER PRIMARY KEY,
        ts_ns           INTEGER NOT NULL,
        strategy        TEXT NOT NULL,
        ticker          TEXT NOT NULL,
        inputs          TEXT NOT NULL,
        intent          TEXT NOT NULL,
        reason          TEXT NOT NULL
    );

    CREATE TABLE risk_events (
        id              INTEGER PRIMARY KEY,
        ts_ns           INTEGER NOT NULL,
        kind            TEXT NOT NULL,
        severity        TEXT NOT NULL,
        detail          TEXT NOT NULL
    );

    CREATE TABLE llm_calls (
        id              INTEGER PRIMARY KEY,
        ts_ns           INTEGER NOT NULL,
        provider        TEXT NOT NULL,
        model           TEXT NOT NULL,
        role            TEXT NOT NULL,
        request         TEXT NOT NULL,
        response        TEXT NOT NULL,
        ok              INTEGER NOT NULL,
        latency_ms      INTEGER NOT NULL,
        cost            INTEGER NOT NULL DEFAULT 0
    );

    CREATE TABLE kv (
        key             TEXT PRIMARY KEY,
        value           TEXT NOT NULL
    );
    """,
    # 2: what a running engine publishes for the operator: its heartbeat and each live market's state.
    """
    CREATE TABLE heartbeats (
        engine_id         TEXT PRIMARY KEY,
        pid               INTEGER NOT NULL,
        mode              TEXT NOT NULL,
        state             TEXT NOT NULL CHECK (state IN ('running', 'stopped')),
        interval_s        REAL NOT NULL,
        started_wall_ns   INTEGER NOT NULL,
        started_market_ns INTEGER NOT NULL,
        beat_wall_ns      INTEGER NOT NULL,
        beat_market_ns    INTEGER NOT NULL
    );

    CREATE TABLE market_state (
        ticker          TEXT PRIMARY KEY,
        engine_id       TEXT NOT NULL,
        ts_ns           INTEGER NOT NULL,
        close_ns        INTEGER NOT NULL,
        state           TEXT NOT NULL
    );
    """,
)
