"""The project's own Polymarket clients against the simulated venue on 127.0.0.1 (``SimHarness(...,
polymarket=True)``), on a ManualClock: Gamma discovery finds the window, the CLOB client reads its book,
and the market WebSocket client keeps books equal to the venue's while they change."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from fractions import Fraction

import pytest

from kxbtc.clock import NS_PER_S, ManualClock
from kxbtc.errors import NotFoundError
from kxbtc.polymarket.clob import ClobClient
from kxbtc.polymarket.gamma import WINDOW_S, GammaClient
from kxbtc.polymarket.http import PolyHttp
from kxbtc.polymarket.messages import MarketResolvedEvent
from kxbtc.polymarket.ws import PolymarketWsClient
from kxbtc.polymarket.ws_handlers import PolyWsHandler
from kxbtc.sim.exchange import Exchange, SimConfig
from kxbtc.sim.harness import SimHarness
from kxbtc.sim.polymarket import PolySim

# 2026-06-11 06:44:00Z: 14 minutes into a window; the next one is listed.
NOW_S = 1_781_159_400 + 14 * 60
WINDOW_START = NOW_S - NOW_S % WINDOW_S
REAL_WAIT_S = 5.0


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW_S * NS_PER_S)


@pytest.fixture
async def sim(clock: ManualClock) -> AsyncIterator[SimHarness]:
    exchange = Exchange(clock, seed=11, config=SimConfig(series=("KXBTC15M",), counterparties=False))
    # No stepper: the test moves the clock and steps the venue itself.
    async with SimHarness(exchange, polymarket=True, step_interval_s=0) as harness:
        yield harness


def _poly(sim: SimHarness) -> PolySim:
    assert sim.poly is not None
    return sim.poly


async def _eventually(check: Callable[[], bool], what: str) -> None:
    """Wait (real time, bounded) for frames already sent to be handled."""
    for _ in range(int(REAL_WAIT_S / 0.002)):
        if check():
            return
        await asyncio.sleep(0.002)
    raise AssertionError(f"timed out waiting for {what}")


async def test_gamma_discovery_finds_the_simulated_window_as_the_real_client_expects(
    sim: SimHarness, clock: ManualClock
) -> None:
    http = PolyHttp(sim.poly_http_url, clock)
    try:
        gamma = GammaClient(http)
        market = await gamma.updown_15m(WINDOW_START)
        window = _poly(sim).windows[WINDOW_START]
        assert market.slug == f"btc-updown-15m-{WINDOW_START}" == window.slug
        assert (market.up_token, market.down_token) == window.tokens
        assert (market.start_s, market.end_s) == (WINDOW_START, WINDOW_START + WINDOW_S)
        assert market.condition_id == window.condition_id
        assert market.tick == 100 and market.min_order_size == 500
        assert market.fees_enabled and market.fee_rate == Fraction(7, 100)
        assert market.accepting_orders and not market.closed
        assert "greater than or equal" in market.description
        upcoming = await gamma.updown_15m(WINDOW_START + WINDOW_S)  # listed with the next Kalshi window
        assert upcoming.up_token == _poly(sim).windows[WINDOW_START + WINDOW_S].up_token
        with pytest.raises(NotFoundError):
            await gamma.updown_15m(WINDOW_START + 10 * WINDOW_S)  # not listed yet
        markets = await http.get("/markets", [("slug", window.slug)])
        assert window.condition_id.encode() in markets
    finally:
        await http.aclose()


async def test_the_clob_client_reads_the_simulated_book(sim: SimHarness, clock: ManualClock) -> None:
    http = PolyHttp(sim.poly_http_url, clock)
    try:
        clob = ClobClient(http)
        poly = _poly(sim)
        for token in poly.windows[WINDOW_START].tokens:
            venue_book = poly.books[token]
            top = await clob.top_of_book(token)
            assert (top.bid, top.ask) == (venue_book.best_bid(), venue_book.best_ask())
            assert top.timestamp_ms == clock.time_ns() // 1_000_000
            local = await clob.poly_book(token)
            assert (local.bids, local.asks) == (venue_book.bids, venue_book.asks)
            assert local.tick == 100 and local.min_order_size == 500 and local.is_tradeable()
        with pytest.raises(NotFoundError):
            await clob.book("123")
    finally:
        await http.aclose()


class Resolutions(PolyWsHandler):
    def __init__(self) -> None:
        self.resolved: list[MarketResolvedEvent] = []

    def on_market_resolved(self, msg: MarketResolvedEvent) -> None:
        self.resolved.append(msg)


async def test_the_ws_client_keeps_books_equal_to_the_venue_through_changes_and_sees_the_resolution(
    sim: SimHarness, clock: ManualClock
) -> None:
    poly = _poly(sim)
    window = poly.windows[WINDOW_START]
    handler = Resolutions()
    client = PolymarketWsClient(
        sim.poly_ws_url, clock, handler=handler, ping_interval=10, liveness_timeout=30
    )
    async with client:
        await client.subscribe(window.tokens)
        await _eventually(lambda: all(client.is_tradeable(t) for t in window.tokens), "the snapshots")

        def in_step() -> bool:
            return all(client.books[t].hash == poly.books[t].hash for t in window.tokens)

        for _ in range(15):
            clock.advance(1)
            poly.step()
            await _eventually(in_step, "the changes of one second")
            for token in window.tokens:
                local, venue = client.books[token], poly.books[token]
                assert (local.bids, local.asks) == (venue.bids, venue.asks)
                assert client.is_tradeable(token)
                assert local.updated_ts_ms == clock.time_ns() // 1_000_000
        stats = client.stats
        assert stats.snapshot_requests == 0 and not stats.errors, stats.recent_errors
        await _eventually(lambda: stats.pongs >= 1, "a PONG")  # PING every 10 s of the client's clock

        # The window ends: its books empty, then it resolves on the index.
        while clock.time_ns() < (window.end_s + poly.config.resolution_delay_s) * NS_PER_S:
            clock.advance(1)
            poly.step()
            await _eventually(in_step, "the changes of one second")
        await _eventually(lambda: bool(handler.resolved), "market_resolved")
        [resolved] = handler.resolved
        assert resolved.market == window.condition_id
        assert resolved.winning_asset_id == window.winning_token
        assert resolved.winning_outcome == window.winner
        assert set(resolved.assets_ids or []) == set(window.tokens)
        assert all(not client.books[t].bids and not client.books[t].asks for t in window.tokens)
