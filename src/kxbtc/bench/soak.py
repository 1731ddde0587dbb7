"""``make soak``: the real engine (REST + WebSocket clients, store, core) against the simulator's server on
loopback, on one simulated clock (``kxbtc.virtual_loop``), for many simulated hours with every fault on.

Faults (all at once): the simulator's ``FaultSpec`` (dropped WS messages, so seq gaps and resyncs;
disconnects; per-message delay; frames of different channels reordered, and rarely a book delta ahead of
its predecessor (a seq gap); 429s and 500s; order responses lost after the order executed, and slow
ones through the delay), the engine's wall clock stepped forwards and backwards against the exchange's
(a step beyond the exchange's tolerance gets 401s until it is stepped back), and kills with restarts.

A kill here is emulated in-process: the engine's tasks are cancelled where they stand, its sockets
aborted and its REST client dropped without any shutdown (no cancel-all, no final reconcile), and the
store writer's queue is discarded before the writer stops (what a SIGKILL loses). What differs from a real
SIGKILL (``tests/integration/test_kill_restart.py`` does one): the batch the writer thread is committing at
that instant completes instead of being rolled back by SQLite on the next open, cancelled tasks may run
their ``finally`` blocks for in-memory bookkeeping (none of them writes to the exchange), and the process's
memory is not freed. The next engine starts from the database, as a restart would.

Invariants, checked at the end: the database's fills equal the exchange's (0 lost, 0 doubled), no client
order id accepted by the exchange twice, no order of ours resting after the last shutdown, every order the
exchange received within the risk limits at its instant, no unhandled exception (a traceback logged
or an exception reaching the loop's handler), and every book the engine holds at the end, once quiet,
equal to the exchange's.

Memory, sampled every simulated hour: the process's resident set (engine and simulator together), and
apart, the Python objects reachable from the live engine and from the simulator (``kxbtc.bench.held``).
After each emulated kill the dead engine is collected and freed pages go back to the system, as they
would when a killed process ends.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import ctypes.util
import gc
import json
import logging
import resource
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kxbtc.bench import held, traced
from kxbtc.clock import NS_PER_S, Clock, LoopClock
from kxbtc.config import Config
from kxbtc.engine.audit import compare_with_simulator
from kxbtc.engine.core import Engine
from kxbtc.engine.paper import paper_engine
from kxbtc.sim.exchange import Exchange, SimConfig
from kxbtc.sim.faults import FaultSpec
from kxbtc.sim.harness import SimHarness, generate_key_pair
from kxbtc.sim.server import ServerConfig
from kxbtc.store.db import SqliteStore
from kxbtc.units import PRICE_SCALE
from kxbtc.virtual_loop import run_virtual

log = logging.getLogger(__name__)

#: 2026-06-11 00:01 UTC: hourly ladders and 15-minute windows roll over all day.
START_NS = 1_781_136_060 * NS_PER_S
FAULTS = FaultSpec(
    drop=0.02,
    disconnect_every=1_800.0,
    delay_ms=30.0,
    http_429=0.02,
    http_5xx=0.02,
    lose_response=0.03,
    reorder=0.1,
)
#: Wide mispricing, so many order writes. Settled markets are kept an hour (the simulator's default is
#: six): its own history then stops growing after hour 2 instead of hour 7, so the memory figures from
#: hour 1 show what the engine adds. Nothing the invariants read goes with them (our fills, settlements
#: and live orders stay).
SIM_CONFIG = SimConfig(mispricing=0.08, retain_finalized_s=3600)
#: Small orders against wide mispricing: many order writes, so every order-path fault fires.
CONFIG = Config.model_validate(
    {"strategies": {name: {"max_contracts": "2"} for name in ("fair_value", "book_glitch")}}
)
#: (seconds into a run segment, step in seconds) of the engine's clock against the exchange's: small
#: steps inside the exchange's tolerance, and one beyond it that is stepped back 2 minutes later.
#: Resident memory is sampled every this many simulated seconds (``rss_mb_by_hour``).
RSS_EVERY_S = 3600
CLOCK_STEPS = ((600.0, 3.0), (1_200.0, -6.0), (1_800.0, 45.0), (1_920.0, -42.0))


class SteppedClock:
    """The engine's wall clock: the shared simulated clock plus an offset that steps (monotonic does not)."""

    def __init__(self, base: Clock) -> None:
        self.base = base
        self.offset_ns = 0

    def time_ns(self) -> int:
        return self.base.time_ns() + self.offset_ns

    def monotonic(self) -> float:
        return self.base.monotonic()

    async def sleep(self, seconds: float) -> None:
        await self.base.sleep(seconds)


@dataclass(slots=True)
class SoakReport:
    seeds: list[int]
    simulated_hours: float = 0.0
    wall_s: float = 0.0
    faults: Counter[str] = field(default_factory=Counter)
    fills_exchange: int = 0
    fills_db: int = 0
    fills_lost: int = 0
    fills_doubled: int = 0
    ledger_mismatches: list[str] = field(default_factory=list)
    orders_sent: int = 0
    duplicate_orders: int = 0
    orphan_resting: int = 0
    risk_breaches: list[str] = field(default_factory=list)
    unhandled: list[str] = field(default_factory=list)
    book_divergences: list[str] = field(default_factory=list)
    rss_mb_by_hour: list[float] = field(default_factory=list)
    #: Each hour, MB of Python objects reachable from the live engine (``kxbtc.bench.held``), and from the
    #: simulator: the two sides of the one process, apart.
    engine_mb_by_hour: list[float] = field(default_factory=list)
    simulator_mb_by_hour: list[float] = field(default_factory=list)
    books_compared: int = 0
    #: Of those, books live (not awaiting a resync) at the last check: the ones actually compared.
    books_live: int = 0
    #: Books the engine still held at the end for markets closed over a minute before (memory).
    closed_books_held: int = 0
    #: Orders written by the frame handler itself on the kept-alive connection (``order_wire``).
    orders_at_once: int = 0
    #: With ``--trace-memory``: live Python allocations each hour, kxbtc's own against the simulator's.
    traced_by_hour: list[traced.TracedShare] = field(default_factory=list)
    #: With ``--trace-memory``: the source lines that grew most from the first hourly sample to the last.
    traced_growth: list[str] = field(default_factory=list)
    first_snapshot: tracemalloc.Snapshot | None = None

    def sample_traced(self) -> None:
        if not tracemalloc.is_tracing():
            return
        snapshot = tracemalloc.take_snapshot()
        self.traced_by_hour.append(traced.share(snapshot))
        if self.first_snapshot is None:
            self.first_snapshot = snapshot
        else:
            self.traced_growth = traced.top_growth(self.first_snapshot, snapshot)

    def invariants(self) -> dict[str, int]:
        return {
            "fills lost (exchange, not in the database)": self.fills_lost,
            "fills doubled": self.fills_doubled,
            "ledger mismatches (fees, settlements, cash)": len(self.ledger_mismatches),
            "duplicate orders": self.duplicate_orders,
            "orphan resting orders after shutdown": self.orphan_resting,
            "risk-limit breaches": len(self.risk_breaches),
            "unhandled exceptions": len(self.unhandled),
            "book divergences after resync": len(self.book_divergences),
        }

    @property
    def ok(self) -> bool:
        return not any(self.invariants().values())

    def table(self) -> str:
        rows = [
            ("simulated hours", f"{self.simulated_hours:g} (seeds {', '.join(map(str, self.seeds))})"),
            ("wall time", f"{self.wall_s:.0f} s"),
            ("orders sent (of which written at once)", f"{self.orders_sent} ({self.orders_at_once})"),
            ("fills: exchange / database", f"{self.fills_exchange} / {self.fills_db}"),
            (
                "books compared with the exchange's at the end (live)",
                f"{self.books_compared} ({self.books_live})",
            ),
            ("books still held for closed markets", str(self.closed_books_held)),
        ]
        rows += [(f"fault: {name}", str(n)) for name, n in sorted(self.faults.items())]
        rows += [(f"invariant: {name}", str(n)) for name, n in self.invariants().items()]
        n = len(self.rss_mb_by_hour)
        for what, series in (
            ("resident memory, whole process", self.rss_mb_by_hour),
            ("held by the engine (objects)", self.engine_mb_by_hour),
            ("held by the simulator (objects)", self.simulator_mb_by_hour),
        ):
            if len(series) >= 2:
                rows.append((f"{what}, hour 1 -> {n}", _growth(series)))
        if len(self.traced_by_hour) >= 2:
            a, b = self.traced_by_hour[0], self.traced_by_hour[-1]
            rows.append(
                ("traced kxbtc (not sim) hour 1 -> last", f"{a.engine_mb:.1f} -> {b.engine_mb:.1f} MB")
            )
            rows.append(
                ("traced simulator hour 1 -> last", f"{a.simulator_mb:.1f} -> {b.simulator_mb:.1f} MB")
            )
            rows.append(("traced other hour 1 -> last", f"{a.other_mb:.1f} -> {b.other_mb:.1f} MB"))
        width = max(len(r[0]) for r in rows)
        lines = [f"{name:<{width}}  {value}" for name, value in rows]
        details = self.ledger_mismatches + self.risk_breaches + self.unhandled + self.book_divergences
        lines += [f"  ! {d}" for d in details[:20]]
        lines.append("soak: OK" if self.ok else "soak: INVARIANT BROKEN")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "seeds": self.seeds,
            "simulated_hours": self.simulated_hours,
            "wall_s": round(self.wall_s, 1),
            "faults": dict(self.faults),
            "invariants": self.invariants(),
            "orders_sent": self.orders_sent,
            "orders_written_at_once": self.orders_at_once,
            "fills": self.fills_exchange,
            "books_compared": self.books_compared,
            "books_live": self.books_live,
            "rss_mb_by_hour": [round(x, 1) for x in self.rss_mb_by_hour],
            "engine_mb_by_hour": [round(x, 2) for x in self.engine_mb_by_hour],
            "simulator_mb_by_hour": [round(x, 2) for x in self.simulator_mb_by_hour],
            "traced_mb_by_hour": [
                {
                    "engine": round(t.engine_mb, 2),
                    "simulator": round(t.simulator_mb, 2),
                    "other": round(t.other_mb, 2),
                }
                for t in self.traced_by_hour
            ],
            "traced_growth_top": self.traced_growth,
            "details": self.ledger_mismatches + self.risk_breaches + self.unhandled + self.book_divergences,
        }


def _growth(series: list[float]) -> str:
    first, last = series[0], series[-1]
    pct = 100.0 * (last - first) / first if first else 0.0
    return f"{first:.1f} -> {last:.1f} MB ({pct:+.1f} %)"


def _release_freed_memory() -> None:
    """After an emulated kill: collect the dead engine and hand the allocator's free pages back to the
    system, as the end of a killed process would (glibc's ``malloc_trim``; elsewhere only the collect)."""
    gc.collect()
    name = ctypes.util.find_library("c")
    if name and sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(name).malloc_trim(0)


class _TracebackCounter(logging.Handler):
    """Every log record that carries a traceback: an exception something caught only to log it."""

    def __init__(self, out: list[str]) -> None:
        super().__init__(logging.ERROR)
        self.out = out

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info:
            self.out.append(f"{record.name}: {record.getMessage()} ({record.exc_info[1]!r})")


def _rss_mb() -> float:
    """Current resident set size (Linux /proc), else the peak from getrusage."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class _RiskAudit:
    """At the instant each of our orders reaches the exchange: order size, the final-minute freeze for an
    order that opens exposure, and the per-strike cap against the account's equity then."""

    def __init__(self, exchange: Exchange, user_id: str, config: Config, out: list[str]) -> None:
        self.exchange, self.user_id, self.config, self.out = exchange, user_id, config, out
        self._create = exchange.create_order
        exchange.create_order = self._observe  # type: ignore[method-assign]
        self.seen = 0
        #: Client order ids of the orders the exchange accepted from us (it forgets old markets' orders).
        self.accepted: Counter[str] = Counter()

    def _observe(self, user_id: str, **kwargs: Any) -> Any:
        if user_id != self.user_id:
            return self._create(user_id, **kwargs)
        self.seen += 1
        ex, risk = self.exchange, self.config.risk
        ticker, count, side = kwargs["ticker"], kwargs["count"], kwargs["side"]
        before = ex.accounts.peek_position(user_id, 0, ticker)
        held = before.position if before else 0
        opens = count > (max(0, -held) if side == "bid" else max(0, held))
        market = ex.markets.get(ticker)
        to_close = (market.close_ns - ex.now_ns()) / NS_PER_S if market is not None else 0.0
        if count > int(risk.max_order_contracts * 100):
            self.out.append(f"{ticker}: order of {count / 100} contracts over max_order_contracts")
        # Allowance: the order left the engine up to a network delay (and a clock step) earlier.
        if opens and to_close < risk.final_freeze_s - 2.0:
            self.out.append(
                f"{ticker}: opening order {to_close:.1f} s before close (freeze {risk.final_freeze_s})"
            )
        result = self._create(user_id, **kwargs)  # a refused order raises: only accepted ones count
        if kwargs.get("client_order_id"):
            self.accepted[kwargs["client_order_id"]] += 1
        return result


def _book_divergences(engine: Engine, exchange: Exchange) -> list[str]:
    """Markets whose book in the engine differs from the exchange's (stale books are being resynced)."""
    out = []
    for ticker in engine.ws.books:
        book = engine.ws.books.get(ticker)
        theirs = exchange.books.get(ticker)
        if book is None or book.stale or theirs is None:
            continue
        yes, no = book.to_levels()
        ours_bids, ours_asks = dict(yes), {PRICE_SCALE - p: s for p, s in no}
        if ours_bids != dict(theirs.levels("bid")) or ours_asks != dict(theirs.levels("ask")):
            out.append(f"{ticker}: book differs from the exchange's")
    return out


async def _kill(engine: Engine, store: SqliteStore, run_task: asyncio.Task[None]) -> None:
    """Abandon the engine as a SIGKILL would: no shutdown, no flush; the store's queued writes lost."""
    engine.shutdown = _no_shutdown  # type: ignore[method-assign]
    for task in [run_task, *engine._tasks]:
        task.cancel()
    for task in [run_task, *engine._tasks]:
        with contextlib.suppress(BaseException):
            await task
    with contextlib.suppress(Exception):
        await engine.ws.close()
    store.discard_pending()  # what was still queued for the disk is gone
    store.close()


async def _no_shutdown() -> None:
    return None


async def soak_one(
    db_dir: Path,
    seed: int,
    hours: float,
    kills: int,
    report: SoakReport,
    clock_steps: tuple[tuple[float, float], ...] = CLOCK_STEPS,
    start_ns: int = START_NS,
    faults: FaultSpec = FAULTS,
) -> None:
    """One seed: ``hours`` of simulated time, killed and restarted ``kills`` times at even intervals."""
    clock = LoopClock(start_ns)
    exchange = Exchange(clock, seed=seed, config=SIM_CONFIG)
    key = generate_key_pair()
    server = ServerConfig(faults=faults, fault_seed=seed, rate_limit=True)
    db = db_dir / f"soak-{seed}.db"
    unhandled = report.unhandled
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda _loop, ctx: unhandled.append(f"loop: {ctx.get('message')}"))
    segments = kills + 1
    segment_s = hours * 3600 / segments
    end_ns = start_ns + int(hours * 3600 * NS_PER_S)
    async with SimHarness(exchange, config=server, keys=[key], real_clock=clock, step_interval_s=0.25) as sim:
        user_id = sim.user_id()
        audit = _RiskAudit(exchange, user_id, CONFIG, report.risk_breaches)
        next_hour_ns = start_ns + RSS_EVERY_S * NS_PER_S
        for segment in range(segments):
            last = segment == segments - 1
            engine_clock = SteppedClock(clock)
            store = SqliteStore(db)
            async with paper_engine(
                CONFIG,
                sim,
                store,
                engine_clock,
                series=("KXBTC15M", "KXBTCD", "KXBTC"),
                reconcile_every_s=60.0,
                refresh_every_s=15.0,
                housekeeping_clock=clock,
            ) as engine:
                seg_end = end_ns if last else clock.time_ns() + int(segment_s * NS_PER_S)
                stop = asyncio.Event()
                run_task = asyncio.ensure_future(engine.run(stop=stop))
                started = clock.monotonic()
                steps = list(clock_steps)
                while clock.time_ns() < seg_end and not run_task.done():
                    await clock.sleep(5.0)
                    while steps and clock.monotonic() - started >= steps[0][0]:
                        engine_clock.offset_ns += int(steps.pop(0)[1] * NS_PER_S)
                        report.faults["clock steps (engine vs exchange)"] += 1
                    if clock.time_ns() >= next_hour_ns:
                        report.rss_mb_by_hour.append(_rss_mb())
                        report.engine_mb_by_hour.append(held.held_mb(engine, held.of_simulator))
                        report.simulator_mb_by_hour.append(held.held_mb(sim, held.of_engine))
                        report.sample_traced()
                        hour = (next_hour_ns - start_ns) // (RSS_EVERY_S * NS_PER_S)
                        print(
                            f"soak seed {seed}: hour {hour}, rss {report.rss_mb_by_hour[-1]:.0f} MB",
                            file=sys.stderr,
                        )
                        next_hour_ns += RSS_EVERY_S * NS_PER_S
                engine_clock.offset_ns = 0
                report.orders_sent += engine.router.sent
                report.orders_at_once += engine.rest.orders_written_at_once
                report.faults["ws seq gaps (dropped or overtaken frames)"] += engine.ws.stats.seq_gaps
                report.faults["ws disconnects"] += engine.ws.stats.disconnects
                report.faults["REST retries (429, 5xx, lost)"] += engine.rest.stats.retries
                report.faults["order creates with lost answers"] += engine.rest.stats.order_write_retries
                if run_task.done() and run_task.exception() is not None:
                    unhandled.append(f"engine run ended: {run_task.exception()!r}")
                if not last:
                    await _kill(engine, store, run_task)
                    report.faults["kills (then restart from the database)"] += 1
                else:
                    await _final_checks(engine, store, exchange, user_id, stop, run_task, report)
            if not last:  # the killed engine is gone, as its process would be
                del engine, store, run_task, stop
                _release_freed_memory()
        injector = sim.server.faults
        for kind, n in injector.injected.items():
            report.faults[f"HTTP {kind.value} injected"] += n
        report.faults["ws frames reordered (delivered after a later one)"] += injector.ws_reordered
        report.faults["ws book deltas ahead of their predecessor"] += injector.ws_sid_overtakes
        report.duplicate_orders += sum(n - 1 for n in audit.accepted.values() if n > 1)
        report.simulated_hours += hours
    del audit


async def _final_checks(
    engine: Engine,
    store: SqliteStore,
    exchange: Exchange,
    user_id: str,
    stop: asyncio.Event,
    run_task: asyncio.Task[None],
    report: SoakReport,
) -> None:
    """After the last segment: books while live, then a clean shutdown and the ledger and fills."""
    clock = exchange.clock
    # Books compared while the stream is live: a market counts only if it differs at three
    # checks two simulated seconds apart (a delta in flight explains one difference).
    diverged: Counter[str] = Counter()
    for _ in range(3):
        diverged.update(_book_divergences(engine, exchange))
        await clock.sleep(2.0)
    report.book_divergences += [d for d, n in diverged.items() if n == 3]
    report.books_compared += len(engine.ws.books)
    report.books_live += sum(not b.stale for t in engine.ws.books if (b := engine.ws.books.get(t)))
    closed_before = clock.time_ns() - 60 * NS_PER_S  # a refresh (15 s) has seen them close
    report.closed_books_held += sum(
        (m := exchange.markets.get(t)) is not None and m.close_ns < closed_before for t in engine.ws.books
    )
    stop.set()
    await run_task
    audit_result = compare_with_simulator(store, exchange, user_id, exchange.config.start_balance)
    store.flush()
    theirs = [f.fill_id for f in exchange.accounts.fills.get(user_id, [])]
    ours = [f.fill_id for f in store.fills()]
    report.fills_exchange += len(theirs)
    report.fills_db += len(ours)
    report.fills_lost += len(set(theirs) - set(ours))
    report.fills_doubled += len(ours) - len(set(ours))
    report.ledger_mismatches += audit_result.mismatches
    report.orphan_resting += sum(o.is_live for o in exchange.orders.values() if o.user_id == user_id)
    store.close()


def run_soak(
    seeds: list[int],
    hours: float,
    kills: int,
    db_dir: Path | None = None,
    clock_steps: tuple[tuple[float, float], ...] = CLOCK_STEPS,
    start_ns: int = START_NS,
    faults: FaultSpec = FAULTS,
) -> SoakReport:
    report = SoakReport(seeds)
    counter = _TracebackCounter(report.unhandled)
    logging.getLogger("kxbtc").addHandler(counter)
    started = time.perf_counter()
    try:
        with _db_dir(db_dir) as tmp:
            for seed in seeds:
                # The safety net in real seconds scales with the run: a simulated hour takes about a
                # minute here, several on a loaded machine; the default 600 s ended 24-hour soaks early.
                real_timeout_s = 600.0 + 900.0 * hours
                soak = soak_one(tmp, seed, hours, kills, report, clock_steps, start_ns, faults)
                run_virtual(soak, real_timeout_s=real_timeout_s)
    finally:
        logging.getLogger("kxbtc").removeHandler(counter)
    report.wall_s = time.perf_counter() - started
    return report


@contextlib.contextmanager
def _db_dir(path: Path | None) -> Iterator[Path]:
    if path is not None:
        path.mkdir(parents=True, exist_ok=True)
        yield path
    else:
        with tempfile.TemporaryDirectory(prefix="kxbtc-soak-") as tmp:
            yield Path(tmp)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="kxbtc soak: the engine against the simulator, faults on")
    parser.add_argument("--hours", type=float, default=24.0, help="simulated hours per seed")
    parser.add_argument("--seed", type=int, action="append", help="repeat for several seeds (default 1)")
    parser.add_argument("--kills", type=int, default=4, help="kills with restarts per seed")
    parser.add_argument("--json-out", type=Path, default=Path("soak.json"))
    parser.add_argument(
        "--trace-memory",
        action="store_true",
        help="also split live allocations hourly into kxbtc's and the simulator's (tracemalloc, ~2x slower)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.CRITICAL)
    if args.trace_memory:
        traced.start()
    report = run_soak(args.seed or [1], args.hours, args.kills)
    print(report.table())
    args.json_out.write_text(json.dumps(report.to_json(), indent=2) + "\n")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
