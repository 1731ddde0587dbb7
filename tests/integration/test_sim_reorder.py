"""The simulator's ``reorder`` fault (issue 15: "real per-message network delay and reordering"): frames
of different subscriptions overtake one another, each subscription keeps its order but for a rare book
delta that overtakes its predecessor, and the engine still ends with the exchange's books and ledger."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

import aiohttp
import pytest
from test_sim_server import Client

from kxbtc.bench.soak import START_NS, run_soak
from kxbtc.clock import NS_PER_S, LoopClock
from kxbtc.sim.exchange import Exchange
from kxbtc.sim.faults import FaultSpec, FaultSpecError
from kxbtc.sim.harness import SimHarness
from kxbtc.sim.server import ServerConfig
from kxbtc.virtual_loop import run_virtual


def test_reorder_is_a_probability() -> None:
    assert FaultSpec.parse("reorder=0.25,delay_ms=30").reorder == 0.25
    for spec in ("reorder=nan", "reorder=inf", "reorder=-0.1", "reorder=1.5", "reorder=x"):
        with pytest.raises(FaultSpecError):
            FaultSpec.parse(spec)


def _stream(faults: FaultSpec, seconds: float) -> tuple[list[dict[str, Any]], int, int]:
    """Every frame a raw client receives in ``seconds`` of simulated time subscribed to three channels of
    every open market, with the server's counts of reordered frames and of sid overtakes."""

    async def main() -> tuple[list[dict[str, Any]], int, int]:
        clock = LoopClock(START_NS)
        exchange = Exchange(clock, seed=2)
        config = ServerConfig(faults=faults, fault_seed=9, heartbeat_s=60)
        async with (
            aiohttp.ClientSession() as session,
            SimHarness(exchange, config=config, real_clock=clock, step_interval_s=0.25) as sim,
        ):
            tickers = [m.ticker for m in exchange.markets.values() if m.is_trading]
            ws = await Client(sim, session).ws()
            channels = ["orderbook_delta", "ticker", "trade", "market_lifecycle_v2"]
            await ws.send_json(
                {"id": 1, "cmd": "subscribe", "params": {"channels": channels, "market_tickers": tickers}}
            )
            frames: list[dict[str, Any]] = []
            end = asyncio.get_running_loop().time() + seconds
            while (left := end - asyncio.get_running_loop().time()) > 0:
                try:
                    message = await asyncio.wait_for(ws.receive(), left)
                except TimeoutError:
                    break
                if message.type == aiohttp.WSMsgType.TEXT:
                    frames.append(json.loads(message.data))
            await ws.close()
            injector = sim.server.faults
            return frames, injector.ws_reordered, injector.ws_sid_overtakes

    return run_virtual(main(), real_timeout_s=120)


def _seqs_by_sid(frames: list[dict[str, Any]]) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for frame in frames:
        if "seq" in frame and "id" not in frame:
            out.setdefault(frame["sid"], []).append(frame["seq"])
    return out


def test_frames_overtake_across_subscriptions_and_rarely_within_one() -> None:
    frames, reordered, overtakes = _stream(FaultSpec(delay_ms=30, reorder=0.3), 40.0)
    assert reordered > 0 and overtakes > 0
    # Every subscribed ack precedes its sid's first data frame (command replies are never reordered).
    acked: set[int] = set()
    for frame in frames:
        if frame["type"] == "subscribed":
            acked.add(frame["msg"]["sid"])
        elif "sid" in frame:
            assert frame["sid"] in acked, frame
    # Nothing is lost: each sid's seqs are 1..n, but some arrive after a later one (the client's gap).
    inversions = 0
    for seqs in _seqs_by_sid(frames).values():
        assert sorted(seqs) == list(range(1, len(seqs) + 1))
        inversions += sum(b < a for a, b in itertools.pairwise(seqs))
    assert 0 < inversions <= overtakes
    # Frames of different channels arrive out of their send order: a trade ahead of the book delta
    # that the same match sent before it.
    assert _trades_ahead_of_their_delta(frames) > 0


def _trades_ahead_of_their_delta(frames: list[dict[str, Any]]) -> int:
    """Trades received before any book delta of their market and instant, with one received later (the
    exchange sends the maker's size change, then the trade)."""
    deltas_seen: set[tuple[str, int]] = set()
    waiting: set[tuple[str, int]] = set()
    ahead = 0
    for frame in frames:
        msg = frame.get("msg")
        if not isinstance(msg, dict) or "ts_ms" not in msg:
            continue
        key = (msg["market_ticker"], msg["ts_ms"])
        if frame["type"] == "orderbook_delta":
            deltas_seen.add(key)
            ahead += key in waiting
            waiting.discard(key)
        elif frame["type"] == "trade" and key not in deltas_seen:
            waiting.add(key)
    return ahead


def test_without_reorder_every_frame_keeps_its_send_order() -> None:
    frames, reordered, overtakes = _stream(FaultSpec(delay_ms=30), 20.0)
    assert (reordered, overtakes) == (0, 0)
    assert _trades_ahead_of_their_delta(frames) == 0
    for seqs in _seqs_by_sid(frames).values():
        assert seqs == list(range(1, len(seqs) + 1))


def test_engine_books_and_ledger_equal_the_exchanges_under_reordering(tmp_path: Any) -> None:
    # Only reordering (no drops): every seq gap the engine sees is a book delta that overtook its
    # predecessor, and it must resync rather than apply it out of order.
    report = run_soak(
        [5],
        hours=0.05,
        kills=0,
        db_dir=tmp_path,
        clock_steps=(),
        start_ns=START_NS + 600 * NS_PER_S,
        faults=FaultSpec(delay_ms=30, reorder=0.3),
    )
    print(report.table())
    assert report.faults["ws frames reordered (delivered after a later one)"] > 0
    assert report.faults["ws book deltas ahead of their predecessor"] > 0
    assert report.faults["ws seq gaps (dropped or overtaken frames)"] > 0
    assert report.fills_exchange > 0 and report.fills_db == report.fills_exchange
    assert report.books_live > 0
    assert report.invariants() == dict.fromkeys(report.invariants(), 0), report.table()
