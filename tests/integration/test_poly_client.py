"""Polymarket clients against a local stub speaking Gamma, CLOB REST and the market WebSocket: discovery
by slug, REST books, live books through disconnects and lost messages, PING/PONG, the CLI, paper fills."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from poly_stub import PolyStub, StubBook

from kxbtc.clock import NS_PER_S, ManualClock, now_ms
from kxbtc.errors import NotFoundError
from kxbtc.polymarket.cli import poly
from kxbtc.polymarket.clob import ClobClient
from kxbtc.polymarket.gamma import GammaClient
from kxbtc.polymarket.http import PolyHttp
from kxbtc.polymarket.venue import PaperPolymarketVenue
from kxbtc.polymarket.ws import PolymarketWsClient
from kxbtc.polymarket.ws_handlers import PolyQueueHandler

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "polymarket"
START = 1_795_791_600
SLUG = f"btc-updown-15m-{START}"
UP = "71321045679252212594626385532706912750332728571942532289631379312455583992563"
DOWN = "52114319501245915516055106046884209969926127482827954674443846427813813222426"


def stub_books() -> dict[str, StubBook]:
    return {
        UP: StubBook(bids={5000: 1500, 4900: 2000}, asks={5200: 2500, 5300: 6000}),
        DOWN: StubBook(bids={4700: 5550}, asks={5000: 1200, 5100: 3500}),
    }


@dataclass
class Rig:
    clock: ManualClock
    stub: PolyStub
    client: PolymarketWsClient
    events: PolyQueueHandler

    async def until(self, cond: Callable[[], bool], what: str, advance: float = 0.05) -> None:
        """Let real I/O run and simulated time pass in small steps until ``cond`` holds."""
        for _ in range(2000):
            if cond():
                return
            self.clock.advance(advance)
            await asyncio.sleep(0.002)
        raise AssertionError(f"timed out waiting for {what}")

    def books_match(self, *tokens: str) -> bool:
        for token in tokens:
            book = self.client.books.get(token)
            server = self.stub.books[token]
            if (
                book is None
                or not book.is_tradeable()
                or (book.bids, book.asks) != (server.bids, server.asks)
            ):
                return False
        return True


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock((START + 60) * NS_PER_S)


@pytest.fixture
async def stub(clock: ManualClock) -> AsyncIterator[PolyStub]:
    server = PolyStub(lambda: now_ms(clock))
    server.events[SLUG] = json.loads((FIXTURES / "gamma_event_btc15m.json").read_text())[0]
    server.books.update(stub_books())
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def rig(stub: PolyStub, clock: ManualClock) -> AsyncIterator[Rig]:
    events = PolyQueueHandler()
    client = PolymarketWsClient(
        stub.ws_url, clock, handler=events, rng=random.Random(3), ping_interval=10.0, liveness_timeout=60.0
    )
    await client.subscribe([UP, DOWN])
    client.start()
    r = Rig(clock, stub, client, events)
    try:
        await r.until(lambda: r.books_match(UP, DOWN), "initial books")
        yield r
    finally:
        await client.close()


# -------------------------------------------------------------------------------------------------
# REST


async def test_discovery_by_slug_maps_up_and_down_tokens(stub: PolyStub) -> None:
    http = PolyHttp(stub.http_url)
    try:
        market = await GammaClient(http).updown_15m(START)
        assert (market.slug, market.up_token, market.down_token) == (SLUG, UP, DOWN)
        assert (market.start_s, market.end_s) == (START, START + 900)
        assert stub.http_requests[-1] == ("/events", {"slug": SLUG})
        with pytest.raises(NotFoundError, match="btc-updown-15m-1795792500"):
            await GammaClient(http).updown_15m(START + 900)
    finally:
        await http.aclose()


async def test_rest_book_top_of_book_ignores_level_order(stub: PolyStub) -> None:
    http = PolyHttp(stub.http_url)
    try:
        clob = ClobClient(http)
        top = await clob.top_of_book(UP)
        assert (top.bid, top.bid_size, top.ask, top.ask_size) == (5000, 1500, 5200, 2500)
        raw = await clob.book(UP)
        assert raw.bids[0].price == "0.49" and raw.asks[0].price == "0.53"  # worst first on the wire
        book = await clob.poly_book(DOWN)
        assert book.is_tradeable() and book.best_ask() == 5000 and book.min_order_size == 500
        with pytest.raises(NotFoundError, match="No orderbook"):
            await clob.book("123")
    finally:
        await http.aclose()


# -------------------------------------------------------------------------------------------------
# WebSocket


async def test_subscribe_builds_books_and_applies_changes_and_removals(rig: Rig) -> None:
    first = json.loads(rig.stub.current.frames[0])
    assert first == {"assets_ids": [UP, DOWN], "type": "market", "custom_feature_enabled": True}
    await rig.stub.price_change(UP, "BUY", 5100, 40000)  # a new best bid
    await rig.stub.price_change(DOWN, "SELL", 5000, 0)  # removes the best ask
    await rig.stub.price_change(UP, "SELL", 5300, 100)  # resize a level
    await rig.until(lambda: rig.books_match(UP, DOWN), "changes applied")
    up, down = rig.client.books[UP], rig.client.books[DOWN]
    assert (up.best_bid(), up.best_bid_size(), up.asks[5300]) == (5100, 40000, 100)
    assert down.best_ask() == 5100
    assert not rig.client.stats.errors


async def test_reconnect_after_a_drop_rebuilds_books_from_the_fresh_snapshot(rig: Rig) -> None:
    await rig.stub.drop()
    await rig.until(lambda: not rig.client.connected, "disconnect seen")
    assert not rig.client.is_tradeable(UP) and rig.client.books[UP].stale_reason == "disconnected"
    # The venue moves while we are away; the next session's initial dump must carry it.
    rig.stub.set_level(UP, "BUY", 5000, 0)
    rig.stub.set_level(DOWN, "SELL", 4900, 800)
    await rig.until(lambda: rig.client.stats.connects == 2 and rig.books_match(UP, DOWN), "rebuilt")
    assert len(rig.stub.sessions) == 2
    assert json.loads(rig.stub.current.frames[0])["assets_ids"] == [UP, DOWN]
    assert rig.client.books[UP].best_bid() == 4900 and rig.client.books[DOWN].best_ask() == 4900
    kinds = []
    while not rig.events.queue.empty():
        kinds.append(rig.events.queue.get_nowait()[0])
    assert "book_stale" in kinds and kinds.count("connection") >= 3
    assert rig.client.stats.errors["NetworkError"] >= 1


async def test_text_ping_every_ten_seconds_is_answered_with_pong(rig: Rig) -> None:
    start = rig.clock.monotonic()
    await rig.until(lambda: rig.client.stats.pongs >= 3, "three pongs", advance=0.5)
    pings = [f for f in rig.stub.current.frames if f == "PING"]
    assert len(pings) >= 3 and rig.client.stats.pings_sent >= 3
    assert rig.clock.monotonic() - start >= 30.0  # one every ten seconds, not more often
    assert rig.client.stats.connects == 1 and rig.client.stats.liveness_timeouts == 0


async def test_a_silent_peer_is_dropped_and_the_client_reconnects(rig: Rig) -> None:
    rig.stub.answer_pings = False
    await rig.until(lambda: rig.client.stats.liveness_timeouts == 1, "liveness timeout", advance=0.5)
    rig.stub.answer_pings = True
    await rig.until(lambda: rig.client.stats.connects == 2 and rig.books_match(UP, DOWN), "reconnected")


async def test_a_lost_change_is_detected_and_the_book_resubscribed(rig: Rig) -> None:
    await rig.stub.price_change(UP, "BUY", 5050, 100, lose=True)  # never reaches the client
    await rig.stub.price_change(UP, "SELL", 5300, 50)  # its best_bid says 0.505: ours is 0.50
    await rig.until(lambda: rig.client.stats.snapshot_requests == 1, "drift noticed")
    await rig.until(lambda: rig.books_match(UP, DOWN), "book repaired")
    ops = [json.loads(f) for f in rig.stub.current.frames if f.startswith("{")][1:]
    assert [(o["operation"], o["assets_ids"]) for o in ops] == [("unsubscribe", [UP]), ("subscribe", [UP])]
    assert rig.client.stats.errors["BookError"] == 1 and rig.client.books[UP].best_bid() == 5050


async def test_bad_frames_are_counted_and_later_frames_still_apply(rig: Rig) -> None:
    await rig.stub.send_raw("not json at all")
    await rig.stub.send_raw(json.dumps({"event_type": "brand_new_thing"}))
    await rig.stub.send_raw(
        json.dumps({"event_type": "tick_size_change", "asset_id": UP, "new_tick_size": "0.001"})
    )
    await rig.stub.price_change(UP, "BUY", 5010, 300)  # on the new 0.001 tick
    await rig.until(lambda: rig.books_match(UP), "change after bad frames")
    assert rig.client.stats.errors["ProtocolError"] == 1 and rig.client.stats.unknown_events == 1
    assert rig.client.books[UP].tick == 10


async def test_unsubscribe_sends_the_operation_and_forgets_the_book(rig: Rig) -> None:
    await rig.client.unsubscribe([DOWN])
    await rig.until(lambda: DOWN not in rig.stub.current.assets, "server unsubscribed")
    assert DOWN not in rig.client.books and rig.client.assets == [UP]


# -------------------------------------------------------------------------------------------------
# Paper venue


async def test_paper_venue_fills_fill_or_kill_against_the_local_book(rig: Rig) -> None:
    venue = PaperPolymarketVenue(rig.client.books)
    filled = await venue.place_fok(UP, "BUY", 5300, 3000)  # 25 @ 0.52 + 5 @ 0.53
    assert filled.status == "filled" and filled.filled == 3000
    assert filled.notional == 5200 * 2500 + 5300 * 500
    # Per level: 0.07 x 25 x 0.52 x 0.48 = $0.4368; 0.07 x 5 x 0.53 x 0.47 = $0.087185 -> $0.08719.
    assert filled.fee == 436_800 + 87_190
    killed = await venue.place_fok(UP, "BUY", 5200, 3000)  # only 25 at or below 0.52
    assert killed.status == "killed" and killed.filled == 0 and killed.fee == 0


# -------------------------------------------------------------------------------------------------
# CLI


async def test_cli_watch_prints_top_of_book_for_up_and_down(stub: PolyStub) -> None:
    args = [
        "watch",
        "--window-start",
        "2026-11-27T15:07:00Z",
        "--gamma-url",
        stub.http_url,
        "--ws-url",
        stub.ws_url,
        "--updates",
        "1",
        "--interval",
        "0",
        "--json",
    ]
    result = await asyncio.to_thread(CliRunner().invoke, poly, args)
    assert result.exit_code == 0, result.output
    record = json.loads(result.output.splitlines()[-1])
    assert record["slug"] == SLUG
    assert record["up"]["bid"] == "0.5000" and record["up"]["ask"] == "0.5200"
    assert record["down"]["ask"] == "0.5000" and record["down"]["live"] and record["up"]["live"]


async def test_cli_book_and_errors(stub: PolyStub) -> None:
    ok = await asyncio.to_thread(
        CliRunner().invoke, poly, ["book", DOWN, "--clob-url", stub.http_url, "--json"]
    )
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output) | {"timestamp_ms": None} == {
        "asset_id": DOWN,
        "bid": "0.4700",
        "bid_size": "55.50",
        "ask": "0.5000",
        "ask_size": "12.00",
        "timestamp_ms": None,
    }
    human = await asyncio.to_thread(CliRunner().invoke, poly, ["book", DOWN, "--clob-url", stub.http_url])
    assert f"{DOWN}  bid $0.47 x 55.50  ask $0.50 x 12" in human.output  # people's units; JSON stays exact
    missing = await asyncio.to_thread(CliRunner().invoke, poly, ["book", "123", "--clob-url", stub.http_url])
    assert missing.exit_code == 1 and "NotFoundError" in missing.output
    bad = await asyncio.to_thread(CliRunner().invoke, poly, ["watch", "--window-start", "yesterday"])
    assert bad.exit_code == 2
