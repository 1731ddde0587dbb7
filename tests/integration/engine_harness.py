"""Wiring shared by the engine-against-simulator integration tests (faults, kill and restart).

The in-process wiring copies ``kxbtc.engine.demo.run_demo``: the exchange and the engine share one
``ScaledClock``; signatures and WS housekeeping use real time, as the simulator checks signatures
against the wall clock.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from kxbtc.clock import NS_PER_S, ScaledClock
from kxbtc.config import Config, load_config
from kxbtc.engine.audit import LedgerComparison, compare_with_simulator
from kxbtc.engine.core import Engine
from kxbtc.engine.paper import paper_engine
from kxbtc.sim.exchange import Exchange, SimConfig
from kxbtc.sim.harness import SimHarness
from kxbtc.sim.server import ServerConfig
from kxbtc.store.connection import open_connection
from kxbtc.store.db import SqliteStore
from kxbtc.store.reads import read_fills, read_orders
from kxbtc.store.records import FillRecord, OrderRecord

#: Order states that mean "we do not know what the exchange did" (reconciliation must resolve them).
UNRESOLVED_STATES = ("intended", "unknown")


def sim_start_ns(iso: str) -> int:
    return int(datetime.fromisoformat(iso).replace(tzinfo=UTC).timestamp()) * NS_PER_S


@dataclass(slots=True)
class EngineRun:
    """What an in-process run leaves behind for the assertions."""

    engine: Engine
    exchange: Exchange
    user_id: str
    audit: LedgerComparison
    db_fills: list[FillRecord]
    db_orders: list[OrderRecord]
    exchange_fill_ids: list[str]
    exchange_client_order_ids: list[str | None] = field(default_factory=list)


async def run_engine_in_process(
    db_path: Path,
    *,
    seed: int,
    speed: float,
    start_iso: str,
    sim_minutes: float,
    sim_config: SimConfig,
    server_config: ServerConfig,
    config: Config | None = None,
) -> EngineRun:
    """Run the engine against a seeded simulator for ``sim_minutes`` of simulated time, then audit."""
    clock = ScaledClock(speed, start_ns=sim_start_ns(start_iso))
    exchange = Exchange(clock, seed=seed, config=sim_config)
    config = config or load_config(None, environ={})
    async with SimHarness(exchange, config=server_config, step_interval_s=0.02) as sim:
        store = SqliteStore(db_path)
        user_id = sim.user_id()
        async with paper_engine(config, sim, store, clock) as engine:
            await engine.run(until_ns=clock.time_ns() + int(sim_minutes * 60 * NS_PER_S))
            # No await between the engine's final reconcile and here, so the exchange cannot move on.
            audit = compare_with_simulator(store, exchange, user_id, exchange.config.start_balance)
            run = EngineRun(
                engine=engine,
                exchange=exchange,
                user_id=user_id,
                audit=audit,
                db_fills=store.fills(),
                db_orders=store.orders(),
                exchange_fill_ids=[f.fill_id for f in exchange.accounts.fills.get(user_id, [])],
                exchange_client_order_ids=exchange_client_order_ids(exchange, user_id),
            )
        store.close()
    return run


def exchange_client_order_ids(exchange: Exchange, user_id: str) -> list[str | None]:
    """Every order this user ever placed, as the exchange recorded it (pages through its own listing)."""
    ids: list[str | None] = []
    cursor = ""
    while True:
        page = exchange.orders_page(user_id, cursor=cursor, limit=1000)
        ids += [o.client_order_id for o in page.items]
        if not page.cursor:
            return ids
        cursor = page.cursor


def duplicates(values: list[str | None]) -> list[str | None]:
    return [v for v, n in Counter(values).items() if n > 1]


def read_db(db_path: Path) -> tuple[list[FillRecord], list[OrderRecord]]:
    """The fills and orders in a database another process may still be writing (read-only)."""
    conn = open_connection(db_path, readonly=True)
    try:
        return read_fills(conn), read_orders(conn)
    finally:
        conn.close()


def order_event_kinds(db_path: Path) -> Counter[tuple[str, str]]:
    """How often each (event kind, status) pair was recorded for orders: shows which paths ran."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT kind, COALESCE(status, '') FROM order_events").fetchall()
    finally:
        conn.close()
    return Counter((str(kind), str(status)) for kind, status in rows)
