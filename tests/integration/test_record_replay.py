"""Record one 15-minute market from the simulator over real loopback HTTP and WebSocket, then replay it.

The simulator and the recorder share one loop on virtual time (``kxbtc.virtual_loop``) from a fixed midday
start, so the recording covers a whole market (open to determination) in a few seconds of CPU, the same on
any machine. The recorder asks for fresh snapshots every two simulated
minutes: each is the simulator's own book at that instant, and the book the replay rebuilt from deltas
must equal it.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from engine_harness import virtual_sim

from kxbtc.backtest.recorder import Recorder, RecordingWriter
from kxbtc.backtest.recording import Recording
from kxbtc.cli import EXIT_OK, cli
from kxbtc.clock import NS_PER_S, LoopClock, ScaledClock
from kxbtc.config import Config, RiskConfig, StrategyConfig
from kxbtc.core.books import BookSet
from kxbtc.domain.events import BookDelta, BookSnapshot, BookStale
from kxbtc.kalshi.rest import KalshiRestClient
from kxbtc.kalshi.stream import KalshiStream
from kxbtc.kalshi.ws_messages import decode_frame
from kxbtc.replay.api import replay
from kxbtc.replay.runner import ReplaySettings
from kxbtc.sim.exchange import Exchange, SimConfig
from kxbtc.sim.harness import ThreadedSimHarness
from kxbtc.virtual_loop import run_virtual

MIDDAY_NS = 1_780_315_200 * NS_PER_S  # 2026-06-01 12:00:00 UTC, a quarter-hour boundary
CLOSE_NS = MIDDAY_NS + 900 * NS_PER_S
CLI_SPEED = 10.0
#: Real seconds the record command gets to write its first WebSocket frame: a safety net only.
CLI_SAFETY_S = 60.0


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("rec") / "sim.jsonl.gz"

    async def record() -> None:
        # Starts a minute before the 12:00 window opens.
        clock = LoopClock(MIDDAY_NS - 60 * NS_PER_S)
        exchange = Exchange(clock, seed=5, config=SimConfig(series=("KXBTC15M",), mispricing=0.06))
        async with virtual_sim(exchange, step_interval_s=0.02) as sim:
            signer = sim.signer()
            async with KalshiRestClient(sim.rest_url, signer, clock) as rest:
                recorder = Recorder(
                    rest,
                    sim.ws_url,
                    signer,
                    clock,
                    RecordingWriter(path),
                    snapshot_every_s=120.0,
                    ws_clock=clock,
                )
                stats = await recorder.run(until_ns=CLOSE_NS + 20 * NS_PER_S)
        assert stats.errors == []

    run_virtual(record())
    return path


def test_the_recording_holds_definitions_books_index_trades_and_the_result(recording: Path) -> None:
    rec = Recording(recording)
    assert rec.header.series == ("KXBTC15M",) and rec.header.use_yes_price
    kinds: dict[str, int] = {}
    tickers: set[str] = set()
    for line in rec.lines():
        key = line.kind
        if line.frame is not None:
            key = "ws:" + json.loads(line.frame)["type"]
        kinds[key] = kinds.get(key, 0) + 1
        if line.kind == "market":
            tickers.add(line.body["ticker"])
    assert "KXBTC15M-26JUN010815-15" in tickers  # the 12:00-12:15 window, and the one after it rolled in
    assert len(tickers) >= 2
    for kind in ("ws:orderbook_snapshot", "ws:orderbook_delta", "ws:cfbenchmarks_value", "ws:trade"):
        assert kinds.get(kind, 0) > 0, kinds
    assert kinds["ws:market_lifecycle_v2"] >= 1 and kinds["end"] == 1


def test_books_rebuilt_from_the_recording_equal_the_simulators_snapshots(recording: Path) -> None:
    rec = Recording(recording)
    stream = KalshiStream(use_yes_price=rec.header.use_yes_price)
    books = BookSet()
    compared = 0
    for line in rec.lines():
        if line.kind == "market":
            books.add(str(line.body["ticker"]), None)
        if line.kind == "connection" and not line.body["up"]:
            for stale in stream.disconnected(line.t):
                books.apply(stale)
        if line.frame is None:
            continue
        for event in stream.on_message(decode_frame(line.frame), line.t):
            if not isinstance(event, BookSnapshot | BookStale | BookDelta):
                continue
            book = books.get(event.ticker)
            if isinstance(event, BookSnapshot) and book is not None and not book.stale:
                rebuilt = book.to_levels()  # from the first snapshot and every delta since
                books.apply(event)
                assert book.to_levels() == rebuilt, f"line {line.number}: the simulator's book differs"
                compared += 1
            else:
                books.apply(event)
    assert compared >= 5
    assert stream.stats.seq_gaps == 0 and books.errors == 0


def test_replay_settles_from_the_recorded_result_and_is_deterministic(recording: Path) -> None:
    config = Config(
        risk=RiskConfig(daily_loss_pct=50.0, max_drawdown_pct=50.0),
        strategies={"fair_value": StrategyConfig()},
    )
    settings = ReplaySettings(latency_ms=250, index="kalshi")
    first = replay(config, [recording], settings).to_json()
    second = replay(config, [recording], settings).to_json()
    assert first == second

    assert first["index"] == "kalshi"
    traded = {m["ticker"]: m for m in first["by_market"]}
    assert traded, "the makers misprice: fair value finds trades"
    assert traded["KXBTC15M-26JUN010815-15"]["settled"] is True
    assert first["trades"] > 0 and first["counts"]["frames"] > 0


def test_record_command_writes_a_recording_the_backtest_command_replays(tmp_path: Path) -> None:
    # The command runs its own event loop, on a real-time clock (``--sim-clock``), so it cannot share the
    # virtual loop: it records until it is stopped, and the stop is sent once the recording holds a
    # WebSocket frame, however long that took. At 10x the open window has 78 real seconds left, far more
    # than the safety net, so the recording covers one market whatever the machine's speed.
    clock = ScaledClock(CLI_SPEED, start_ns=MIDDAY_NS + 120 * NS_PER_S)
    threaded = ThreadedSimHarness(exchange=Exchange(clock, seed=9, config=SimConfig(series=("KXBTC15M",))))
    out = tmp_path / "cli.jsonl"
    with threaded as sim:
        key_file = sim.key.write_private_key(tmp_path)
        args = [
            "record",
            "--out",
            str(out),
            "--env",
            "sim",
            "--rest-url",
            sim.rest_url,
            "--ws-url",
            sim.ws_url,
            "--key-id",
            sim.key.key_id,
            "--key-file",
            str(key_file),
            "--no-ntp",
            "--sim-clock",
            f"{CLI_SPEED}:{clock.time_ns()}:{time.time_ns()}",
        ]
        stopper = threading.Thread(target=_stop_when_recorded, args=(out,), daemon=True)
        stopper.start()
        result = CliRunner().invoke(cli, args)
        stopper.join(timeout=5)
    assert result.exit_code == EXIT_OK, result.output
    assert "recorded" in result.stderr
    assert Recording(out).header.series == ("KXBTC15M",)

    replayed = CliRunner().invoke(cli, ["backtest", "--replay", str(out), "--json"])
    assert replayed.exit_code == EXIT_OK, replayed.output
    report = json.loads(replayed.stdout)
    assert report["markets"] == 1 and report["counts"]["frames"] > 0


def _stop_when_recorded(out: Path) -> None:
    """SIGTERM this process (the record command stops cleanly on it) once ``out`` holds a WS frame."""
    deadline = time.monotonic() + CLI_SAFETY_S
    while time.monotonic() < deadline:
        if out.exists() and '"k":"ws"' in out.read_text(errors="replace"):
            break
        time.sleep(0.05)
    os.kill(os.getpid(), signal.SIGTERM)
