"""Decoding Polymarket payloads (fixtures constructed from the documented shapes, see their README)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kxbtc.clock import ManualClock
from kxbtc.errors import ProtocolError
from kxbtc.polymarket.clob import top_of_book
from kxbtc.polymarket.gamma import UpDownMarket, parse_window_start, slug_for_window, window_start_of
from kxbtc.polymarket.messages import (
    BestBidAskEvent,
    BookEvent,
    LastTradePriceEvent,
    MarketResolvedEvent,
    PolyValueError,
    PriceChangeEvent,
    TickSizeChangeEvent,
    UnknownEvent,
    decode_clob_book,
    decode_gamma_events,
    decode_ws_frame,
    parse_poly_price,
    parse_poly_size,
    subscribe_message,
    update_message,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "polymarket"
UP = "71321045679252212594626385532706912750332728571942532289631379312455583992563"
DOWN = "52114319501245915516055106046884209969926127482827954674443846427813813222426"
START = 1_795_791_600  # 2026-11-27T15:00:00Z


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@pytest.mark.parametrize(
    ("text", "price"),
    [(".48", 4800), ("0.48", 4800), ("0.5", 5000), ("1", 10000), ("0", 0), ("0.0025", 25), ("0.51000", 5100)],
)
def test_prices_in_every_documented_spelling_become_exact_integers(text: str, price: int) -> None:
    assert parse_poly_price(text) == price


@pytest.mark.parametrize("text", ["0.00005", "1.01", "-0.5", "5e-1", "", ".", " 0.5", "0,5", "abc"])
def test_bad_or_too_fine_prices_are_refused_with_a_typed_error(text: str) -> None:
    with pytest.raises(PolyValueError) as info:
        parse_poly_price(text)
    assert isinstance(info.value, ProtocolError) and info.value.raw == text


def test_sizes_in_shares_become_counts_and_finer_than_a_hundredth_is_refused() -> None:
    assert parse_poly_size("30") == 3000
    assert parse_poly_size("33343.4") == 3_334_340
    assert parse_poly_size("95.25") == 9525
    with pytest.raises(PolyValueError, match="finer than 2 decimal places"):
        parse_poly_size("219.217767")


def test_gamma_event_decodes_json_encoded_strings_and_maps_up_down_to_tokens() -> None:
    (event,) = decode_gamma_events(fixture("gamma_event_btc15m.json"))
    market = event.markets[0]
    assert market.outcome_names() == ["Up", "Down"]
    assert market.outcome_prices() == [5150, 4850]
    assert market.outcome_tokens() == {"Up": UP, "Down": DOWN}
    updown = UpDownMarket.from_event(event, START)
    assert (updown.up_token, updown.down_token) == (UP, DOWN)
    assert (updown.start_s, updown.end_s) == (START, START + 900)
    assert updown.tick == 100 and updown.min_order_size == 500
    assert str(updown.fee_rate) == "7/100" and updown.fees_enabled
    assert "Chainlink" in updown.description and updown.resolution_source.endswith("btc-usd")


def test_v2_markets_take_their_outcome_ids_from_position_ids() -> None:
    raw = json.loads(fixture("gamma_event_btc15m.json"))
    market = raw[0]["markets"][0]
    market["version"] = "v2"
    market["positionIds"] = ["111", "222"]
    (event,) = decode_gamma_events(json.dumps(raw))
    assert event.markets[0].outcome_tokens() == {"Up": "111", "Down": "222"}


def test_gamma_market_with_mismatched_lists_or_wrong_window_is_a_protocol_error() -> None:
    raw = json.loads(fixture("gamma_event_btc15m.json"))
    raw[0]["markets"][0]["clobTokenIds"] = json.dumps([UP])
    (event,) = decode_gamma_events(json.dumps(raw))
    with pytest.raises(ProtocolError, match="2 outcomes but 1 token"):
        event.markets[0].outcome_tokens()
    (good,) = decode_gamma_events(fixture("gamma_event_btc15m.json"))
    with pytest.raises(ProtocolError, match="eventStartTime"):
        UpDownMarket.from_event(good, START + 900)


def test_slug_is_computed_from_the_window_start() -> None:
    clock = ManualClock((START + 7 * 60 + 13) * 1_000_000_000)
    assert parse_window_start("now", clock) == START
    assert parse_window_start("2026-11-27T15:14:59Z", clock) == START
    assert parse_window_start("2026-11-27T10:15:00-05:00", clock) == START + 900
    assert slug_for_window(START) == "btc-updown-15m-1795791600"
    assert window_start_of(START + 899) == START
    assert slug_for_window(1_777_467_600) == "btc-updown-15m-1777467600"  # the docs' example, 13:00 UTC
    with pytest.raises(ValueError, match="15-minute boundary"):
        slug_for_window(START + 60)


def test_rest_book_top_is_max_bid_and_min_ask_whatever_the_order() -> None:
    book = decode_clob_book(fixture("clob_book.json"))
    top = top_of_book(book)
    assert (top.bid, top.bid_size, top.ask, top.ask_size) == (5100, 12500, 5200, 9525)
    assert top.timestamp_ms == 1_795_791_612_345


def test_initial_dump_is_an_array_of_book_events() -> None:
    decoded = decode_ws_frame(fixture("ws_initial_dump.json"))
    assert not decoded.errors and decoded.control is None
    assert [type(e) for e in decoded.events] == [BookEvent, BookEvent]
    up = decoded.events[0]
    assert isinstance(up, BookEvent) and up.asset_id == UP and up.bids[0].price == ".48"


def test_each_market_event_type_decodes() -> None:
    (pc,) = decode_ws_frame(fixture("ws_price_change.json")).events
    assert isinstance(pc, PriceChangeEvent) and len(pc.price_changes) == 2
    assert pc.price_changes[1].size == "0" and pc.price_changes[1].side == "SELL"
    (tick,) = decode_ws_frame(fixture("ws_tick_size_change.json")).events
    assert isinstance(tick, TickSizeChangeEvent) and tick.new_tick_size == "0.001"
    (trade,) = decode_ws_frame(fixture("ws_last_trade_price.json")).events
    assert isinstance(trade, LastTradePriceEvent) and trade.size == "219.217767"
    (bba,) = decode_ws_frame(fixture("ws_best_bid_ask.json")).events
    assert isinstance(bba, BestBidAskEvent) and bba.spread == "0.01"
    (resolved,) = decode_ws_frame(fixture("ws_market_resolved.json")).events
    assert isinstance(resolved, MarketResolvedEvent) and resolved.winning_outcome == "Up"


def test_control_words_unknown_types_and_bad_elements() -> None:
    assert decode_ws_frame("PONG").control == "PONG"
    assert decode_ws_frame("NO NEW ASSETS").control == "NO NEW ASSETS"
    assert decode_ws_frame("garbage").errors
    frame = json.dumps(
        [
            {"event_type": "book", "asset_id": UP, "bids": [], "asks": []},
            {"event_type": "some_future_event", "x": 1},
            {"event_type": "price_change"},  # price_changes missing
        ]
    )
    decoded = decode_ws_frame(frame)
    assert isinstance(decoded.events[0], BookEvent)
    assert isinstance(decoded.events[1], UnknownEvent) and decoded.events[1].event_type == "some_future_event"
    assert len(decoded.errors) == 1 and "price_change" in str(decoded.errors[0])
    assert decode_ws_frame("{not json").errors


def test_subscription_frames() -> None:
    assert json.loads(subscribe_message([UP, DOWN])) == {
        "assets_ids": [UP, DOWN],
        "type": "market",
        "custom_feature_enabled": True,
    }
    assert json.loads(update_message([UP], "unsubscribe"))["operation"] == "unsubscribe"
    with pytest.raises(ValueError, match="unknown operation"):
        update_message([UP], "drop")
