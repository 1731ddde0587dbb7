"""KalshiRestClient against a real HTTP stub on 127.0.0.1 (signatures verified with cryptography)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from kalshi_stub import KalshiStub

from kxbtc.clock import ManualClock, SystemClock
from kxbtc.errors import (
    AuthError,
    ConflictError,
    NotFoundError,
    ProtocolError,
    RateLimitedError,
    RejectedError,
    ServerError,
)
from kxbtc.kalshi.auth import Signer
from kxbtc.kalshi.discovery import discover_btc, discover_ladder
from kxbtc.kalshi.ratelimit import BucketTooSmallError, EndpointCostTable, RateLimiter, TokenBucket
from kxbtc.kalshi.rest import KalshiRestClient, client_order_id
from kxbtc.kalshi.rest_messages import CancelRequestItem, EndpointCosts, decode, order_request
from kxbtc.kalshi.rest_orders import batch_item_error
from kxbtc.kalshi.rest_transport import ResponseInfo
from kxbtc.units import Count, Price, PriceGrid

KEY_ID = "a952bcbe-ec3b-4b5b-b8f9-11dae589608c"
MARKET = "KXWTACHALLENGERMATCH-26JUN11JIMLEP-LEP"


@pytest.fixture(scope="module")
def private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
async def stub(fixtures_dir: Path, private_key: rsa.RSAPrivateKey) -> AsyncIterator[KalshiStub]:
    server = KalshiStub(fixtures_dir, private_key.public_key(), KEY_ID)
    await server.start()
    yield server
    await server.stop()


def make_client(stub: KalshiStub, private_key: rsa.RSAPrivateKey, **kwargs: Any) -> KalshiRestClient:
    pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    kwargs.setdefault("backoff_base_s", 0.001)
    kwargs.setdefault("lookup_delay_s", 0.001)
    return KalshiRestClient(stub.base_url, Signer(KEY_ID, pem), SystemClock(), timeout_s=5.0, **kwargs)


@pytest.fixture
async def client(stub: KalshiStub, private_key: rsa.RSAPrivateKey) -> AsyncIterator[KalshiRestClient]:
    async with make_client(stub, private_key) as c:
        yield c


def bid(cid: str, price: int = 100, count: int = 100, ticker: str = MARKET) -> Any:
    return order_request(
        ticker=ticker,
        client_order_id=cid,
        side="bid",
        price=Price(price),
        count=Count(count),
        time_in_force="good_till_canceled",
        exchange_index=2,
    )


async def test_recorded_read_endpoints_decode_through_the_client(
    client: KalshiRestClient, stub: KalshiStub
) -> None:
    assert (await client.get_exchange_status()).trading_active
    assert (await client.get_balance()).money == 98_018_600
    limits = await client.get_account_limits()
    assert (limits.read.bucket_capacity, limits.write.refill_rate) == (200, 100)
    assert (await client.get_endpoint_costs()).default_cost == 10
    fills = await client.get_fills(limit=10)
    assert fills.fills is not None and fills.fills[0].fee == 17_500
    positions = await client.get_positions()
    assert positions.market_positions is not None and positions.market_positions[0].position == 300
    assert (await client.get_settlements(limit=10)).settlements == []
    trades = await client.get_trades(ticker="KXPGATOUR-USO26-JDAY", limit=12)
    assert trades.trades is not None and trades.trades[0].count == 777
    book = await client.get_orderbook(MARKET)
    assert max(p for p, _ in book.yes_levels()) == 4700
    market = await client.get_market(MARKET)
    assert market.grid() == PriceGrid.linear_cent()
    assert await client.get_series_fee_changes() == []
    # Every request carried the three headers and a signature over the full path without the query.
    assert stub.requests and all(r.signed and r.signature_ok for r in stub.requests)
    fills_call = stub.calls("GET", "/portfolio/fills")[0]
    assert fills_call.path == "/trade-api/v2/portfolio/fills" and ("limit", "10") in fills_call.query


@pytest.mark.parametrize("end_cursor", ["empty", "absent", "null"])
async def test_pagination_follows_cursors_to_the_end(
    client: KalshiRestClient, stub: KalshiStub, end_cursor: str
) -> None:
    stub.state.end_cursor = end_cursor
    stub.state.markets = [
        synthetic_market(f"KXBTCD-26JUN0117-T{100_000 + i}", "KXBTCD-26JUN0117") for i in range(250)
    ]
    tickers = [m.ticker async for m in client.iter_markets(series_ticker="KXBTCD", limit=100)]
    assert tickers == [m["ticker"] for m in stub.state.markets]
    cursors = [dict(r.query).get("cursor") for r in stub.calls("GET", "/markets")]
    assert cursors == [None, "100", "200"]


async def test_batch_of_45_is_split_20_20_5_with_results_in_input_order(
    client: KalshiRestClient, stub: KalshiStub
) -> None:
    orders = [bid(client_order_id("mm", "run1", MARKET, i), price=100 + 100 * (i % 90)) for i in range(45)]
    results = await client.batch_create_orders(orders)
    batches = stub.calls("POST", "/portfolio/events/orders/batched")
    assert [len(b.body["orders"]) for b in batches] == [20, 20, 5]
    assert [r.client_order_id for r in results] == [o.client_order_id for o in orders]
    assert all(r.error is None and r.order_id for r in results)
    sent = [o for b in batches for o in b.body["orders"]]
    assert all(isinstance(o["count"], str) and isinstance(o["price"], str) for o in sent)
    assert sent[0]["count"] == "1.00" and sent[0]["price"] == "0.0100"

    cancels = [
        CancelRequestItem(order_id=r.order_id or "", market_ticker=MARKET, exchange_index=2) for r in results
    ]
    cancels.insert(
        7, CancelRequestItem(order_id="00000000-0000-0000-0000-000000000000", market_ticker=MARKET)
    )
    outcome = await client.batch_cancel_orders(cancels)
    assert [len(b.body["orders"]) for b in stub.calls("DELETE", "/portfolio/events/orders/batched")] == [
        20,
        20,
        6,
    ]
    assert [o.order_id for o in outcome] == [c.order_id for c in cancels]
    assert isinstance(batch_item_error(outcome[7]), NotFoundError)
    assert all(o.error is None and o.reduced_by == "1.00" for i, o in enumerate(outcome) if i != 7)


async def test_per_item_batch_errors_do_not_fail_the_batch(client: KalshiRestClient) -> None:
    results = await client.batch_create_orders([bid("ok-1"), bid("bad-price", price=5150), bid("ok-2")])
    assert results[0].error is None and results[2].error is None
    err = batch_item_error(results[1])
    assert isinstance(err, RejectedError) and err.code == "invalid_price"


async def test_lost_create_response_is_retried_with_the_same_id_and_resolved_by_lookup(
    client: KalshiRestClient, stub: KalshiStub
) -> None:
    cid = client_order_id("mm", "run1", MARKET, 1)
    stub.inject("POST", "/portfolio/events/orders", "drop_after")
    stub.state.hidden_reads[cid] = 1  # the read model lags: the first lookup does not see the order yet
    result = await client.create_order(bid(cid))
    posts = stub.calls("POST", "/portfolio/events/orders")
    assert [p.body["client_order_id"] for p in posts] == [cid, cid]
    assert len({p.headers["KALSHI-ACCESS-SIGNATURE"] for p in posts}) == 2  # signed afresh
    assert result.resolved_by_lookup
    assert len(stub.state.orders) == 1 and result.order_id == stub.state.orders[0]["order_id"]
    assert result.client_order_id == cid and result.remaining == 100
    assert len(stub.calls("GET", "/portfolio/orders")) == 2


async def test_a_plain_duplicate_client_order_id_is_a_conflict(client: KalshiRestClient) -> None:
    await client.create_order(bid("dup"))
    with pytest.raises(ConflictError) as info:
        await client.create_order(bid("dup"))
    assert info.value.code == "order_already_exists"
    # A caller re-sending after a crash says so, and gets the existing order back.
    again = await client.create_order(bid("dup"), assume_sent=True)
    assert again.resolved_by_lookup


async def test_a_retried_create_whose_id_is_a_different_order_stays_a_conflict(
    client: KalshiRestClient, stub: KalshiStub
) -> None:
    await client.create_order(bid("taken", price=200))
    with pytest.raises(ConflictError, match="different order"):
        await client.create_order(bid("taken", price=300), assume_sent=True)


async def test_429_then_success_is_retried(client: KalshiRestClient, stub: KalshiStub) -> None:
    stub.inject("GET", "/portfolio/balance", "429", times=2)
    stub.inject("POST", "/portfolio/events/orders", "429")
    assert (await client.get_balance()).balance == 9801
    assert len(stub.calls("GET", "/portfolio/balance")) == 3
    created = await client.create_order(bid("after-429"))
    assert not created.resolved_by_lookup
    assert len(stub.calls("POST", "/portfolio/events/orders")) == 2


async def test_server_errors_exhaust_retries_on_reads(
    stub: KalshiStub, private_key: rsa.RSAPrivateKey
) -> None:
    stub.inject("GET", "/exchange/status", "500", times=10)
    async with make_client(stub, private_key, max_retries=2) as c:
        with pytest.raises(ServerError):
            await c.get_exchange_status()
    assert len(stub.calls("GET", "/exchange/status")) == 3


async def test_network_error_on_a_read_is_retried(client: KalshiRestClient, stub: KalshiStub) -> None:
    stub.inject("GET", "/exchange/status", "drop_before")
    assert (await client.get_exchange_status()).exchange_active
    assert len(stub.calls("GET", "/exchange/status")) == 2


async def test_invalid_price_is_rejected_with_its_code_and_not_retried(
    client: KalshiRestClient, stub: KalshiStub
) -> None:
    with pytest.raises(RejectedError) as info:
        await client.create_order(bid("off-grid", price=5150))
    assert info.value.code == "invalid_price" and info.value.status == 400
    assert not info.value.retryable
    assert len(stub.calls("POST", "/portfolio/events/orders")) == 1


async def test_numbers_are_sent_as_strings(client: KalshiRestClient, stub: KalshiStub) -> None:
    await client.create_order(bid("strings", price=5600, count=1050))
    body = stub.calls("POST", "/portfolio/events/orders")[0].body
    assert body["count"] == "10.50" and body["price"] == "0.5600"
    assert body["exchange_index"] == 2 and body["self_trade_prevention_type"] == "taker_at_cross"


async def test_cancel_routes_to_the_shard_and_is_not_retried_blindly(
    client: KalshiRestClient, stub: KalshiStub
) -> None:
    created = await client.create_order(bid("to-cancel"))
    stub.inject("DELETE", "/portfolio/events/orders/", "500")
    with pytest.raises(ServerError):
        await client.cancel_order(created.order_id, market_ticker=MARKET, exchange_index=2)
    assert len(stub.calls("DELETE", "/portfolio/events/orders/")) == 1
    done = await client.cancel_order(created.order_id, market_ticker=MARKET, exchange_index=2)
    assert done is not None and done.reduced == 100
    query = dict(stub.calls("DELETE", "/portfolio/events/orders/")[-1].query)
    assert query == {"exchange_index": "2", "market_ticker": MARKET}
    with pytest.raises(NotFoundError) as info:
        await client.cancel_order(created.order_id, market_ticker=MARKET, exchange_index=2)
    assert info.value.code == "not_found"


async def test_404_tolerant_cancel_retries_a_lost_response(
    client: KalshiRestClient, stub: KalshiStub
) -> None:
    created = await client.create_order(bid("lost-cancel"))
    stub.inject("DELETE", "/portfolio/events/orders/", "drop_after")
    result = await client.cancel_order(
        created.order_id, market_ticker=MARKET, exchange_index=2, not_found_ok=True
    )
    assert result is None  # the first attempt canceled it; the retry's 404 means "already gone"
    assert len(stub.calls("DELETE", "/portfolio/events/orders/")) == 2
    assert stub.state.orders[0]["status"] == "canceled"


async def test_batch_cancel_retries_a_lost_response_only_when_404_tolerant(
    client: KalshiRestClient, stub: KalshiStub
) -> None:
    created = [await client.create_order(bid(f"bc-{i}")) for i in range(3)]
    cancels = [
        CancelRequestItem(order_id=c.order_id, market_ticker=MARKET, exchange_index=2) for c in created
    ]
    stub.inject("DELETE", "/portfolio/events/orders/batched", "500")
    with pytest.raises(ServerError):
        await client.batch_cancel_orders(cancels[:1])
    stub.inject("DELETE", "/portfolio/events/orders/batched", "drop_after")
    items = await client.batch_cancel_orders(cancels[1:], not_found_ok=True)
    assert [type(batch_item_error(i)) for i in items] == [NotFoundError, NotFoundError]  # done by attempt 1
    assert len(stub.calls("DELETE", "/portfolio/events/orders/batched")) == 3
    assert [o["status"] for o in stub.state.orders] == ["resting", "canceled", "canceled"]


async def test_on_response_hook_exposes_the_server_date(
    stub: KalshiStub, private_key: rsa.RSAPrivateKey
) -> None:
    seen: list[ResponseInfo] = []
    async with make_client(stub, private_key, on_response=seen.append) as c:
        await c.get_exchange_status()
    (info,) = seen
    assert info.status == 200 and info.path == "/trade-api/v2/exchange/status"
    assert info.server_time_ns is not None
    assert abs(info.server_time_ns - time.time_ns()) < 5 * 10**9
    assert info.sent_ns <= info.received_ns


async def test_transfer_amount_is_sent_in_centicents(client: KalshiRestClient, stub: KalshiStub) -> None:
    transfer_id = await client.intra_exchange_transfer(25_000_000, source_shard=0, destination_shard=2)
    assert transfer_id == "tr-1"
    body = stub.state.transfers[0]
    assert body["amount"] == 250_000 and body["destination_exchange_shard"] == 2
    assert body["source"] == body["destination"] == "event_contract"


async def test_a_malformed_success_body_is_a_protocol_error_naming_the_endpoint(
    client: KalshiRestClient, stub: KalshiStub
) -> None:
    stub.state.markets = [{"ticker": "KXBTC15M-26JUN010345-45", "event_ticker": "KXBTC15M-26JUN010345"}]
    with pytest.raises(ProtocolError, match="GET /trade-api/v2/markets/KXBTC15M-26JUN010345-45"):
        await client.get_market("KXBTC15M-26JUN010345-45")


async def test_an_unsigned_client_reads_public_data_only(stub: KalshiStub) -> None:
    async with KalshiRestClient(stub.base_url, None, SystemClock(), backoff_base_s=0.001) as anonymous:
        assert (await anonymous.get_exchange_status()).exchange_active
        with pytest.raises(AuthError) as info:
            await anonymous.get_balance()
    assert info.value.status == 401 and info.value.code == "authentication_error"
    assert len(stub.calls("GET", "/portfolio/balance")) == 1  # auth errors are not retried
    assert not any(r.signed for r in stub.requests)


# --------------------------------------------------------------------------------------------------
# Discovery


def _iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def synthetic_market(ticker: str, event: str, **fields: Any) -> dict[str, Any]:
    market = {
        "ticker": ticker,
        "event_ticker": event,
        "market_type": "binary",
        "status": "active",
        "open_time": "2026-06-01T07:30:00Z",
        "close_time": "2026-06-01T07:45:00Z",
        "price_ranges": [{"start": "0.0000", "end": "1.0000", "step": "0.0100"}],
        "yes_bid_dollars": "0.4700",
        "yes_ask_dollars": "0.5200",
        "result": "",
        "rules_primary": "",
        "rules_secondary": "",
        "price_level_structure": "linear_cent",
        "exchange_index": 2,
    }
    market.update(fields)
    return market


def _series(ticker: str) -> dict[str, Any]:
    return {"ticker": ticker, "title": ticker, "fee_type": "quadratic", "fee_multiplier": 1, "frequency": "x"}


def _load_btc_world(stub: KalshiStub) -> None:
    w0 = datetime(2026, 6, 1, 7, 30, tzinfo=UTC)  # 03:30 ET
    w1 = datetime(2026, 6, 1, 7, 45, tzinfo=UTC)
    w2 = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
    h1, h2 = datetime(2026, 6, 1, 8, 0, tzinfo=UTC), datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
    stub.state.series = {s: _series(s) for s in ("KXBTC15M", "KXBTCD", "KXBTC")}
    stub.state.events = [
        {"event_ticker": "KXBTC15M-26JUN010345", "series_ticker": "KXBTC15M", "exchange_index": 2},
        {"event_ticker": "KXBTC15M-26JUN010400", "series_ticker": "KXBTC15M"},
        {
            "event_ticker": "KXBTCD-26JUN0104",
            "series_ticker": "KXBTCD",
            "fee_type_override": "quadratic",
            "fee_multiplier_override": 0.5,
        },
        {"event_ticker": "KXBTCD-26JUN0105", "series_ticker": "KXBTCD"},
        {"event_ticker": "KXBTC-26JUN0104", "series_ticker": "KXBTC"},
    ]
    m = [
        synthetic_market(
            "KXBTC15M-26JUN010345-45",
            "KXBTC15M-26JUN010345",
            open_time=_iso(w0),
            close_time=_iso(w1),
            strike_type="greater_or_equal",
            floor_strike=72901.1,
            price_ranges=[
                {"start": "0.0000", "end": "0.1000", "step": "0.0010"},
                {"start": "0.1000", "end": "0.9000", "step": "0.0100"},
                {"start": "0.9000", "end": "1.0000", "step": "0.0010"},
            ],
        ),
        # The next window exists but is not open yet; its strike is not published.
        synthetic_market(
            "KXBTC15M-26JUN010400-00",
            "KXBTC15M-26JUN010400",
            status="initialized",
            open_time=_iso(w1),
            close_time=_iso(w2),
            strike_type="greater_or_equal",
        ),
    ]
    for strike in ("115249.99", "114999.99", "115499.99"):
        m.append(
            synthetic_market(
                f"KXBTCD-26JUN0104-T{strike}",
                "KXBTCD-26JUN0104",
                open_time=_iso(h1.replace(hour=7)),
                close_time=_iso(h1),
                strike_type="greater",
                floor_strike=float(strike),  # a JSON number; "114999.99" exactly on the wire
            )
        )
    m.append(
        synthetic_market(
            "KXBTCD-26JUN0105-T115000",
            "KXBTCD-26JUN0105",
            open_time=_iso(h1.replace(hour=7)),
            close_time=_iso(h2),
            strike_type="greater",
            floor_strike=115000,
        )
    )
    m.append(
        synthetic_market(
            "KXBTC-26JUN0104-B68200",
            "KXBTC-26JUN0104",
            open_time=_iso(h1.replace(hour=7)),
            close_time=_iso(h1),
            strike_type="between",
            floor_strike=68100,
            cap_strike=68299.99,
        )
    )
    m.append(
        synthetic_market(
            "KXBTC-26JUN0104-T67999.99",
            "KXBTC-26JUN0104",
            open_time=_iso(h1.replace(hour=7)),
            close_time=_iso(h1),
            strike_type="less",
            cap_strike=67999.99,
        )
    )
    stub.state.markets = m


async def test_discovery_finds_the_open_window_and_the_current_hour_ladders(
    client: KalshiRestClient, stub: KalshiStub
) -> None:
    _load_btc_world(stub)

    now_ns = int(datetime(2026, 6, 1, 7, 40, tzinfo=UTC).timestamp()) * 10**9
    found = await discover_btc(client, now_ns)

    spec = found.btc15m
    assert spec is not None
    assert spec.ticker == "KXBTC15M-26JUN010345-45" and spec.series_ticker == "KXBTC15M"
    assert spec.floor_strike == Decimal("72901.1") and spec.strike_type == "greater_or_equal"
    assert spec.exchange_index == 2 and spec.is_open_at(now_ns)
    assert spec.grid.is_valid(Price(50)) and not spec.grid.is_valid(Price(5050))
    assert spec.fees.fee_type == "quadratic" and spec.fees.multiplier == 1

    assert [s.ticker for s in found.above_below] == [
        "KXBTCD-26JUN0104-T114999.99",
        "KXBTCD-26JUN0104-T115249.99",
        "KXBTCD-26JUN0104-T115499.99",
    ]
    assert found.above_below[0].floor_strike == Decimal("114999.99")
    assert found.above_below[0].fees.multiplier == Fraction(1, 2)  # the event's override wins
    assert [s.ticker for s in found.ranges] == ["KXBTC-26JUN0104-T67999.99", "KXBTC-26JUN0104-B68200"]
    assert found.ranges[1].cap_strike == Decimal("68299.99")
    events_calls = stub.calls("GET", "/events")
    assert all(
        ("status", "open") in c.query and ("with_nested_markets", "true") in c.query for c in events_calls
    )


# --------------------------------------------------------------------------------------------------
# Rate limiting


async def test_token_bucket_waits_on_the_injected_clock() -> None:
    clock = ManualClock()
    bucket = TokenBucket(capacity=100, refill_rate=100, clock=clock)
    assert await bucket.acquire(100) == 0
    waiter = asyncio.create_task(bucket.acquire(50))
    await asyncio.sleep(0)
    assert not waiter.done()
    await clock.run_for(0.6, step=0.1)
    assert waiter.done() and 0.49 <= waiter.result() <= 0.6
    with pytest.raises(BucketTooSmallError):
        await bucket.acquire(101)
    bucket.drain()
    assert not bucket.try_acquire(1)


def test_endpoint_costs_match_templates(fixtures_dir: Path) -> None:
    costs = decode((fixtures_dir / "account__endpoint_costs.json").read_bytes(), EndpointCosts, "costs")
    table = EndpointCostTable.from_wire(costs)
    assert table.cost("DELETE", "/trade-api/v2/portfolio/events/orders/abc-123") == 2
    assert table.cost("DELETE", "/trade-api/v2/portfolio/events/orders/batched") == 2
    assert table.cost("GET", "/trade-api/v2/portfolio/orders/abc") == 2
    assert table.cost("GET", "/trade-api/v2/portfolio/orders") == 10
    assert table.cost("POST", "/trade-api/v2/portfolio/events/orders") == 10
    assert table.cost("POST", "/trade-api/v2/portfolio/orders/batched") == 20
    assert table.cost("GET", "/trade-api/v2/cfbenchmarks/v1/values?id=BRTI") == 150
    # Asked again (the order path asks on every order): the same answers, from what was looked up.
    assert table.cost("POST", "/trade-api/v2/portfolio/events/orders") == 10
    assert table.cost("get", "/trade-api/v2/portfolio/orders/abc") == 2
    assert table.cost("GET", "/trade-api/v2/portfolio/orders/abc") == 2
    limiter = RateLimiter(ManualClock(), costs=table)
    assert limiter.bucket_for("POST", "/trade-api/v2/portfolio/events/orders") is limiter.write
    assert limiter.bucket_for("GET", "/trade-api/v2/portfolio/orders") is limiter.read
    assert limiter.cost("DELETE", "/trade-api/v2/portfolio/events/orders/batched", items=20) == 40


async def test_batches_are_chunked_to_fit_the_write_bucket(
    client: KalshiRestClient, stub: KalshiStub, private_key: rsa.RSAPrivateKey
) -> None:
    configured = await client.configure_rate_limits()  # demo Basic: write bucket 100, create costs 10
    assert (configured.write.capacity, configured.write.refill_rate) == (100, 100)
    # Same capacity and costs, but a refill fast enough that the test never waits in real time.
    limiter = RateLimiter(SystemClock(), write_capacity=100, write_refill=10**6, costs=configured.costs)
    async with make_client(stub, private_key, rate_limiter=limiter) as c:
        await c.batch_create_orders([bid(f"chunk-{i}") for i in range(25)])
    sizes = [len(b.body["orders"]) for b in stub.calls("POST", "/portfolio/events/orders/batched")]
    assert sizes == [10, 10, 5]


async def test_rate_limited_error_surfaces_after_retries(
    stub: KalshiStub, private_key: rsa.RSAPrivateKey
) -> None:
    stub.inject("POST", "/portfolio/events/orders", "429", times=5)
    async with make_client(stub, private_key, max_retries=1) as c:
        with pytest.raises(RateLimitedError):
            await c.create_order(bid("always-429"))


# --------------------------------------------------------------------------------------------------
# Against the simulator (kxbtc.sim), with injected 429s, 5xx and lost order-entry responses


async def test_orders_are_placed_exactly_once_against_the_faulty_simulator() -> None:
    from kxbtc.clock import NS_PER_S, ScaledClock
    from kxbtc.sim.exchange import Exchange
    from kxbtc.sim.faults import FaultSpec
    from kxbtc.sim.harness import SimHarness
    from kxbtc.sim.server import ServerConfig

    config = ServerConfig(faults=FaultSpec(http_429=0.2, http_5xx=0.1, lose_response=0.3), fault_seed=7)
    # The market's clock starts at a fixed 12:10 UTC (signatures still use real time): at the real top of
    # an hour the ladder found would otherwise close, cancelling the orders, halfway through the test.
    market_clock = ScaledClock(1.0, start_ns=(1_780_315_200 + 600) * NS_PER_S)
    async with (
        SimHarness(Exchange(market_clock), config=config) as sim,
        KalshiRestClient(
            sim.rest_url,
            sim.signer(),
            SystemClock(),
            backoff_base_s=0.002,
            max_retries=8,
            lookup_delay_s=0.005,
        ) as c,
    ):
        # An hourly market: a 15-minute window could close during the test.
        ladder = await discover_ladder(c, "KXBTCD", market_clock.time_ns())
        assert ladder
        spec = ladder[len(ladder) // 2]
        assert spec.exchange_index is not None
        placed = []
        for i in range(20):
            request = order_request(
                ticker=spec.ticker,
                client_order_id=client_order_id("sim-test", time.time_ns(), i),
                side="bid",
                price=Price(100 + 100 * (i % 10)),
                count=Count(100),
                time_in_force="good_till_canceled",
                exchange_index=spec.exchange_index,
            )
            placed.append(await c.create_order(request))
        resting = [o async for o in c.iter_orders(ticker=spec.ticker, status="resting")]
        assert sorted(o.order_id for o in resting) == sorted(p.order_id for p in placed)  # no duplicates
        assert any(p.resolved_by_lookup for p in placed)
        for order in resting:
            await c.cancel_order(
                order.order_id,
                market_ticker=spec.ticker,
                exchange_index=spec.exchange_index,
                not_found_ok=True,
            )
        assert [o async for o in c.iter_orders(ticker=spec.ticker, status="resting")] == []
