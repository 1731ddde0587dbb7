"""Tick to order on the wire, through the real engine against the simulator on loopback.

The simulator runs in its own process (``kxbtc sim serve``), so its work is not on the engine's loop and
not in the figure. The engine runs here on the real clock with its configured strategies plus ``Probe``,
which asks for a one-contract fill-or-kill bid at $0.01 on every book change of a market with no order
in flight: an order the simulator answers at once without filling it, so the engine can keep sending
for as long as the run lasts while every other strategy is evaluated on every frame as usual.

Each sample runs from the frame's arrival in the WebSocket read loop to the order request's last byte
handed to the socket (``kxbtc.latency``; for the frames received together, from the first of them).

For a p99 the run needs about a thousand orders, so the simulator's makers requote every market every
``REQUOTE_S`` simulated seconds (by default every second for the 15-minute market and every 5 s for the
hourly ones: about 7 book changes a second in all), and its account limits report a write budget the
probe never exhausts: an order waiting for rate-limit tokens measures the strategy's pace against its
account, not the order path. ``pin`` runs the engine (with its threads) and the simulator each on a core
of its own, as a trading host would.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kxbtc import latency
from kxbtc.clock import SystemClock
from kxbtc.config import load_config
from kxbtc.domain.orders import OrderIntent
from kxbtc.engine.core import Engine
from kxbtc.kalshi.auth import Signer
from kxbtc.kalshi.rest import KalshiRestClient
from kxbtc.kalshi.ws import KalshiWsClient
from kxbtc.sim.harness import generate_key_pair
from kxbtc.store.db import SqliteStore
from kxbtc.strategy.base import Decision, DecisionContext, MarketState, OracleView, Strategy
from kxbtc.strategy.registry import build_strategies
from kxbtc.units import Count, Price

#: One cent, one contract: never fills against the simulator's makers, costs a cent of risk budget.
PROBE_PRICE = Price(100)
PROBE_COUNT = Count(100)
ALL_SERIES = ("KXBTC15M", "KXBTCD", "KXBTC")
#: How often the simulator's makers requote each market (``kxbtc sim serve --requote-s``).
REQUOTE_S = 0.5
#: Write tokens per second the simulated account reports (an order costs 10).
WRITE_RATE = 100_000


class Probe(Strategy):
    """A bid at $0.01 on every book change (the core holds back a market while its order is in flight)."""

    name = "latency_probe"

    def on_book(self, market: MarketState, oracle: OracleView, ctx: DecisionContext) -> list[Decision]:
        intent = OrderIntent(
            market.contract.ticker,
            "bid",
            PROBE_PRICE,
            PROBE_COUNT,
            self.name,
            "latency probe",
            "fill_or_kill",
        )
        return [Decision(intent, {})]


@dataclass(frozen=True, slots=True)
class TickToWireRun:
    samples_ns: list[int]
    #: The same, in the loop thread's CPU time (``kxbtc.latency``).
    cpu_samples_ns: list[int]
    frames: int
    seconds: float
    #: The arrival stamp each sample is measured from. Samples that share one are the orders one burst
    #: of frames caused, in the order they were written.
    stamps_ns: list[int] = field(default_factory=list)

    def bursts(self) -> list[list[int]]:
        """The samples grouped by burst, each group in write order."""
        groups: dict[int, list[int]] = {}
        for stamp, sample in zip(self.stamps_ns, self.samples_ns, strict=True):
            groups.setdefault(stamp, []).append(sample)
        return list(groups.values())

    def first_of_burst_ns(self) -> list[int]:
        """Tick to wire of each burst's first order: the frames applied, then evaluations up to it."""
        return [group[0] for group in self.bursts()]

    def further_order_gaps_ns(self) -> list[int]:
        """What each further order of a burst adds (its market's evaluation and its send)."""
        return [b - a for group in self.bursts() for a, b in itertools.pairwise(group)]


class SimProcess:
    """``kxbtc sim serve`` in a child process trusting one fresh key; its URLs read from its first lines."""

    def __init__(
        self,
        key_dir: Path,
        seed: int,
        *,
        requote_s: float | None = REQUOTE_S,
        write_rate: int = WRITE_RATE,
        core: int | None = None,
    ) -> None:
        self.key = generate_key_pair()
        public = key_dir / "public.pem"
        public.write_bytes(self.key.public_key_pem)
        trust = f"{self.key.key_id}={public}"
        command = [sys.executable, "-m", "kxbtc", "sim", "serve", "--seed", str(seed), "--trust", trust]
        command += ["--write-rate", str(write_rate)]
        if requote_s is not None:  # None: the simulator's own cadence
            command += ["--requote-s", str(requote_s)]
        self.proc = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            preexec_fn=None if core is None else (lambda: os.sched_setaffinity(0, {core})),
        )
        assert self.proc.stdout is not None
        self.rest_url = self.proc.stdout.readline().split()[1]
        self.ws_url = self.proc.stdout.readline().split()[1]

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


async def _run_engine(sim: SimProcess, db: Path, seconds: float, series: Sequence[str]) -> None:
    config = load_config(None, environ={})
    clock = SystemClock()
    signer = Signer(sim.key.key_id, sim.key.private_key_pem, clock)
    store = SqliteStore(db)
    try:
        async with KalshiRestClient(sim.rest_url, signer, clock) as rest:
            ws = KalshiWsClient(sim.ws_url, signer, clock)
            engine = Engine(
                config,
                rest=rest,
                ws=ws,
                store=store,
                clock=clock,
                run_id=uuid.uuid4().hex,
                series=series,
                strategies=[*build_strategies(config.strategies), Probe(config.strategies["fair_value"])],
                simulated=True,
                freeze_gc=True,  # as `kxbtc run` does
            )
            stop = asyncio.Event()
            asyncio.get_running_loop().call_later(seconds, stop.set)
            await engine.run(stop=stop)
    finally:
        store.close()


def measure(
    seconds: float = 60.0,
    *,
    warmup_s: float = 8.0,
    seed: int = 1,
    series: Sequence[str] = ALL_SERIES,
    pin: tuple[int, int] | None = None,
    requote_s: float | None = REQUOTE_S,
    write_rate: int = WRITE_RATE,
) -> TickToWireRun:
    """Run the engine against a fresh simulator for ``seconds`` of wall time; the tick-to-wire samples
    after the first ``warmup_s`` (start-up: the reconciliation, the subscriptions' snapshots).
    ``pin``: (engine's core, simulator's core)."""
    probe = latency.TickToWire()
    affinity = os.sched_getaffinity(0) if pin is not None else None
    with tempfile.TemporaryDirectory(prefix="kxbtc-bench-t2w-") as tmp:
        sim = SimProcess(
            Path(tmp),
            seed,
            requote_s=requote_s,
            write_rate=write_rate,
            core=None if pin is None else pin[1],
        )
        if pin is not None:  # this thread, and the threads it starts from now on (the store's writer)
            os.sched_setaffinity(0, {pin[0]})
        latency.install(probe)
        started = time.perf_counter()
        steady_ns = time.monotonic_ns() + int(warmup_s * 1e9)
        try:
            asyncio.run(_run_engine(sim, Path(tmp) / "bench.db", seconds, series))
        finally:
            latency.install(None)
            if affinity is not None:
                os.sched_setaffinity(0, affinity)
            with contextlib.suppress(Exception):
                sim.close()
    steady = [i for i, (at, _) in enumerate(probe.samples) if at >= steady_ns]
    return TickToWireRun(
        [probe.samples[i][1] for i in steady],
        [probe.cpu_samples[i] for i in steady],
        probe.frames,
        time.perf_counter() - started,
        [probe.samples[i][0] for i in steady],
    )
