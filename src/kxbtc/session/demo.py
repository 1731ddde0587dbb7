"""``kxbtc demo``: the simulator and the trading core on one simulated clock, in one process.

The run is decided by the seed and the settings alone: the same command prints the same summary byte
for byte on any machine. At the end the local ledger is compared with the simulator's, fill by fill.
Profits here are made against simulated market makers, which are beatable by construction: they test
the machinery, not an edge (see docs/RESEARCH.md for results on real markets).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from kxbtc.clock import NS_PER_S
from kxbtc.config import Config
from kxbtc.core.feed import FeedSink
from kxbtc.engine.audit import compare_with_simulator
from kxbtc.session.network import NetworkConfig
from kxbtc.session.runner import DEFAULT_START_NS, SimSession
from kxbtc.sim.exchange import SimConfig
from kxbtc.store.db import SqliteStore
from kxbtc.units import format_money

#: Where a demo keeps its database unless told otherwise (in the current directory, replaced by each
#: run), so ``kxbtc status --db kxbtc-demo.db`` and ``kxbtc report`` can read it right after.
DEFAULT_DEMO_DB = Path("kxbtc-demo.db")

SIMULATOR_CAVEAT = (
    "profit or loss against the simulator's makers is a test of the machinery, not evidence of an edge"
)


@dataclass(slots=True)
class SessionSummary:
    seed: int
    sim_hours: float
    series: list[str]
    latency_ms: float
    jitter_ms: float
    loss: float
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
    market_events: int = 0
    lost_messages: int = 0
    db_path: str = ""
    #: Stopped early by Ctrl-C: the figures are those of the run so far.
    interrupted: bool = False
    note: str = SIMULATOR_CAVEAT

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class RunTiming:
    """How long the run took on this machine: shown to people, never part of the summary."""

    wall_s: float
    market_events: int

    @property
    def events_per_s(self) -> float:
        return self.market_events / self.wall_s if self.wall_s > 0 else 0.0


def run_session_demo(
    config: Config,
    *,
    hours: float = 1.0,
    seed: int = 1,
    series: tuple[str, ...] = ("KXBTC15M",),
    network: NetworkConfig | None = None,
    sim_config: SimConfig | None = None,
    db_path: Path | None = None,
    start_ns: int = DEFAULT_START_NS,
    on_progress: Callable[[SimSession], None] | None = None,
    progress_every_s: int = 900,
    on_second: Callable[[SimSession], None] | None = None,
    feed: Sequence[FeedSink] = (),
    on_finish: Callable[[SimSession], None] | None = None,
) -> tuple[SessionSummary, RunTiming]:
    """Run the demo; ``feed`` sinks get its event feed, ``on_second`` is called each simulated second
    (a live view) and ``on_progress`` every ``progress_every_s`` simulated seconds."""
    network = network or NetworkConfig()
    path = demo_db(db_path)
    store = SqliteStore(path)
    try:
        session = SimSession(
            config,
            store=store,
            seed=seed,
            series=series,
            network=network,
            sim_config=sim_config,
            start_ns=start_ns,
            run_id=f"demo-{seed}",
            operator_view=True,
            # The simulated clock runs far ahead of the wall's: the dashboard reads once a second.
            publish_min_wall_s=0.25,
        )
        for sink in feed:
            session.core.feed.attach(sink)

        def tick(s: SimSession) -> None:
            if on_second is not None:
                on_second(s)
            if on_progress is not None and (s.clock.time_ns() // NS_PER_S) % progress_every_s == 0:
                on_progress(s)

        started = time.perf_counter()
        interrupted = False
        try:
            session.run_until(start_ns + int(hours * 3600 * NS_PER_S), on_second=tick)
        except KeyboardInterrupt:  # Ctrl-C: stop cleanly (cancel, land what is in flight) and report
            interrupted = True
        session.finish()
        if on_finish is not None:
            on_finish(session)
        wall = time.perf_counter() - started
        summary = summarize(session, hours=hours, series=series, network=network, seed=seed)
        summary.db_path = str(path)
        summary.interrupted = interrupted
    finally:
        store.close()
    return summary, RunTiming(wall, summary.market_events)


def demo_db(db_path: Path | None) -> Path:
    """The database a demo writes: ``db_path``, else ``DEFAULT_DEMO_DB`` emptied of an earlier demo's
    rows (its files removed) so each run's summary and ledger audit start from nothing."""
    if db_path is not None:
        return db_path
    for suffix in ("", "-wal", "-shm"):
        DEFAULT_DEMO_DB.with_name(DEFAULT_DEMO_DB.name + suffix).unlink(missing_ok=True)
    return DEFAULT_DEMO_DB.absolute()


def summarize(
    session: SimSession, *, hours: float, series: tuple[str, ...], network: NetworkConfig, seed: int
) -> SessionSummary:
    store = session.store
    audit = compare_with_simulator(store, session.exchange, session.user_id, session.start_cash)
    fills = store.fills()
    return SessionSummary(
        seed=seed,
        sim_hours=hours,
        series=list(series),
        latency_ms=network.latency_ms,
        jitter_ms=network.jitter_ms,
        loss=network.loss,
        settled_markets=_settled(session),
        markets_traded=len({f.ticker for f in fills}),
        orders=session.counts.orders_sent,
        fills=len(fills),
        fees_usd=format_money(audit.fees_local),
        realized_pnl_usd=format_money(audit.realized_local),
        risk_events=[
            {"kind": e.kind, "severity": e.severity, "detail": e.detail} for e in store.risk_events()
        ],
        ledger_matches=audit.matches,
        mismatches=audit.mismatches,
        rejections=dict(sorted(session.core.stats.rejected.items())),
        market_events=session.counts.market_events,
        lost_messages=session.counts.lost_messages,
    )


def _settled(session: SimSession) -> int:
    """Markets we followed that have settled (the exchange forgets them hours later: settled too)."""
    markets = session.exchange.markets
    return sum(
        1
        for ticker in session.venue.listed
        if (m := markets.get(ticker)) is None or m.status in ("settled", "finalized")
    )
