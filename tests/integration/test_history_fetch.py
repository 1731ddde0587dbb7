"""``kxbtc history fetch`` against the simulator: pagination, 429s answered with backoff, and a run
killed with SIGKILL that resumes to the same database as a clean run.

The simulator's history is made first and then frozen: an exchange on a ``ManualClock`` is stepped
through two hours (seeded counterparties trade, markets settle), and nothing moves while it serves. With
``archive_after_s`` one hour, the older markets and trades are in the historical tier and the newer
ones in the live tier, so both are walked.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from spot_stub import SpotStub

from kxbtc.clock import NS_PER_S, ManualClock
from kxbtc.history.db import HistoryDb
from kxbtc.history.fetcher import FetchPlan, HistoryFetcher
from kxbtc.history.spot import SpotCandlesClient
from kxbtc.json_http import JsonGetter, RetryPolicy
from kxbtc.kalshi.history import KalshiHistoryApi, kalshi_error
from kxbtc.sim.exchange import Exchange, SimConfig
from kxbtc.sim.faults import FaultSpec, HttpFault
from kxbtc.sim.harness import SimHarness, ThreadedSimHarness
from kxbtc.sim.history_tier import cutoff_ns
from kxbtc.sim.server import ServerConfig

REPO = Path(__file__).resolve().parents[2]
DAY0 = 1_767_225_600  # 2026-01-01T00:00:00Z, the ManualClock's default start
DAY1 = DAY0 + 86_400
SERIES = "KXBTC15M"
TABLES = ("markets", "candles", "trades", "spot_candles", "progress")


@pytest.fixture(scope="module")
def frozen_exchange() -> Exchange:
    """Two hours of seeded history, then frozen (nothing advances the clock while it serves)."""
    clock = ManualClock(DAY0 * NS_PER_S)
    exchange = Exchange(clock, seed=11, config=SimConfig(archive_after_s=3600))
    for _ in range(120):
        clock.advance(60)
        exchange.step()
    return exchange


def settled_in_range(exchange: Exchange) -> list[str]:
    return sorted(
        m.ticker
        for m in exchange.markets.values()
        if m.series_ticker == SERIES and m.status == "finalized" and DAY0 <= m.close_ns // NS_PER_S < DAY1
    )


class NoWaitClock(ManualClock):
    """Backoff sleeps are recorded and pass at once: the test does not wait for them."""

    def __init__(self) -> None:
        super().__init__()
        self.slept: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.advance(max(0.0, seconds))


async def test_fetch_paginates_and_backs_off_on_429(tmp_path: Path, frozen_exchange: Exchange) -> None:
    exchange = frozen_exchange
    faults = FaultSpec(http_429=0.2, retry_after=3)
    clock = NoWaitClock()
    policy = RetryPolicy(max_retries=30)
    plan = FetchPlan(SERIES, DAY0, DAY1, market_page=3, trade_page=40)
    with SpotStub() as spot:
        async with (
            SimHarness(exchange, config=ServerConfig(faults=faults, fault_seed=5), step_interval_s=0) as sim,
            JsonGetter(sim.rest_url, clock=clock, policy=policy, error_for=kalshi_error) as kalshi_http,
            JsonGetter(spot.url, clock=clock, policy=policy) as spot_http,
        ):
            with HistoryDb(tmp_path / "h.sqlite") as db:
                fetcher = HistoryFetcher(
                    db, KalshiHistoryApi(kalshi_http), SpotCandlesClient(spot_http), plan
                )
                summary = await fetcher.run()
                markets = db.markets_closing_in(SERIES, DAY0, DAY1)
        injected = sim.server.faults.injected[HttpFault.RATE_LIMITED]

    tickers = settled_in_range(exchange)
    assert [m.ticker for m in markets] == sorted(tickers, key=lambda t: exchange.markets[t].close_ns)
    cutoff = cutoff_ns(exchange.state)
    assert {m.archived for m in markets} == {0, 1}, "both tiers are walked"
    for m in markets:
        assert m.archived == (exchange.markets[m.ticker].settled_ns < cutoff)  # type: ignore[operator]
        assert m.result in ("yes", "no") and m.floor_strike_cents and m.expiration_value_cents
    trades = sum(len(exchange.trades.get(t, [])) for t in tickers)
    assert trades > 10 * plan.trade_page, "a market's trades span several pages"
    assert len(tickers) > 2 * plan.market_page, "the market list spans several pages"
    candles = sum(
        len(exchange.candlesticks(t, start_ts=m.open_ts, end_ts=m.close_ts, period_interval=1))
        for t, m in zip(tickers, sorted(markets, key=lambda r: r.ticker), strict=True)
    )
    assert (summary.markets, summary.trades, summary.candles) == (len(tickers), trades, candles)
    assert summary.spot_candles == 1440

    # Every 429 the simulator injected was retried after its Retry-After; the stub's after its own.
    assert injected > 0 and kalshi_http.stats.rate_limited == injected
    assert kalshi_http.stats.waits == [3.0] * injected
    assert spot_http.stats.rate_limited == spot.rate_limited == 5
    assert spot_http.stats.waits == [1.0] * 5
    assert summary.rate_limited == injected + 5 and summary.retries == summary.rate_limited
    assert summary.pages >= len(tickers) * 3


def dump(db_path: Path) -> dict[str, list[tuple[Any, ...]]]:
    with sqlite3.connect(db_path) as conn:
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall() for t in TABLES}


def rows_in(db_path: Path, table: str) -> int:
    if not db_path.exists():
        return 0
    try:
        with sqlite3.connect(db_path, timeout=5) as conn:
            return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
    except sqlite3.OperationalError:  # the schema is not there yet
        return 0


def wait_for(condition: Callable[[], bool], what: str, timeout_s: float = 60.0) -> None:
    """Poll ``condition``; the timeout only bounds a broken run, the test's logic waits on the event."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


def fetch_command(db: Path, rest_url: str, spot_url: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "kxbtc",
        "history",
        "fetch",
        "--series",
        SERIES,
        "--from",
        "2026-01-01",
        "--to",
        "2026-01-02",
        "--db",
        str(db),
        "--rest-url",
        rest_url,
        "--spot-url",
        spot_url,
        "--page-size",
        "40",
        "--max-rps",
        "1000",
        "--retry-base",
        "0.01",
        "--json",
    ]


class TradesGate:
    """Holds the simulator's Nth public-trades read until released: the fetch is then, for certain,
    between two pages of one market's trades, with the earlier pages committed."""

    def __init__(self, exchange: Exchange, hold_at: int) -> None:
        self.exchange = exchange
        self.hold_at = hold_at
        self.calls = 0
        self.reached = threading.Event()
        self.release = threading.Event()
        self._real = exchange.trades_page

    def __enter__(self) -> TradesGate:
        def gated(**query: Any) -> Any:
            self.calls += 1
            if self.calls == self.hold_at:
                self.reached.set()
                self.release.wait(timeout=120)
            return self._real(**query)

        self.exchange.trades_page = gated  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        del self.exchange.trades_page  # back to the class's method


def test_fetch_resumes_after_sigkill_without_duplicates(tmp_path: Path, frozen_exchange: Exchange) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    config = ServerConfig(faults=FaultSpec(http_429=0.1), fault_seed=3)
    killed_db, clean_db = tmp_path / "killed.sqlite", tmp_path / "clean.sqlite"
    with (
        ThreadedSimHarness(exchange=frozen_exchange, config=config, step_interval_s=0) as sim,
        SpotStub() as spot,
    ):
        with TradesGate(frozen_exchange, hold_at=7) as gate:
            first = subprocess.Popen(
                fetch_command(killed_db, sim.rest_url, spot.url),
                env=env,
                cwd=tmp_path,
                stdout=subprocess.PIPE,
            )
            try:
                wait_for(gate.reached.is_set, "the fetch to reach the held trades page")
                wait_for(lambda: rows_in(killed_db, "trades") > 0, "trades in the database")
            finally:
                os.kill(first.pid, signal.SIGKILL)
                first.wait(timeout=30)
            assert first.returncode == -signal.SIGKILL
        partial = dump(killed_db)
        assert partial["trades"] and not partial["spot_candles"]
        # Held on a market's second trades page: that task stands at a saved cursor, not done.
        assert any(
            task.startswith("trades:") and cursor and not done for task, cursor, done in partial["progress"]
        )

        resumed = subprocess.run(
            fetch_command(killed_db, sim.rest_url, spot.url),
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert resumed.returncode == 0, resumed.stderr
        clean = subprocess.run(
            fetch_command(clean_db, sim.rest_url, spot.url),
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert clean.returncode == 0, clean.stderr

    resumed_summary, clean_summary = json.loads(resumed.stdout), json.loads(clean.stdout)
    for key in ("markets", "candles", "trades", "spot_candles"):
        assert resumed_summary[key] == clean_summary[key] > 0
    assert resumed_summary["pages"] < clean_summary["pages"], "the restart skipped the pages already stored"
    assert dump(killed_db) == dump(clean_db)
    with sqlite3.connect(killed_db) as conn:
        ids = [r[0] for r in conn.execute("SELECT trade_id FROM trades")]
    assert len(ids) == len(set(ids)) == len(frozen_exchange_trades(frozen_exchange))


def frozen_exchange_trades(exchange: Exchange) -> list[str]:
    return [t.trade_id for ticker in settled_in_range(exchange) for t in exchange.trades.get(ticker, [])]
