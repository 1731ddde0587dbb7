"""Polymarket message shapes checked against the official SDK's own models (``polymarket-client``).

The JSON fixtures in ``tests/fixtures/polymarket`` were written from the documentation (their README
says so); the simulator writes the same shapes (``kxbtc.sim.poly_wire``). Each one is parsed here by
the SDK's models (``parse_market_event``, ``OrderBook``, the Gamma ``Market``) and by our decoders, and
the two must agree on what a trader reads: ids, prices, sizes, sides, winners. A shape the SDK cannot
parse, or reads differently from us, fails here.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from polymarket.models.clob.market_events import (
    MarketBookEvent,
    MarketPriceChangeEvent,
    MarketResolvedEvent,
    parse_market_event,
)
from polymarket.models.clob.order_book import OrderBook
from polymarket.models.gamma.market import Market

from kxbtc.polymarket import messages as ours
from kxbtc.polymarket.messages import decode_clob_book, decode_gamma_events, decode_ws_frame
from kxbtc.sim import poly_wire
from kxbtc.sim.poly_books import SimBook
from kxbtc.sim.poly_config import PolySimConfig
from kxbtc.sim.poly_windows import PolyWindow

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "polymarket"
WS_FIXTURES = sorted(p.name for p in FIXTURES.glob("ws_*.json"))


def _events(data: Any) -> list[dict[str, Any]]:
    return data if isinstance(data, list) else [data]


def _levels(levels: Any) -> set[tuple[Decimal, Decimal]]:
    return {(Decimal(level.price), Decimal(level.size)) for level in levels}


def assert_same_reading(event: dict[str, Any]) -> None:
    """The SDK and our decoder read one market-channel event the same way."""
    sdk = parse_market_event(event)
    [mine] = decode_ws_frame(json.dumps(event)).events
    assert sdk.type == event["event_type"]
    if isinstance(sdk, MarketBookEvent):
        assert isinstance(mine, ours.BookEvent)
        assert (sdk.payload.asset_id, sdk.payload.condition_id) == (mine.asset_id, mine.market)
        assert _levels(sdk.payload.bids) == _levels(mine.bids)
        assert _levels(sdk.payload.asks) == _levels(mine.asks)
    elif isinstance(sdk, MarketPriceChangeEvent):
        assert isinstance(mine, ours.PriceChangeEvent)
        assert sdk.payload.condition_id == mine.market
        assert [(c.asset_id, c.price, c.size, c.side) for c in sdk.payload.price_changes] == [
            (c.asset_id, Decimal(c.price), Decimal(c.size), c.side) for c in mine.price_changes
        ]
    elif isinstance(sdk, MarketResolvedEvent):
        assert isinstance(mine, ours.MarketResolvedEvent)
        assert sdk.payload.winning_asset_id == mine.winning_asset_id
        assert list(sdk.payload.asset_ids or ()) == list(mine.assets_ids or ())


@pytest.mark.parametrize("name", WS_FIXTURES)
def test_each_market_channel_fixture_reads_the_same_through_the_sdk(name: str) -> None:
    for event in _events(json.loads((FIXTURES / name).read_text())):
        assert_same_reading(event)


def test_the_clob_book_fixture_reads_the_same_through_the_sdk() -> None:
    body = (FIXTURES / "clob_book.json").read_text()
    sdk = OrderBook.model_validate(json.loads(body))
    mine = decode_clob_book(body)
    assert sdk.asset_id == mine.asset_id and sdk.condition_id == mine.market
    assert _levels(sdk.bids) == _levels(mine.bids) and _levels(sdk.asks) == _levels(mine.asks)


def test_the_gamma_fixture_reads_the_same_through_the_sdk() -> None:
    body = (FIXTURES / "gamma_event_btc15m.json").read_text()
    [raw_event] = json.loads(body)
    [event] = decode_gamma_events(body)
    sdk = Market.model_validate(raw_event["markets"][0])
    mine = event.markets[0]
    assert sdk.slug == mine.slug and sdk.condition_id == mine.conditionId
    tokens = json.loads(mine.clobTokenIds)
    outcomes = json.loads(mine.outcomes)
    assert [sdk.outcomes.yes.label, sdk.outcomes.no.label] == outcomes
    assert [sdk.outcomes.yes.token_id, sdk.outcomes.no.token_id] == tokens


def test_the_simulator_writes_what_the_sdk_reads() -> None:
    config = PolySimConfig()
    window = PolyWindow.for_start(1_780_315_200, 1_780_315_000)
    book = SimBook(window.up_token, window.condition_id)
    updates = book.replace({4_800: 1_000, 4_700: 550}, {5_100: 2_000, 5_300: 125})
    assert_same_reading(poly_wire.book_event(book, config, 1_780_315_200_000))
    assert_same_reading(poly_wire.price_change_event(window.condition_id, 1_780_315_201_000, updates))
    window.winner, window.status = "Up", "resolved"
    assert_same_reading(poly_wire.market_resolved_event(window, 1_780_316_200_000))
    sdk_book = OrderBook.model_validate(poly_wire.book_body(book, config, 1_780_315_200_000))
    assert max(level.price for level in sdk_book.bids) == Decimal("0.48")
    sdk_market = Market.model_validate(poly_wire.gamma_market(window, config, book))
    assert (sdk_market.outcomes.yes.token_id, sdk_market.outcomes.no.token_id) == window.tokens
