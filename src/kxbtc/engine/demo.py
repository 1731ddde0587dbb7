"""``kxbtc demo``: the built-in simulator and the full engine in paper mode, at an accelerated clock.

Several 15-minute markets open, trade and settle within a couple of real minutes; at the end the local
ledger is compared, fill by fill, with the simulator's own, and the summary says whether they agree.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from kxbtc.clock import NS_PER_S, ScaledClock
from kxbtc.config import Config
from kxbtc.engine.audit import LedgerComparison, compare_with_simulator
from kxbtc.engine.core import Engine
from kxbtc.engine.paper import paper_engine
from kxbtc.sim.exchange import Exchange, SimConfig
from kxbtc.sim.harness import SimHarness
from kxbtc.store.db import SqliteStore
from kxbtc.units import format_money

SETTLED_STATUSES = ("determined", "finalized", "settled")


@dataclass(slots=True)
class DemoSummary:
    seed: int
    speed: float
    minutes: float
    sim_minutes: float
    settled_markets: int
    markets_traded: int
    orders: int
    fills: int
    fees_usd: str
    realized_pnl_usd: str
    risk_events: list[dict[str, str]]
    ledger_matches: bool
    mismatches: list[str] = field(default_factory=list)
    rejections: dict[str, int] = field(default_factory=dict)
    db_path: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _summary(
    engine: Engine,
    exchange: Exchange,
    audit: LedgerComparison,
    *,
    seed: int,
    speed: float,
    minutes: float,
    db_path: str,
) -> DemoSummary:
    watched = [t for t in engine.stats.markets_seen if t in exchange.markets]
    settled = [t for t in watched if exchange.markets[t].status in SETTLED_STATUSES]
    fills = engine.store.fills()
    return DemoSummary(
        seed=seed,
        speed=speed,
        minutes=minutes,
        sim_minutes=round(minutes * speed, 1),
        settled_markets=len(settled),
        markets_traded=len({f.ticker for f in fills}),
        orders=engine.router.sent,
        fills=len(fills),
        fees_usd=format_money(audit.fees_local),
        realized_pnl_usd=format_money(audit.realized_local),
        risk_events=[
            {"kind": e.kind, "severity": e.severity, "detail": e.detail} for e in engine.store.risk_events()
        ],
        ledger_matches=audit.matches,
        mismatches=audit.mismatches,
        rejections=dict(engine.stats.rejected),
        db_path=db_path,
    )


async def run_demo(
    config: Config,
    *,
    minutes: float = 2.0,
    speed: float = 40.0,
    seed: int = 1,
    db_path: Path | None = None,
    series: tuple[str, ...] = ("KXBTC15M",),
    sim_config: SimConfig | None = None,
    on_tick: Callable[[Engine, float], None] | None = None,
) -> DemoSummary:
    """Run the demo for ``minutes`` of real time; the simulated clock runs ``speed`` times faster."""
    clock = ScaledClock(speed)
    exchange = Exchange(clock, seed=seed, config=sim_config)
    tmp = None
    if db_path is None:
        tmp = tempfile.TemporaryDirectory(prefix="kxbtc-demo-")
        db_path = Path(tmp.name) / "kxbtc.db"
    try:
        async with SimHarness(exchange, step_interval_s=0.02) as sim:
            store = SqliteStore(db_path)
            async with paper_engine(config, sim, store, clock, series=series) as engine:
                until = clock.time_ns() + int(minutes * 60 * speed * NS_PER_S)
                started = time.monotonic()
                ticker_task = None
                if on_tick is not None:
                    ticker_task = asyncio.create_task(_ticks(engine, on_tick, started))
                try:
                    await engine.run(until_ns=until)
                finally:
                    if ticker_task is not None:
                        ticker_task.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await ticker_task
                audit = compare_with_simulator(store, exchange, sim.user_id(), exchange.config.start_balance)
                summary = _summary(
                    engine,
                    exchange,
                    audit,
                    seed=seed,
                    speed=speed,
                    minutes=minutes,
                    db_path="" if tmp else str(db_path),
                )
            store.close()
    finally:
        if tmp is not None:
            tmp.cleanup()
    return summary


async def _ticks(engine: Engine, on_tick: Callable[[Engine, float], None], started: float) -> None:
    while True:
        on_tick(engine, time.monotonic() - started)
        await asyncio.sleep(0.25)
