"""``kxbtc demo``: the built-in simulator and the full engine in paper mode, at an accelerated clock.

Several 15-minute markets open, trade and settle within a couple of real minutes; at the end the local
ledger is compared, fill by fill, with the simulator's own, and the summary says whether they agree.

With ``cross_venue=True`` a simulated Polymarket venue (``kxbtc.sim.polymarket``) runs beside the Kalshi
simulator on the same clock and index, ``[polymarket]`` points at it and the ``cross_venue`` strategy is
enabled beside the configured ones: the desk's paper Polymarket legs fill against the simulated books
exactly as they would against the real ones, and the summary gains a ``cross_venue`` object.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from kxbtc.clock import NS_PER_S, Clock, LoopClock, ScaledClock
from kxbtc.config import Config
from kxbtc.core.feed import FeedSink
from kxbtc.engine.audit import LedgerComparison, compare_with_simulator
from kxbtc.engine.core import Engine
from kxbtc.engine.cross_venue_ledger import DeskSummary
from kxbtc.engine.paper import paper_engine
from kxbtc.session.demo import demo_db
from kxbtc.sim.exchange import Exchange, SimConfig
from kxbtc.sim.harness import SimHarness
from kxbtc.sim.poly_config import PolySimConfig
from kxbtc.store.db import SqliteStore
from kxbtc.strategy import default_config
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
    #: The cross-venue desk's summary (``cross_venue_summary``); None when the demo ran without it.
    cross_venue: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        if self.cross_venue is None:
            del out["cross_venue"]  # the demo without --cross-venue prints what it always printed
        return out


def cross_venue_summary(desk: DeskSummary) -> dict[str, Any]:
    """The desk's counts and amounts: Money as micro-dollars (as the desk keeps them) and as dollars."""
    return {
        "pairs": desk.kalshi_legs_sent,
        "kalshi_legs_filled": desk.kalshi_legs_filled,
        "poly_legs": desk.poly_legs,
        "filled": desk.poly_filled,
        "unhedged": desk.unhedged,
        "windows_found": desk.windows_found,
        "windows_missing": desk.windows_missing,
        "cost_usd": format_money(desk.poly_cost),
        "fees_usd": format_money(desk.poly_fees),
        "settled_pnl_usd": format_money(desk.settled_pnl),
        "open_cost_usd": format_money(desk.open_cost),
        "paper": desk.paper,
        "desk": desk.to_json(),
    }


def with_cross_venue(config: Config, sim: SimHarness) -> Config:
    """``config`` with ``[polymarket]`` on the simulated venue and the ``cross_venue`` strategy enabled."""
    polymarket = config.polymarket.model_copy(
        update={
            "enabled": True,
            "gamma_url": sim.poly_http_url,
            "clob_url": sim.poly_http_url,
            "ws_url": sim.poly_ws_url,
        }
    )
    current = config.strategies.get("cross_venue")
    enabled = (
        default_config("cross_venue") if current is None else current.model_copy(update={"enabled": True})
    )
    strategies = {**config.strategies, "cross_venue": enabled}
    return config.model_copy(update={"polymarket": polymarket, "strategies": strategies})


def _summary(
    engine: Engine,
    exchange: Exchange,
    audit: LedgerComparison,
    seen: set[str],
    *,
    seed: int,
    speed: float,
    minutes: float,
    db_path: str,
) -> DemoSummary:
    watched = [t for t in seen if t in exchange.markets]
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
        cross_venue=cross_venue_summary(engine.desk.summary()) if engine.desk is not None else None,
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
    cross_venue: bool = False,
    poly_config: PolySimConfig | None = None,
    start_ns: int | None = None,
    virtual: bool = False,
    feed: Sequence[FeedSink] = (),
) -> DemoSummary:
    """Run the demo for ``minutes`` of real time; the simulated clock runs ``speed`` times faster.

    ``cross_venue`` adds the simulated Polymarket venue (``poly_config``; by default its makers stray as
    far as the Kalshi makers, ``SimConfig.mispricing``) and the cross-venue strategy.
    """
    clock: Clock
    if virtual:  # on a kxbtc.virtual_loop: the simulator and the engine share one virtual clock
        clock = LoopClock(start_ns if start_ns is not None else time.time_ns())
    else:  # simulated time starts now unless ``start_ns`` is given
        clock = ScaledClock(speed, start_ns=start_ns)
    exchange = Exchange(clock, seed=seed, config=sim_config)
    if cross_venue and poly_config is None:
        poly_config = PolySimConfig(mispricing=exchange.config.mispricing)
    db_path = demo_db(db_path)
    async with SimHarness(
        exchange,
        step_interval_s=0.02,
        polymarket=cross_venue,
        poly_config=poly_config,
        real_clock=clock if virtual else None,
    ) as sim:
        store = SqliteStore(db_path)
        engine_config = with_cross_venue(config, sim) if cross_venue else config
        housekeeping = clock if virtual else None
        async with paper_engine(
            engine_config, sim, store, clock, series=series, housekeeping_clock=housekeeping
        ) as engine:
            for sink in feed:
                engine.core.feed.attach(sink)
            seen: set[str] = set()  # every market the engine listed (the core forgets closed ones)
            engine.core.listing_hooks.append(seen.add)
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
                if on_tick is not None:  # the final state, for a view that stays on screen
                    on_tick(engine, time.monotonic() - started)
            audit = compare_with_simulator(store, exchange, sim.user_id(), exchange.config.start_balance)
            summary = _summary(
                engine,
                exchange,
                audit,
                seen,
                seed=seed,
                speed=speed,
                minutes=minutes,
                db_path=str(db_path),
            )
        store.close()
    return summary


async def _ticks(engine: Engine, on_tick: Callable[[Engine, float], None], started: float) -> None:
    while True:
        on_tick(engine, time.monotonic() - started)
        await asyncio.sleep(0.25)
