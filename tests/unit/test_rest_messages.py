"""REST bodies: every recorded demo capture decodes, and the error shapes map onto the error hierarchy."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest

from kxbtc.errors import (
    AuthError,
    ConflictError,
    ExchangeError,
    NotFoundError,
    ProtocolError,
    RateLimitedError,
    RejectedError,
    ServerError,
)
from kxbtc.kalshi import rest_messages as rm
from kxbtc.kalshi.error_bodies import code_is, error_class, item_error, parse_error
from kxbtc.units import Count, Price, PriceGrid

API_PREFIX = "/trade-api/v2"


def _rest_captures(fixtures_dir: Path) -> list[tuple[str, dict[str, object], bytes]]:
    out = []
    for meta_path in sorted(fixtures_dir.glob("*.meta.json")):
        name = meta_path.name.removesuffix(".meta.json")
        if name.startswith("ws__"):
            continue
        meta = json.loads(meta_path.read_text())
        out.append((name, meta, (fixtures_dir / f"{name}.json").read_bytes()))
    return out


def test_every_recorded_rest_capture_decodes(fixtures_dir: Path) -> None:
    captures = _rest_captures(fixtures_dir)
    assert len(captures) >= 40
    decoded_ok = errors = 0
    for name, meta, body in captures:
        method, status = str(meta["method"]), int(str(meta["status"]))
        path = str(meta["path"]).split("?", 1)[0].removeprefix(API_PREFIX)
        if 200 <= status < 300:
            kind = rm.response_type_for(method, path)
            assert kind is not None, f"{name}: no response type for {method} {path}"
            value = rm.decode(body, kind, f"{method} {path}")
            assert isinstance(value, kind), name
            decoded_ok += 1
        else:
            err = parse_error(status, body, method=method, path=path)
            assert type(err) is error_class(status), name
            assert err.status == status
            assert err.code or err.message, f"{name}: error body yielded neither code nor message"
            errors += 1
    assert decoded_ok >= 25 and errors >= 10


def _load(fixtures_dir: Path, name: str, kind: type[rm.T]) -> rm.T:
    return rm.decode((fixtures_dir / f"{name}.json").read_bytes(), kind, name)


def test_fixture_values_convert_exactly(fixtures_dir: Path) -> None:
    balance = _load(fixtures_dir, "auth__balance_ok", rm.Balance)
    assert balance.money == 98_018_600  # $98.0186: sub-cent balances (errata item 2)
    assert balance.balance == 9801  # truncated integer cents
    assert balance.shard_money(0) == 98_018_600
    assert balance.shard_money(2) is None

    fills = _load(fixtures_dir, "fills__after_taker", rm.FillsPage)
    assert fills.cursor == ""
    assert fills.fills is not None
    first = fills.fills[0]
    assert (first.yes_price, first.count, first.fee) == (5200, 100, 17_500)

    market = _load(fixtures_dir, "markets__single", rm.MarketResponse).market
    assert market.grid() == PriceGrid.linear_cent()
    assert (market.yes_bid, market.yes_ask) == (4700, 5200)
    assert market.open_time_ns == 1_781_156_369 * 10**9
    assert market.floor_strike is None  # structured market: no strike keys at all

    book = _load(fixtures_dir, "orderbook__base", rm.OrderbookResponse).orderbook_fp
    assert book.yes_levels() == [(Price(4700), Count(300))]
    assert book.no_levels() == [(Price(4800), Count(300))]

    created = _load(fixtures_dir, "orders__create_v2_taker_ioc", rm.CreateOrderResult)
    assert (created.filled, created.remaining, created.average_price) == (100, 0, 5200)

    orders = _load(fixtures_dir, "portfolio__orders_list", rm.OrdersPage).orders
    assert orders is not None
    asks = [o for o in orders if o.book_side == "ask"]
    assert asks and asks[0].outcome_side == "no"
    legacy = _load(fixtures_dir, "orders__legacy_create", rm.LegacyOrderResponse).order
    assert legacy.self_trade_prevention_type is None  # key omitted on the wire

    costs = _load(fixtures_dir, "account__endpoint_costs", rm.EndpointCosts)
    assert costs.default_cost == 10 and costs.endpoint_costs


def test_missing_required_field_is_a_protocol_error_naming_the_endpoint() -> None:
    with pytest.raises(ProtocolError, match=r"GET /portfolio/balance.*balance"):
        rm.decode(b'{"balance_dollars": "1.0000"}', rm.Balance, "GET /portfolio/balance")
    with pytest.raises(ProtocolError, match="GET /markets/X"):
        rm.decode(b'{"market": {"ticker": "X"}}', rm.MarketResponse, "GET /markets/X")
    with pytest.raises(ProtocolError, match="not JSON"):
        rm.decode(b"<html>", rm.Balance, "GET /portfolio/balance")
    with pytest.raises(ProtocolError):  # wrong JSON type: a number where a string belongs
        rm.decode(b'{"order_id":"a","fill_count":1,"remaining_count":"0.00"}', rm.CreateOrderResult, "POST")


def test_optional_fields_accept_missing_and_null_alike() -> None:
    missing = rm.decode(b'{"order_id":"a","ts_ms":1}', rm.AmendOrderResult, "amend")
    null = rm.decode(
        b'{"order_id":"a","ts_ms":1,"remaining_count":null,"fill_count":null,"average_fill_price":null}',
        rm.AmendOrderResult,
        "amend",
    )
    assert missing == null
    assert null.remaining is None
    book = rm.decode(b'{"orderbook_fp":{"yes_dollars":null}}', rm.OrderbookResponse, "book").orderbook_fp
    assert book.yes_levels() == [] and book.no_levels() == []
    assert rm.decode(b"{}", rm.OrderbookResponse, "book").orderbook_fp.yes_levels() == []


def test_unknown_fields_are_ignored() -> None:
    body = b'{"exchange_active":true,"trading_active":false,"brand_new_flag":{"x":[1,2]}}'
    status = rm.decode(body, rm.ExchangeStatus, "GET /exchange/status")
    assert status.trading_active is False


def test_strikes_are_exact_decimals() -> None:
    body = json.dumps(
        {
            "ticker": "KXBTCD-25AUG0517-T114999.99",
            "event_ticker": "KXBTCD-25AUG0517",
            "status": "active",
            "open_time": "2025-08-05T20:00:00Z",
            "close_time": "2025-08-05T21:00:00Z",
            "price_ranges": [{"start": "0.0000", "end": "1.0000", "step": "0.0100"}],
            "strike_type": "greater",
            "floor_strike": 114999.99,
        }
    ).encode()
    market = rm.decode(body, rm.Market, "market")
    assert market.floor_strike == Decimal("114999.99")
    assert market.cap_strike is None


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("2026-06-11T05:39:29Z", 1_781_156_369_000_000_000),
        ("2026-06-11T05:39:29.2Z", 1_781_156_369_200_000_000),
        ("2026-06-11T05:39:29.28563Z", 1_781_156_369_285_630_000),
        ("2026-06-11T05:39:29.123456789Z", 1_781_156_369_123_456_789),
        ("2026-06-11T01:39:29.5-04:00", 1_781_156_369_500_000_000),
    ],
)
def test_timestamps_with_zero_to_nine_fraction_digits(text: str, ns: int) -> None:
    assert rm.parse_rfc3339_ns(text) == ns


def test_bad_timestamp_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        rm.parse_rfc3339_ns("2026-06-11 05:39")
    with pytest.raises(ProtocolError):
        rm.parse_rfc3339_ns("2026-06-11T05:39:29.1234567890Z")


def test_order_request_sends_count_and_price_as_strings() -> None:
    req = rm.order_request(
        ticker="KXBTC15M-26JUN010345-45",
        client_order_id="cid-1",
        side="ask",
        price=Price(6000),
        count=Count(1050),
        time_in_force="immediate_or_cancel",
        exchange_index=2,
    )
    wire = json.loads(rm.encode(req))
    assert wire == {
        "ticker": "KXBTC15M-26JUN010345-45",
        "client_order_id": "cid-1",
        "side": "ask",
        "count": "10.50",
        "price": "0.6000",
        "time_in_force": "immediate_or_cancel",
        "self_trade_prevention_type": "taker_at_cross",
        "exchange_index": 2,
    }
    with pytest.raises(ValueError, match="client_order_id"):
        rm.order_request(
            ticker="T",
            client_order_id="",
            side="bid",
            price=Price(100),
            count=Count(1),
            time_in_force="fill_or_kill",
        )
    with pytest.raises(ValueError, match="price"):
        rm.order_request(
            ticker="T",
            client_order_id="c",
            side="bid",
            price=Price(10_000),
            count=Count(1),
            time_in_force="fill_or_kill",
        )


def test_transfer_request_amount_is_centicents_and_records_are_dollars() -> None:
    assert rm.money_to_centicents(1_500_000) == 15_000  # $1.50
    with pytest.raises(ValueError):
        rm.money_to_centicents(1_500_001)
    record = rm.decode(
        b'{"transfer_id":"t","amount":"1.5000","status":"pending","source":"event_contract",'
        b'"destination":"event_contract","source_exchange_shard":0,"destination_exchange_shard":2,"created_ts":1}',
        rm.Transfer,
        "transfer",
    )
    assert record.money == 1_500_000
    page = rm.decode(b'{"transfers":[]}', rm.TransfersPage, "transfers")
    assert page.cursor is None  # omitted on the last page


def test_batch_items_carry_flat_errors() -> None:
    body = (
        b'{"orders":[{"order_id":"o1","client_order_id":"a","fill_count":"0.00","remaining_count":"1.00",'
        b'"ts_ms":5},{"client_order_id":"b","order_id":null,"fill_count":null,"remaining_count":null,'
        b'"ts_ms":null,"error":{"code":"invalid_price","message":"invalid price"}}]}'
    )
    result = rm.decode(body, rm.BatchCreateResult, "batch")
    ok, bad = result.orders
    assert ok.error is None and bad.error is not None
    err = item_error(bad.error.code, bad.error.message)
    assert isinstance(err, RejectedError) and err.code == "invalid_price"
    cancel = rm.decode(
        b'{"orders":[{"order_id":"x","reduced_by":"0","error":{"code":"not_found","message":"not found"}}]}',
        rm.BatchCancelResult,
        "batch cancel",
    )
    assert cancel.orders[0].error is not None
    assert isinstance(item_error(cancel.orders[0].error.code, ""), NotFoundError)


@pytest.mark.parametrize(
    ("status", "body", "cls", "code"),
    [
        (
            400,
            b'{"error":{"code":"invalid_price","message":"invalid price","service":"exchange"}}',
            RejectedError,
            "invalid_price",
        ),
        (
            400,
            b'{"code":"bad_request","message":"bad request","details":"json: cannot unmarshal"}',
            RejectedError,
            "bad_request",
        ),
        (400, b'{"msg":"Parameter validation failed for GetMarkets"}', RejectedError, ""),
        (429, b'{"error":"too many requests"}', RateLimitedError, "too_many_requests"),
        (429, b'{"code":"too_many_requests","message":"slow down"}', RateLimitedError, "too_many_requests"),
        (
            401,
            b'{"error":{"code":"header_timestamp_expired","message":"header timestamp expired"}}',
            AuthError,
            "header_timestamp_expired",
        ),
        (403, b'{"error":{"code":"forbidden","message":"forbidden"}}', AuthError, "forbidden"),
        (404, b'{"error":{"code":"not_found","message":"not found"}}', NotFoundError, "not_found"),
        (
            409,
            b'{"error":{"code":"order_already_exists","message":"order already exists"}}',
            ConflictError,
            "order_already_exists",
        ),
        (500, b"internal error", ServerError, ""),
        (503, b"", ServerError, ""),
    ],
)
def test_error_shapes_map_to_typed_errors(
    status: int, body: bytes, cls: type[ExchangeError], code: str
) -> None:
    err = parse_error(status, body, method="POST", path="/trade-api/v2/portfolio/events/orders")
    assert type(err) is cls
    assert err.code == code
    assert err.status == status
    assert err.message
    assert "/portfolio/events/orders" in str(err)


def test_error_details_and_retryability() -> None:
    err = parse_error(
        401,
        b'{"error":{"code":"authentication_error","message":"authentication_error","details":"NOT_FOUND"}}',
    )
    assert err.details == "NOT_FOUND" and not err.retryable
    assert parse_error(429, b'{"error":"too many requests"}').retryable
    assert parse_error(502, b"bad gateway").retryable
    assert not parse_error(400, b'{"msg":"x"}').retryable


def test_code_prefix_matching_for_codes_with_embedded_ids() -> None:
    assert code_is("user_not_found:_3f2a9c1e-0000-4000-8000-000000000000", "user_not_found")
    assert code_is("MARKET_INACTIVE", "market_inactive")
    assert code_is("not_found", "not_found")
    assert not code_is("not_foundation", "not_found")
    assert not code_is("invalid_order_size", "invalid_order")  # a different code, not an id suffix


def test_response_type_prefers_literal_segments() -> None:
    assert rm.response_type_for("GET", "/markets/trades") is rm.TradesPage
    assert rm.response_type_for("GET", "/markets/KXBTC15M-26JUN010345-45") is rm.MarketResponse
    assert rm.response_type_for("DELETE", "/portfolio/events/orders/batched") is rm.BatchCancelResult
    assert rm.response_type_for("DELETE", "/portfolio/events/orders/abc") is rm.CancelOrderResult
    assert rm.response_type_for("GET", "/nope") is None


def test_msgspec_structs_round_trip_requests() -> None:
    item = rm.CancelRequestItem(order_id="o", market_ticker="M", exchange_index=2)
    assert msgspec.json.decode(rm.encode(rm.BatchCancelRequest(orders=[item]))) == {
        "orders": [{"order_id": "o", "market_ticker": "M", "exchange_index": 2}]
    }
