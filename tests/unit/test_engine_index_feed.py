"""The live engine's index wiring: the chosen source feeds the core, both feed the gap, status shows it.

The estimate runs from a feed whose book the test sets (``index_fakes.FixedBookFeed``) on a
``ManualClock``: the estimate loop's sleeps are the clock's, so nothing waits on real time.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from index_fakes import FixedBookFeed

from kxbtc.cli import EXIT_OK, cli
from kxbtc.clock import NS_PER_S, ManualClock
from kxbtc.config import Config, EngineConfig
from kxbtc.core.trading_core import TradingCore
from kxbtc.engine.index_feed import INDEX_KEY, build_index_feed
from kxbtc.ops import index_status
from kxbtc.store.db import SqliteStore

T0 = 1_795_184_000


def config(index: str, venues: tuple[str, ...] = ()) -> Config:
    return Config(engine=EngineConfig.model_validate({"index": index, "estimate_venues": venues}))


def status_json(db: Path, clock: ManualClock) -> dict[str, object]:
    result = CliRunner().invoke(cli, ["status", "--db", str(db), "--json"], obj={"clock": clock})
    assert result.exit_code == EXIT_OK, result.output
    status = json.loads(result.stdout)
    assert isinstance(status, dict)
    return status


async def test_the_estimate_feeds_the_core_and_kalshi_only_the_gap(tmp_path: Path) -> None:
    clock = ManualClock(start_ns=T0 * NS_PER_S)
    store = SqliteStore(tmp_path / "engine.db")
    cfg = config("estimate")
    core = TradingCore(cfg, clock=clock, store=store, run_id="index-test")
    feed = FixedBookFeed(clock, 91_230.0)
    index = build_index_feed(cfg, clock, store, core.handle, feeds=[feed])
    assert index.estimate is not None
    index.start()
    try:
        # The loop estimates every 0.2 s of the injected clock, from its first turn: +0.05, ..., +0.85 s.
        await clock.run_for(0.95, step=0.05)
        assert core.index.spot == 91_230.0
        assert core.index.last_ts_ns == T0 * NS_PER_S + 850_000_000
        # Kalshi prints 91,229.25 in the same second: the core keeps the estimate, the gap is +0.75.
        index.kalshi.on_value(T0 * 1000 + 950, 91_229.25)
        assert core.index.spot == 91_230.0
        feed.mid = 91_231.0
        await clock.run_for(1.0, step=0.05)  # second T0 + 1: estimates at 91,231.00, the last at +1.85 s
        index.kalshi.on_value((T0 + 1) * 1000 + 500, 91_230.75)  # gap +0.25
        assert core.index.spot == 91_231.0
    finally:
        await index.close()
    gap = index.gap.summary()
    assert (gap.seconds, gap.last, gap.max_abs) == (2, 0.25, 0.75)
    assert gap.mean == pytest.approx(0.5)

    index.snapshot()
    store.flush()
    clock.advance(3.0)  # the operator looks 3 s after the engine wrote
    view = status_json(tmp_path / "engine.db", clock)["index"]
    assert isinstance(view, dict)
    assert view["source"] == "estimate" and view["value"] == 91_231.0
    assert view["written_age_s"] == 3.0
    assert view["age_s"] == pytest.approx(3.0 + 1.95 - 1.85)  # now T0 + 4.95 s
    assert view["sources"]["kalshi"]["value"] == 91_230.75
    assert view["gap"]["seconds"] == 2 and view["gap"]["last"] == 0.25
    assert view["gap"]["mean"] == pytest.approx(0.5) and view["gap"]["max_abs"] == 0.75
    assert view["feeds"] == {"fixed": "down"}  # the fake never connects; real feeds report live
    table = CliRunner().invoke(cli, ["status", "--db", str(tmp_path / "engine.db")], obj={"clock": clock})
    assert "estimate $91,231.00 (3.1 s old)" in table.stdout
    flat = " ".join(table.stdout.split())  # the table wraps long cells at the terminal's width
    assert "last +0.25, mean +0.50, max |0.75| over 2 s" in flat
    store.close()


async def test_kalshi_by_default_with_no_estimate_running(tmp_path: Path) -> None:
    clock = ManualClock(start_ns=T0 * NS_PER_S)
    store = SqliteStore(tmp_path / "engine.db")
    cfg = Config()
    core = TradingCore(cfg, clock=clock, store=store, run_id="index-test")
    index = build_index_feed(cfg, clock, store, core.handle)
    assert index.estimate is None  # no venue listed, not the chosen index: no sockets opened
    index.start()
    index.kalshi.on_value(T0 * 1000, 91_000.5)
    assert core.index.spot == 91_000.5
    index.maybe_snapshot()
    clock.advance(1.0)
    index.kalshi.on_value((T0 + 1) * 1000, 91_001.5)
    index.maybe_snapshot()  # within snapshot_every_s of the last write: nothing new written
    store.flush()
    record = json.loads(store.get_value(INDEX_KEY) or "{}")
    assert (record["source"], record["value"]) == ("kalshi", 91_000.5)
    assert record["gap"]["seconds"] == 0
    await index.close()
    store.close()


def test_the_estimate_venues_are_built_when_listed_or_chosen(tmp_path: Path) -> None:
    clock = ManualClock()
    store = SqliteStore(tmp_path / "engine.db")
    watching = build_index_feed(config("kalshi", ("coinbase",)), clock, store, print)
    assert watching.estimate is not None and [f.venue for f in watching.estimate.oracle.feeds] == ["coinbase"]
    trading = build_index_feed(config("estimate"), clock, store, print)
    assert trading.estimate is not None
    assert [f.venue for f in trading.estimate.oracle.feeds] == ["bitstamp", "coinbase", "gemini", "kraken"]
    with pytest.raises(ValueError, match="estimate"):
        build_index_feed(config("estimate"), clock, store, print, feeds=[])
    store.close()


def test_ops_reads_the_key_the_engine_writes() -> None:
    assert index_status.INDEX_KEY == INDEX_KEY


def test_status_without_an_index_record_says_so(tmp_path: Path) -> None:
    SqliteStore(tmp_path / "empty.db").close()
    clock = ManualClock()
    status = status_json(tmp_path / "empty.db", clock)
    assert status["index"] is None
    table = CliRunner().invoke(cli, ["status", "--db", str(tmp_path / "empty.db")], obj={"clock": clock})
    assert "no record yet" in table.stdout
