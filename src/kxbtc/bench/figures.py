"""The figures ``kxbtc bench`` measures, each as a list of per-unit timings (microseconds) or one rate.

Timings are taken in small batches (one ``perf_counter_ns`` pair per batch, divided by the batch size) so
the timer's own cost stays out of the figure; the median and the 99th percentile are over the batches.
Batches last a few hundred microseconds at most, so on a busy machine most of them run between two
preemptions and the median stays the code's own speed.
"""

from __future__ import annotations

import contextlib
import itertools
import random
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from kxbtc.bench.book_stream import fresh_book, generate
from kxbtc.clock import NS_PER_S, ManualClock
from kxbtc.kalshi.ws_messages import OrderbookDelta, decode_frame
from kxbtc.units import Money

if TYPE_CHECKING:
    from kxbtc.recordings.source import MarketRecording, RecordedEvent
    from kxbtc.sim.exchange import Exchange


def batched_us(work: Callable[[], None], *, batch: int, batches: int) -> list[float]:
    """Microseconds per call of ``work``, one figure per batch of ``batch`` calls."""
    clock = time.perf_counter_ns
    out: list[float] = []
    for _ in range(batches):
        t0 = clock()
        for _ in range(batch):
            work()
        out.append((clock() - t0) / batch / 1000)
    return out


def calibration_us(batches: int = 200) -> list[float]:
    """A fixed pure-Python workload (dict, str and int work, like the hot path's): the machine's speed.

    The CI check divides every figure by this one, measured in the same process, so a machine twice as
    slow (or twice as loaded) moves both and the ratio stays put."""
    data = {f"k{i}": i for i in range(64)}

    def work() -> None:
        total = 0
        for key, value in data.items():
            total += value * 3 + len(key)
        str(total).encode()

    return batched_us(work, batch=50, batches=batches)


def book_delta_us(frames: int = 20_000, batch: int = 100) -> list[float]:
    """Decode + apply of one ``orderbook_delta`` frame on a realistic book (what the read loop does)."""
    stream = generate(frames, yes_prices=True)
    book = fresh_book(stream, True)
    apply, decode, clock = book.apply_delta_msg, decode_frame, time.perf_counter_ns
    out: list[float] = []
    for start in range(0, frames - batch + 1, batch):
        chunk = stream.frames[start : start + batch]
        t0 = clock()
        for frame in chunk:
            msg = decode(frame)
            if type(msg) is OrderbookDelta:
                apply(msg.msg, use_yes_price=True, seq=msg.seq)
        out.append((clock() - t0) / batch / 1000)
    return out


def sign_us(kind: str, batches: int = 200) -> list[float]:
    """One request signature (``timestamp + METHOD + path``) with an RSA-2048 or Ed25519 key."""
    from kxbtc.kalshi.auth import Signer
    from kxbtc.sim.harness import generate_key_pair

    key = generate_key_pair("rsa" if kind == "rsa" else "ed25519")
    signer = Signer(key.key_id, key.private_key_pem)
    ts = [1_781_159_000_000]

    def work() -> None:
        ts[0] += 1
        signer.sign(ts[0], "POST", "/trade-api/v2/portfolio/events/orders")

    # One signature per timing (RSA: a few hundred us), short enough to fall between preemptions.
    return batched_us(work, batch=1 if kind == "rsa" else 4, batches=batches)


def fair_value_us(n: int = 40_000, batch: int = 100) -> list[float]:
    """One scalar fair-value evaluation on random realistic inputs (``pricing.fair_value``)."""
    from kxbtc.pricing.fair_value import fair_value

    rng = random.Random(1)
    rows = []
    for _ in range(n):
        spot = rng.uniform(60_000, 100_000)
        seconds = rng.uniform(0.5, 59.5) if rng.random() < 1 / 3 else rng.uniform(60, 3600)
        count = int(60 - seconds) if seconds < 60 else 0
        sigma = rng.uniform(0.2, 1.5) * spot / (365 * 24 * 3600) ** 0.5
        rows.append((spot, spot + rng.uniform(-300, 300), seconds, sigma, spot * count, count))
    out: list[float] = []
    clock = time.perf_counter_ns
    for start in range(0, n - batch + 1, batch):
        t0 = clock()
        for spot, strike, seconds, sigma, observed, count in rows[start : start + batch]:
            fair_value(spot, strike, seconds, sigma, observed_sum=observed, observed_count=count)
        out.append((clock() - t0) / batch / 1000)
    return out


def sim_order_flow(seed: int = 7) -> tuple[Exchange, Callable[[], None]]:
    """The simulator's exchange core and one step of random order flow into one of its markets: a limit
    order from one of 50 users, or (30 % of steps) a cancel of a resting one. Shared with
    ``benchmarks/sim_matching.py``."""
    from kxbtc.sim.exchange import Exchange, SimRejection

    ex = Exchange(
        ManualClock(1_781_159_000 * NS_PER_S), seed=1, counterparties=False, start_balance=Money(10**15)
    )
    ticker = next(
        m.ticker for m in ex.markets.values() if m.series_ticker == "KXBTCD" and m.status == "active"
    )
    users = [ex.ensure_user(f"u{i}") for i in range(50)]
    rng = random.Random(seed)
    live: list[tuple[str, str]] = []

    def step() -> None:
        if live and rng.random() < 0.3:
            user, oid = live.pop(rng.randrange(len(live)))
            with contextlib.suppress(SimRejection):  # already filled
                ex.cancel_order(user, oid, exchange_index=2)
            return
        result = ex.create_order(
            rng.choice(users),
            ticker=ticker,
            side=rng.choice(("bid", "ask")),
            price=rng.randint(40, 60) * 100,
            count=rng.randint(1, 50) * 100,
            time_in_force="good_till_canceled",
            self_trade_prevention_type="maker",
        )
        if result.order.is_live:
            live.append((result.order.user_id, result.order.order_id))

    return ex, step


def sim_order_us(n: int = 4_000, batch: int = 2) -> list[float]:
    """One order into the simulator's exchange core (entry, matching, accounting; 30 % cancels)."""
    ex, step = sim_order_flow()
    out = batched_us(step, batch=batch, batches=n // batch)
    ex.check_invariants()
    return out


def replay_cpu_us(path: Path, events: int = 150_000) -> list[float]:
    """CPU microseconds per recorded event through the core, over the recording's first ``events`` (CI's
    replay figure: process CPU time, so a busy machine's preemptions are not counted)."""
    from kxbtc.config import Config
    from kxbtc.recordings.open import open_recording
    from kxbtc.replay.runner import ReplayRunner, ReplaySettings
    from kxbtc.store.db import SqliteStore

    with tempfile.TemporaryDirectory(prefix="kxbtc-bench-replay-") as tmp:
        store = SqliteStore(Path(tmp) / "replay.db")
        try:
            recording = _FirstEvents(open_recording(path), events)
            runner = ReplayRunner(
                Config(), cast("MarketRecording", recording), ReplaySettings(latency_ms=50), store
            )
            started = time.process_time()
            runner.run()
            seconds = time.process_time() - started
        finally:
            store.close()
    return [seconds * 1e6 / max(1, runner.counts.events)]


class _FirstEvents:
    """A recording cut after its first ``count`` events (everything else as the recording says)."""

    def __init__(self, recording: MarketRecording, count: int) -> None:
        self._recording = recording
        self._count = count

    def events(self) -> Iterator[RecordedEvent]:
        return itertools.islice(self._recording.events(), self._count)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._recording, name)


def replay_events_per_s(path: Path) -> tuple[float, int]:
    """Recorded events per second through the core (``ReplayRunner``), and the event count."""
    from kxbtc.config import Config
    from kxbtc.recordings.open import open_recording
    from kxbtc.replay.runner import ReplayRunner, ReplaySettings
    from kxbtc.store.db import SqliteStore

    with tempfile.TemporaryDirectory(prefix="kxbtc-bench-replay-") as tmp:
        store = SqliteStore(Path(tmp) / "replay.db")
        try:
            runner = ReplayRunner(Config(), open_recording(path), ReplaySettings(latency_ms=50), store)
            started = time.perf_counter()
            runner.run()
            seconds = time.perf_counter() - started
        finally:
            store.close()
    events = runner.counts.events
    return (events / seconds if seconds > 0 else 0.0), events
