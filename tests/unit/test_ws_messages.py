"""Decoding every Kalshi WS message we use, and encoding our commands, exactly as on the wire."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest

from kxbtc.errors import ProtocolError
from kxbtc.kalshi.ws_messages import (
    CfbenchmarksIndexList,
    CfbenchmarksValue,
    ErrorMessage,
    EventFeeUpdate,
    EventLifecycle,
    Fill,
    MarketLifecycle,
    MarketPosition,
    Ok,
    OkBody,
    OrderbookDelta,
    OrderbookSnapshot,
    OrderGroupUpdate,
    Subscribed,
    SubscriptionInfo,
    Ticker,
    Trade,
    UnknownMessage,
    Unsubscribed,
    UserOrder,
    decode_frame,
    encode_list_subscriptions,
    encode_subscribe,
    encode_unsubscribe,
    encode_update_subscription,
    peek_route,
    subscribe_params,
)
from kxbtc.units import PriceGrid, parse_price

TICKER = "KXBTC15M-26NOV251515-15"
MARKET_ID = "6c0f2d1e-5b7a-4e61-9a43-0d9f2a7c1b55"


def frame(obj: object) -> bytes:
    return json.dumps(obj).encode()


def recorded_frames(fixtures_dir: Path) -> list[bytes]:
    lines: list[bytes] = []
    for path in sorted(fixtures_dir.glob("ws__*.jsonl")):
        lines.extend(line for line in path.read_bytes().splitlines() if line.strip())
    return lines


def test_every_recorded_frame_decodes(fixtures_dir: Path) -> None:
    frames = recorded_frames(fixtures_dir)
    assert len(frames) == 12
    decoded = [decode_frame(f) for f in frames]
    kinds = [type(m).__name__ for m in decoded]
    assert kinds.count("Subscribed") == 4
    assert kinds.count("OrderbookSnapshot") == 2
    assert kinds.count("OrderbookDelta") == 6
    assert not any(isinstance(m, UnknownMessage) for m in decoded)


def test_recorded_subscribed_and_snapshot_fields(fixtures_dir: Path) -> None:
    frames = (fixtures_dir / "ws__orderbook_trade_yes.jsonl").read_bytes().splitlines()
    acks = [decode_frame(f) for f in frames if b'"subscribed"' in f]
    assert [(a.id, a.msg.channel, a.msg.sid) for a in acks] == [(1, "orderbook_delta", 1), (1, "trade", 2)]
    snap = next(decode_frame(f) for f in frames if b"orderbook_snapshot" in f)
    assert isinstance(snap, OrderbookSnapshot)
    assert (snap.sid, snap.seq) == (1, 1)
    assert snap.msg.market_id == "f5ed38e2-0991-4c8f-817e-08c4fd9cbfdb"
    assert snap.msg.yes_dollars_fp == [("0.4700", "3.00")]
    assert snap.msg.no_dollars_fp == [("0.5200", "1.00")]


def test_orderbook_delta_keeps_rfc3339_ts_and_optional_fields() -> None:
    msg = decode_frame(
        frame(
            {
                "type": "orderbook_delta",
                "sid": 3,
                "seq": 9,
                "msg": {
                    "market_ticker": TICKER,
                    "market_id": MARKET_ID,
                    "price_dollars": "0.5200",
                    "delta_fp": "-1.00",
                    "side": "no",
                    "client_order_id": "abc",
                    "subaccount": 2,
                    "ts": "2026-06-11T06:29:47.42784Z",
                    "ts_ms": 1781159387427,
                },
            }
        )
    )
    assert isinstance(msg, OrderbookDelta)
    assert msg.msg.ts == "2026-06-11T06:29:47.42784Z"
    assert (msg.msg.client_order_id, msg.msg.subaccount, msg.msg.ts_ms) == ("abc", 2, 1781159387427)


def test_snapshot_sides_may_be_missing_or_null() -> None:
    for body in ({"market_ticker": TICKER}, {"market_ticker": TICKER, "yes_dollars_fp": None}):
        msg = decode_frame(frame({"type": "orderbook_snapshot", "sid": 1, "seq": 1, "msg": body}))
        assert msg.msg.yes_dollars_fp is None and msg.msg.no_dollars_fp is None


# -------------------------------------------------------------------------------------------------
# Command responses


def test_ok_update_shape() -> None:
    msg = decode_frame(
        frame({"id": 123, "sid": 456, "seq": 222, "type": "ok", "msg": {"market_tickers": ["A-1", "B-2"]}})
    )
    assert isinstance(msg, Ok)
    assert (msg.id, msg.sid, msg.seq) == (123, 456, 222)
    assert isinstance(msg.msg, OkBody)
    assert msg.market_tickers == ["A-1", "B-2"]
    assert msg.subscriptions is None


def test_ok_update_without_ticker_list_under_skip_ticker_ack() -> None:
    msg = decode_frame(frame({"id": 5, "sid": 1, "seq": 3, "type": "ok"}))
    assert isinstance(msg, Ok) and msg.msg is None and msg.market_tickers is None


def test_ok_list_subscriptions_shape() -> None:
    msg = decode_frame(
        frame(
            {
                "id": 3,
                "type": "ok",
                "msg": [{"channel": "orderbook_delta", "sid": 1}, {"channel": "ticker", "sid": 2}],
            }
        )
    )
    assert isinstance(msg, Ok)
    assert msg.subscriptions == [SubscriptionInfo("orderbook_delta", 1), SubscriptionInfo("ticker", 2)]
    assert msg.sid is None and msg.market_tickers is None


def test_error_frames_with_and_without_sid() -> None:
    plain = decode_frame(frame({"id": 123, "type": "error", "msg": {"code": 6, "msg": "Already subscribed"}}))
    assert isinstance(plain, ErrorMessage)
    assert (plain.id, plain.msg.code, plain.msg.msg, plain.sid, plain.seq) == (
        123,
        6,
        "Already subscribed",
        None,
        None,
    )
    scoped = decode_frame(
        frame(
            {
                "id": 0,
                "sid": 4,
                "seq": 17,
                "type": "error",
                "msg": {"code": 25, "msg": "Subscription buffer overflow", "market_ticker": TICKER},
            }
        )
    )
    assert isinstance(scoped, ErrorMessage)
    assert (scoped.sid, scoped.seq, scoped.msg.code, scoped.msg.market_ticker) == (4, 17, 25, TICKER)


def test_unsubscribed_requires_seq() -> None:
    msg = decode_frame(frame({"id": 102, "sid": 2, "seq": 7, "type": "unsubscribed"}))
    assert isinstance(msg, Unsubscribed) and (msg.id, msg.sid, msg.seq) == (102, 2, 7)
    with pytest.raises(ProtocolError, match="unsubscribed"):
        decode_frame(frame({"id": 102, "sid": 2, "type": "unsubscribed"}))


def test_subscribed_sid_sits_in_msg() -> None:
    msg = decode_frame(frame({"type": "subscribed", "id": 1, "msg": {"channel": "trade", "sid": 2}}))
    assert isinstance(msg, Subscribed) and (msg.id, msg.msg.channel, msg.msg.sid) == (1, "trade", 2)


# -------------------------------------------------------------------------------------------------
# Channels


TICKER_MSG = {
    "type": "ticker",
    "sid": 11,
    "msg": {
        "market_ticker": TICKER,
        "market_id": MARKET_ID,
        "price_dollars": "0.4800",
        "yes_bid_dollars": "0.4500",
        "yes_ask_dollars": "0.5300",
        "yes_bid_size_fp": "300.00",
        "yes_ask_size_fp": "150.00",
        "last_trade_size_fp": "25.00",
        "volume_fp": "33896.00",
        "open_interest_fp": "20422.00",
        "dollar_volume": 16948,
        "dollar_open_interest": 10211,
        "ts": 1669149841,
        "ts_ms": 1669149841000,
        "time": "2022-11-22T20:44:01Z",
    },
}


def test_ticker_ts_is_integer_seconds() -> None:
    msg = decode_frame(frame(TICKER_MSG))
    assert isinstance(msg, Ticker)
    assert msg.msg.ts == 1669149841 and msg.msg.ts_ms == 1669149841000
    assert parse_price(msg.msg.yes_ask_dollars) == 5300
    assert msg.seq is None


def test_ticker_without_deprecated_fields_still_decodes() -> None:
    body = {k: v for k, v in TICKER_MSG["msg"].items() if k not in ("ts", "time")}  # type: ignore[attr-defined]
    msg = decode_frame(frame({**TICKER_MSG, "msg": body}))
    assert isinstance(msg, Ticker) and msg.msg.ts is None


def test_trade() -> None:
    msg = decode_frame(
        frame(
            {
                "type": "trade",
                "sid": 2,
                "seq": 14,
                "msg": {
                    "trade_id": "d91bc706-ee49-470d-82d8-11418bda6fed",
                    "market_ticker": TICKER,
                    "yes_price_dollars": "0.3600",
                    "no_price_dollars": "0.6400",
                    "count_fp": "136.00",
                    "taker_side": "no",
                    "taker_outcome_side": "no",
                    "taker_book_side": "ask",
                    "is_block_trade": False,
                    "ts": 1669149841,
                    "ts_ms": 1669149841000,
                },
            }
        )
    )
    assert isinstance(msg, Trade)
    assert (msg.seq, msg.msg.taker_outcome_side, msg.msg.count_fp, msg.msg.ts) == (
        14,
        "no",
        "136.00",
        1669149841,
    )


FILL_BODY = {
    "trade_id": "d91bc706-ee49-470d-82d8-11418bda6fed",
    "order_id": "ee587a1c-8b87-4dcf-b721-9f6f790619fa",
    "market_ticker": TICKER,
    "exchange_index": 2,
    "is_taker": True,
    "side": "yes",
    "outcome_side": "yes",
    "book_side": "bid",
    "action": "buy",
    "purchased_side": "yes",
    "yes_price_dollars": "0.7500",
    "count_fp": "278.00",
    "fee_cost": "3.648800",
    "post_position_fp": "500.00",
    "client_order_id": "cid-1",
    "subaccount": 3,
    "ts": 1671899397,
    "ts_ms": 1671899397000,
}


def test_fill() -> None:
    msg = decode_frame(frame({"type": "fill", "sid": 13, "msg": FILL_BODY}))
    assert isinstance(msg, Fill)
    body = msg.msg
    assert (body.exchange_index, body.is_taker, body.outcome_side, body.book_side) == (2, True, "yes", "bid")
    assert (body.fee_cost, body.post_position_fp, body.client_order_id, body.ts) == (
        "3.648800",
        "500.00",
        "cid-1",
        1671899397,
    )


def test_fill_missing_required_field_names_the_type() -> None:
    body = {k: v for k, v in FILL_BODY.items() if k != "fee_cost"}
    with pytest.raises(ProtocolError, match=r"fill.*fee_cost"):
        decode_frame(frame({"type": "fill", "sid": 13, "msg": body}))


def test_user_order() -> None:
    msg = decode_frame(
        frame(
            {
                "type": "user_order",
                "sid": 5,
                "msg": {
                    "order_id": "ee587a1c-8b87-4dcf-b721-9f6f790619fa",
                    "user_id": "a952bcbe-ec3b-4b5b-b8f9-11dae589608c",
                    "ticker": TICKER,
                    "status": "resting",
                    "side": "yes",
                    "is_yes": True,
                    "outcome_side": "yes",
                    "book_side": "bid",
                    "yes_price_dollars": "0.4700",
                    "fill_count_fp": "0.00",
                    "remaining_count_fp": "10.00",
                    "initial_count_fp": "10.00",
                    "taker_fill_cost_dollars": "0.0000",
                    "maker_fill_cost_dollars": "0.0000",
                    "taker_fees_dollars": "0.0000",
                    "maker_fees_dollars": "0.0000",
                    "client_order_id": "cid-2",
                    "created_time": "2026-11-25T15:00:00Z",
                    "created_ts_ms": 1795791600000,
                    "exchange_index": 2,
                    "last_update_reason": "created",
                    "subaccount_number": 0,
                },
            }
        )
    )
    assert isinstance(msg, UserOrder)
    assert (msg.msg.status, msg.msg.remaining_count_fp, msg.msg.exchange_index) == ("resting", "10.00", 2)


def test_market_position() -> None:
    msg = decode_frame(
        frame(
            {
                "type": "market_position",
                "sid": 6,
                "msg": {
                    "user_id": "u",
                    "market_ticker": TICKER,
                    "position_fp": "-5.00",
                    "position_cost_dollars": "2.600000",
                    "realized_pnl_dollars": "0.000000",
                    "fees_paid_dollars": "0.087500",
                    "position_fee_cost_dollars": "0.087500",
                    "volume_fp": "5.00",
                },
            }
        )
    )
    assert isinstance(msg, MarketPosition) and msg.msg.position_fp == "-5.00" and msg.msg.subaccount is None


def test_order_group_update() -> None:
    msg = decode_frame(
        frame(
            {
                "type": "order_group_updates",
                "sid": 7,
                "seq": 2,
                "msg": {"event_type": "triggered", "order_group_id": "g1", "ts_ms": 1},
            }
        )
    )
    assert isinstance(msg, OrderGroupUpdate) and msg.msg.contracts_limit_fp is None


# Lifecycle: one frame per event type, with the keys that event carries.
LIFECYCLE_BODIES: dict[str, dict[str, object]] = {
    "created": {
        "exchange_index": 2,
        "open_ts": 1795791600,
        "close_ts": 1795792500,
        "price_level_structure": "tapered_deci_cent",
        "price_ranges": [
            {"start": "0.0000", "end": "0.1000", "step": "0.0010"},
            {"start": "0.1000", "end": "0.9000", "step": "0.0100"},
            {"start": "0.9000", "end": "1.0000", "step": "0.0010"},
        ],
        "additional_metadata": {
            "name": "BTC up?",
            "title": "BTC price up in next 15 mins?",
            "yes_sub_title": "Target Price: $86,123.45",
            "no_sub_title": "Target Price: $86,123.45",
            "rules_primary": "...",
            "rules_secondary": "...",
            "can_close_early": False,
            "event_ticker": "KXBTC15M-26NOV251515",
            "expected_expiration_ts": 1795792505,
            "strike_type": "greater_or_equal",
            "floor_strike": 86123.45,
        },
    },
    "activated": {"is_deactivated": False},
    "deactivated": {"is_deactivated": True},
    "close_date_updated": {"close_ts": 1795792600},
    "determined": {"result": "yes", "determination_ts": 1795792501, "settlement_value": "1.0000"},
    "settled": {"settled_ts": 1795792560},
    "price_level_structure_updated": {
        "price_level_structure": "linear_cent",
        "price_ranges": [{"start": "0.0000", "end": "1.0000", "step": "0.0100"}],
    },
    "metadata_updated": {
        "floor_strike": 95000,
        "cap_strike": 95249.99,
        "strike_type": "between",
        "yes_sub_title": "95,000 to 95,249.99",
        "custom_strike": {"x": 1},
    },
}


@pytest.mark.parametrize("event_type", sorted(LIFECYCLE_BODIES))
def test_market_lifecycle_every_event_type(event_type: str) -> None:
    body = {"event_type": event_type, "market_ticker": TICKER, **LIFECYCLE_BODIES[event_type]}
    msg = decode_frame(frame({"type": "market_lifecycle_v2", "sid": 8, "msg": body}))
    assert isinstance(msg, MarketLifecycle)
    assert msg.msg.event_type == event_type and msg.msg.market_ticker == TICKER


def test_lifecycle_strikes_are_exact_and_grid_usable() -> None:
    created = decode_frame(
        frame(
            {
                "type": "market_lifecycle_v2",
                "sid": 8,
                "msg": {"event_type": "created", "market_ticker": TICKER, **LIFECYCLE_BODIES["created"]},
            }
        )
    )
    meta = created.msg.additional_metadata
    assert meta is not None and meta.floor_strike == Decimal("86123.45")
    grid = PriceGrid.from_wire(created.msg.price_ranges_wire())
    assert grid.is_valid(50) and grid.is_valid(5000) and not grid.is_valid(5050)
    updated = decode_frame(
        frame(
            {
                "type": "market_lifecycle_v2",
                "sid": 8,
                "msg": {
                    "event_type": "metadata_updated",
                    "market_ticker": TICKER,
                    **LIFECYCLE_BODIES["metadata_updated"],
                },
            }
        )
    )
    assert updated.msg.cap_strike == Decimal("95249.99") and updated.msg.floor_strike == Decimal(95000)


def test_event_lifecycle_and_fee_update() -> None:
    ev = decode_frame(
        frame(
            {
                "type": "event_lifecycle",
                "sid": 8,
                "msg": {
                    "event_ticker": "KXBTC15M-26NOV251515",
                    "exchange_index": 2,
                    "title": "BTC",
                    "subtitle": "",
                    "collateral_return_type": "",
                    "series_ticker": "KXBTC15M",
                    "strike_date": 1795792500,
                },
            }
        )
    )
    assert isinstance(ev, EventLifecycle) and ev.msg.exchange_index == 2 and ev.msg.strike_period is None
    fee = decode_frame(
        frame(
            {
                "type": "event_fee_update",
                "sid": 8,
                "msg": {
                    "event_ticker": "E",
                    "fee_type_override": "quadratic",
                    "fee_multiplier_override": 0.5,
                },
            }
        )
    )
    assert isinstance(fee, EventFeeUpdate) and fee.msg.fee_multiplier_override == Decimal("0.5")
    cleared = decode_frame(
        frame(
            {
                "type": "event_fee_update",
                "sid": 8,
                "msg": {"event_ticker": "E", "fee_type_override": None, "fee_multiplier_override": None},
            }
        )
    )
    assert cleared.msg.fee_type_override is None and cleared.msg.fee_multiplier_override is None
    with pytest.raises(ProtocolError, match="event_fee_update"):
        decode_frame(frame({"type": "event_fee_update", "sid": 8, "msg": {"event_ticker": "E"}}))


CFB = {
    "type": "cfbenchmarks_value",
    "sid": 1,
    "seq": 42,
    "msg": {
        "index_id": "BRTI",
        "received_at": 1710000000123,
        "data": '{"type":"value","id":"BRTI","time":1710000000123,"value":"68000.12"}',
        "avg_60s_data": {
            "value": "68000.12000000",
            "window_size": 3,
            "window_start_ts_ms": 1709999940123,
            "window_end_ts_exclusive": 1710000000123,
        },
        "last_60s_windowed_average_15min": {
            "value": "68000.23000000",
            "window_size": 14,
            "window_start_ts_ms": 1709999980000,
            "window_end_ts_exclusive": 1710000000123,
        },
    },
}


def test_cfbenchmarks_value_and_its_string_data() -> None:
    msg = decode_frame(frame(CFB))
    assert isinstance(msg, CfbenchmarksValue)
    assert (msg.seq, msg.msg.index_id, msg.msg.avg_60s_data.window_size) == (42, "BRTI", 3)
    final = msg.msg.last_60s_windowed_average_15min
    assert final is not None and final.value == "68000.23000000" and final.window_size == 14
    raw = msg.msg.raw()
    assert (raw.value, raw.time, raw.id) == ("68000.12", 1710000000123, "BRTI")


def test_cfbenchmarks_outside_final_minute_and_bad_data() -> None:
    body = {k: v for k, v in CFB["msg"].items() if k != "last_60s_windowed_average_15min"}  # type: ignore[attr-defined]
    msg = decode_frame(frame({**CFB, "msg": {**body, "data": "not json"}}))
    assert msg.msg.last_60s_windowed_average_15min is None
    with pytest.raises(ProtocolError, match="cfbenchmarks_value"):
        msg.msg.raw()


def test_cfbenchmarks_indexlist() -> None:
    msg = decode_frame(
        frame(
            {
                "type": "cfbenchmarks_value_indexlist",
                "id": 2,
                "sid": 1,
                "seq": 1,
                "msg": {"index_ids": ["BRTI"]},
            }
        )
    )
    assert isinstance(msg, CfbenchmarksIndexList) and msg.id == 2 and msg.msg.index_ids == ["BRTI"]


# -------------------------------------------------------------------------------------------------
# Bad input


def test_unknown_type_is_kept_raw() -> None:
    raw = frame({"type": "rfq_created", "sid": 9, "msg": {"id": "r"}})
    msg = decode_frame(raw)
    assert isinstance(msg, UnknownMessage) and msg.type == "rfq_created" and msg.raw == raw


@pytest.mark.parametrize(
    ("raw", "pattern"),
    [
        (b'{"type":"orderbook_delta","sid":1,', "malformed JSON"),
        (b"[1,2]", "not a typed message"),
        (b'{"sid":1}', "not a typed message|missing"),
        (
            frame({"type": "orderbook_delta", "sid": 1, "msg": {}}),
            r"orderbook_delta: .*missing required field",
        ),
        (
            frame({"type": "orderbook_delta", "sid": 1, "seq": 2, "msg": {"market_ticker": TICKER}}),
            r"orderbook_delta.*price_dollars",
        ),
        (frame({**TICKER_MSG, "msg": {**TICKER_MSG["msg"], "ts": "2022-11-22T20:44:01Z"}}), r"ticker.*ts"),  # type: ignore[dict-item]
        (frame({"type": "error", "id": 1, "msg": {"code": "six", "msg": "x"}}), r"error.*code"),
    ],
)
def test_bad_frames_raise_protocol_error_naming_the_type(raw: bytes, pattern: str) -> None:
    with pytest.raises(ProtocolError, match=pattern):
        decode_frame(raw)


def test_peek_route_finds_the_book_of_a_bad_frame() -> None:
    bad = frame({"type": "orderbook_delta", "sid": 4, "seq": 8, "msg": {"market_ticker": TICKER, "side": 3}})
    route = peek_route(bad)
    assert route is not None and (route.type, route.sid, route.seq, route.market_ticker) == (
        "orderbook_delta",
        4,
        8,
        TICKER,
    )
    assert peek_route(b"{not json") is None


# -------------------------------------------------------------------------------------------------
# Commands


def test_subscribe_command_bytes() -> None:
    params = subscribe_params(["orderbook_delta", "trade"], market_tickers=[TICKER], use_yes_price=True)
    assert msgspec.json.decode(encode_subscribe(1, params)) == {
        "id": 1,
        "cmd": "subscribe",
        "params": {
            "channels": ["orderbook_delta", "trade"],
            "market_tickers": [TICKER],
            "use_yes_price": True,
        },
    }
    cfb = subscribe_params(["cfbenchmarks_value"], index_ids=["BRTI"])
    assert msgspec.json.decode(encode_subscribe(2, cfb)) == {
        "id": 2,
        "cmd": "subscribe",
        "params": {"channels": ["cfbenchmarks_value"], "index_ids": ["BRTI"]},
    }
    with pytest.raises(ValueError, match="unknown channel"):
        subscribe_params(["ticker_v2"])


def test_other_command_bytes() -> None:
    assert encode_unsubscribe(2, [1, 2]) == b'{"id":2,"cmd":"unsubscribe","params":{"sids":[1,2]}}'
    assert encode_list_subscriptions(3) == b'{"id":3,"cmd":"list_subscriptions"}'
    assert msgspec.json.decode(encode_update_subscription(4, 1, "add_markets", market_tickers=["NEW-1"])) == {
        "id": 4,
        "cmd": "update_subscription",
        "params": {"sids": [1], "action": "add_markets", "market_tickers": ["NEW-1"]},
    }
    assert msgspec.json.decode(encode_update_subscription(6, 1, "get_snapshot", market_tickers=["M-1"])) == {
        "id": 6,
        "cmd": "update_subscription",
        "params": {"sids": [1], "action": "get_snapshot", "market_tickers": ["M-1"]},
    }
    with pytest.raises(ValueError, match="action"):
        encode_update_subscription(7, 1, "replace_markets")
