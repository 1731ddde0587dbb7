"""The cross-venue desk keeping Polymarket's side current against the stub on 127.0.0.1 (ManualClock):
discovery of the window matching a KXBTC15M market, subscription of its tokens, rollover to the next
window (the old tokens unsubscribed and forgotten), and a window Polymarket does not list recorded once."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from poly_stub import PolyStub, StubBook

from kxbtc.book.orderbook import OrderBook
from kxbtc.clock import NS_PER_S, ManualClock, now_ms
from kxbtc.config import Config, PolymarketConfig
from kxbtc.engine.cross_venue import CrossVenueDesk
from kxbtc.store.db import SqliteStore
from kxbtc.store.records import RiskEventRecord
from kxbtc.strategy.base import ContractView, MarketState
from kxbtc.units import Count

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "polymarket"
WINDOW_A = 1_780_315_200  # 2026-06-01 12:00 UTC
WINDOW_B = WINDOW_A + 900  # not listed on the stub
SLUG_A = f"btc-updown-15m-{WINDOW_A}"
UP = "71321045679252212594626385532706912750332728571942532289631379312455583992563"
DOWN = "52114319501245915516055106046884209969926127482827954674443846427813813222426"


def _iso(unix_s: int) -> str:
    return datetime.fromtimestamp(unix_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def event_for(start: int) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((FIXTURES / "gamma_event_btc15m.json").read_text())[0]
    slug, end = f"btc-updown-15m-{start}", _iso(start + 900)
    event.update(slug=slug, ticker=slug, endDate=end)
    event["markets"][0].update(slug=slug, endDate=end, eventStartTime=_iso(start))
    return event


def kalshi_market(start: int) -> MarketState:
    ticker = f"KXBTC15M-TEST-{start}"
    contract = ContractView(
        ticker, "KXBTC15M-TEST", "KXBTC15M", "greater_or_equal", 100_000.0, None,
        start * NS_PER_S, (start + 900) * NS_PER_S,
    )  # fmt: skip
    return MarketState(contract, OrderBook(ticker), Count(0))


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock((WINDOW_A + 60) * NS_PER_S)


@pytest.fixture
async def stub(clock: ManualClock) -> AsyncIterator[PolyStub]:
    server = PolyStub(lambda: now_ms(clock))
    server.events[SLUG_A] = event_for(WINDOW_A)
    server.books[UP] = StubBook(bids={5_000: 1_000}, asks={5_200: 1_000})
    server.books[DOWN] = StubBook(bids={4_700: 1_000}, asks={5_000: 1_000})
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def until(clock: ManualClock, cond: Callable[[], bool], what: str, advance: float = 0.05) -> None:
    for _ in range(2_000):
        if cond():
            return
        clock.advance(advance)
        await asyncio.sleep(0.002)
    raise AssertionError(f"timed out waiting for {what}")


async def test_the_desk_follows_the_kalshi_windows_on_polymarket(
    tmp_path: Path, clock: ManualClock, stub: PolyStub
) -> None:
    events: list[RiskEventRecord] = []
    config = Config(
        strategies={},  # books only: this is about market data
        polymarket=PolymarketConfig(enabled=True, gamma_url=stub.http_url, ws_url=stub.ws_url),
    )
    store = SqliteStore(tmp_path / "kxbtc.db")
    desk = CrossVenueDesk(config, store=store, clock=clock, note_event=events.append)
    desk.start()
    try:
        market_a = kalshi_market(WINDOW_A)
        assert desk.decisions([market_a], clock.time_ns()) == []
        await until(clock, lambda: desk.ws.is_tradeable(UP) and desk.ws.is_tradeable(DOWN), "window A books")
        found = desk.windows[WINDOW_A]
        assert found is not None and (found.up_token, found.down_token) == (UP, DOWN)
        assert stub.current.assets == [UP, DOWN]
        lookups = [q for path, q in stub.http_requests if path == "/events"]
        assert lookups == [{"slug": SLUG_A}]
        desk.decisions([market_a], clock.time_ns())  # known already: no second lookup
        await asyncio.sleep(0.01)
        assert len([p for p, _ in stub.http_requests if p == "/events"]) == 1

        # Window A ends and B opens; Polymarket does not list B.
        await until(clock, lambda: clock.time_ns() >= (WINDOW_B + 5) * NS_PER_S, "window B", advance=5.0)
        market_b = kalshi_market(WINDOW_B)
        for _ in range(3):
            desk.decisions([market_b], clock.time_ns())
            await until(clock, lambda: WINDOW_B in desk.windows, "window B looked up")
        assert desk.windows == {WINDOW_B: None}
        slugs = [q["slug"] for path, q in stub.http_requests if path == "/events"]
        assert slugs == [SLUG_A, f"btc-updown-15m-{WINDOW_B}"]  # each window looked up once
        await until(clock, lambda: UP not in stub.current.assets, "old tokens unsubscribed")
        assert stub.current.assets == [] and desk.ws.assets == [] and desk.ws.books == {}
        missing = [e for e in events if e.kind == "poly_market_missing"]
        assert len(missing) == 1 and f"btc-updown-15m-{WINDOW_B}" in missing[0].detail
        assert desk.summary().windows_missing == 1
    finally:
        await desk.close()
        store.close()
