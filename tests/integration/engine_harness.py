"""Wiring shared by the engine-against-simulator integration tests.

In-process runs use virtual time: the simulator and the engine share one event loop
(``kxbtc.virtual_loop``, started by ``run_virtual``) and one ``LoopClock`` for everything (the exchange,
the engine, signatures, rate limits, WS pings and backoff), so a run is the same however fast the machine
is. ``virtual_engine`` is ``kxbtc.engine.paper.paper_engine`` with that one clock in every place where the
paper wiring uses the system clock.
"""

from __future__ import annotations

import functools
import sqlite3
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ParamSpec

from kxbtc.clock import NS_PER_S, Clock, LoopClock
from kxbtc.config import Config, load_config
from kxbtc.engine.audit import LedgerComparison, compare_with_simulator
from kxbtc.engine.core import Engine
from kxbtc.engine.paper import paper_engine
from kxbtc.kalshi.rest import KalshiRestClient
from kxbtc.kalshi.ws import KalshiWsClient
from kxbtc.sim.exchange import Exchange, SimConfig
from kxbtc.sim.harness import SimHarness
from kxbtc.sim.server import ServerConfig
from kxbtc.store.connection import open_connection
from kxbtc.store.db import SqliteStore
from kxbtc.store.reads import read_fills, read_orders
from kxbtc.store.records import FillRecord, OrderRecord
from kxbtc.strategy.base import Strategy
from kxbtc.virtual_loop import run_virtual

P = ParamSpec("P")

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


def on_virtual_time(test: Callable[P, Coroutine[Any, Any, None]]) -> Callable[P, None]:
    """Run an ``async def`` test on a virtual-time loop of its own (``run_virtual``), not pytest-asyncio's."""

    @functools.wraps(test)
    def run(*args: P.args, **kwargs: P.kwargs) -> None:
        run_virtual(test(*args, **kwargs))

    return run


def virtual_sim(exchange: Exchange, **kwargs: Any) -> SimHarness:
    """A ``SimHarness`` whose signature checks and rate limits run on the exchange's (virtual) clock."""
    return SimHarness(exchange, real_clock=exchange.clock, **kwargs)


@asynccontextmanager
async def virtual_engine(
    config: Config,
    sim: SimHarness,
    store: SqliteStore,
    clock: Clock,
    *,
    series: Sequence[str] = ("KXBTC15M",),
    strategies: Sequence[Strategy] | None = None,
    reconcile_every_s: float = 60.0,
    refresh_every_s: float = 15.0,
) -> AsyncIterator[Engine]:
    """``paper_engine`` with ``clock`` for the sockets' housekeeping too: one clock for everything."""
    async with paper_engine(
        config,
        sim,
        store,
        clock,
        series=series,
        strategies=strategies,
        reconcile_every_s=reconcile_every_s,
        refresh_every_s=refresh_every_s,
        housekeeping_clock=clock,
    ) as engine:
        yield engine


@asynccontextmanager
async def bare_engine(
    config: Config, sim: SimHarness, store: SqliteStore, clock: Clock, **engine_options: Any
) -> AsyncIterator[Engine]:
    """An engine without strategies on ``sim``'s first trusted key, ``clock`` everywhere, built by hand
    rather than by ``paper_engine`` so a test can pass what the paper wiring fixes (``engine_options``:
    spot feeds, wall clock, mode, gc freezing)."""
    signer = sim.signer()
    async with KalshiRestClient(sim.rest_url, signer, clock) as rest:
        yield Engine(
            config,
            rest=rest,
            ws=KalshiWsClient(sim.ws_url, signer, clock),
            store=store,
            clock=clock,
            run_id=uuid.uuid4().hex,
            strategies=[],
            **engine_options,
        )


async def until(
    condition: Callable[[], bool], clock: Clock, *, timeout_s: float, step_s: float = 0.05
) -> None:
    """Wait until ``condition()`` holds, checking every ``step_s`` of ``clock`` time; fail after ``timeout_s``
    of it (on virtual time both are simulated seconds, so the wait is the same on any machine)."""
    deadline = clock.monotonic() + timeout_s
    while not condition():
        assert clock.monotonic() < deadline, f"condition not met within {timeout_s} clock seconds"
        await clock.sleep(step_s)


async def run_engine_in_process(
    db_path: Path,
    *,
    seed: int,
    start_iso: str,
    sim_minutes: float,
    sim_config: SimConfig,
    server_config: ServerConfig,
    config: Config | None = None,
) -> EngineRun:
    """Run the engine against a seeded simulator for ``sim_minutes`` of simulated time, then audit.

    Run it on virtual time: ``run_virtual(run_engine_in_process(...))``."""
    clock = LoopClock(sim_start_ns(start_iso))
    exchange = Exchange(clock, seed=seed, config=sim_config)
    config = config or load_config(None, environ={})
    async with virtual_sim(exchange, config=server_config, step_interval_s=0.02) as sim:
        store = SqliteStore(db_path)
        user_id = sim.user_id()
        async with virtual_engine(config, sim, store, clock) as engine:
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
