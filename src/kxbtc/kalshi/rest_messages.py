"""Typed Kalshi REST bodies (msgspec): the responses we read and the requests we send.

Prices and counts stay as the exchange's wire strings (``"0.5600"``, ``"10.00"``) and are turned into
``kxbtc.units`` integers by small helpers, exactly once, where they are used. Unknown fields are ignored
(the API adds fields often); a missing required field or a wrong JSON type raises ``ProtocolError``
naming the endpoint. Optional fields accept both a missing key and an explicit ``null`` (errata item 6).
Timestamps are RFC 3339 strings with 0-9 fractional digits (errata items 3 and 5): ``parse_rfc3339_ns``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal, TypeVar

import msgspec

from kxbtc.errors import ProtocolError
from kxbtc.units import (
    Count,
    Money,
    Price,
    PriceGrid,
    format_count,
    format_price,
    parse_count,
    parse_money,
    parse_price,
)

# --------------------------------------------------------------------------------------------------
# Decoding and small conversions

T = TypeVar("T")

_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|z|[+-]\d{2}:\d{2})$"
)


def parse_rfc3339_ns(text: str) -> int:
    """Unix time in integer nanoseconds from an RFC 3339 timestamp with 0-9 fractional digits."""
    m = _RFC3339.match(text)
    if m is None:
        raise ProtocolError(f"not an RFC 3339 timestamp: {text!r}")
    year, month, day, hour, minute, second, frac, zone = m.groups()
    try:
        dt = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), tzinfo=UTC)
    except ValueError as exc:
        raise ProtocolError(f"not a valid timestamp: {text!r} ({exc})") from None
    offset_s = 0
    if zone not in ("Z", "z"):
        sign = -1 if zone[0] == "-" else 1
        offset_s = sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    whole_s = int(dt.timestamp()) - offset_s
    nanos = int(frac.ljust(9, "0")) if frac else 0
    return whole_s * 1_000_000_000 + nanos


def decode(body: bytes | str, kind: type[T], endpoint: str) -> T:
    """Decode a response body into ``kind``; a shape problem is a ``ProtocolError`` naming the endpoint."""
    try:
        return msgspec.json.decode(body, type=kind)
    except msgspec.ValidationError as exc:
        raise ProtocolError(f"{endpoint}: response does not match {kind.__name__}: {exc}") from None
    except msgspec.DecodeError as exc:
        raise ProtocolError(f"{endpoint}: response is not JSON: {exc}") from None


def encode(request: Any) -> bytes:
    return msgspec.json.encode(request)


def _opt_price(text: str | None, field: str) -> Price | None:
    return None if text is None or text == "" else parse_price(text, field)


def _opt_count(text: str | None, field: str) -> Count | None:
    return None if text is None or text == "" else parse_count(text, field)


class _Wire(msgspec.Struct, kw_only=True):
    """Base for response bodies: keyword construction, unknown fields ignored."""


# A book level on the wire: ["0.4700", "3.00"].
WireLevel = tuple[str, str]
BookSide = Literal["bid", "ask"]
TimeInForce = Literal["fill_or_kill", "good_till_canceled", "immediate_or_cancel"]
SelfTradePrevention = Literal["taker_at_cross", "maker"]


# --------------------------------------------------------------------------------------------------
# Exchange


class ExchangeIndexStatus(_Wire):
    exchange_index: int
    exchange_active: bool
    trading_active: bool
    description: str = ""
    intra_exchange_transfers_active: bool | None = None


class ExchangeStatus(_Wire):
    """``GET /exchange/status``. Top-level flags describe shard 0; per-shard flags in the list."""

    exchange_active: bool
    trading_active: bool
    intra_exchange_transfers_active: bool | None = None
    exchange_estimated_resume_time: str | None = None
    exchange_index_statuses: list[ExchangeIndexStatus] | None = None

    def shard(self, exchange_index: int) -> ExchangeIndexStatus | None:
        for status in self.exchange_index_statuses or ():
            if status.exchange_index == exchange_index:
                return status
        return None


class UserDataTimestamp(_Wire):
    as_of_time: str


# --------------------------------------------------------------------------------------------------
# Series and events


class SettlementSource(_Wire):
    name: str = ""
    url: str = ""


class Series(_Wire):
    ticker: str
    fee_type: str
    # A JSON number on the wire; Decimal keeps e.g. 0.35 exact.
    fee_multiplier: Decimal
    title: str = ""
    frequency: str = ""
    category: str = ""
    tags: list[str] | None = None
    settlement_sources: list[SettlementSource] | None = None
    contract_url: str = ""
    contract_terms_url: str = ""
    additional_prohibitions: list[str] | None = None
    volume_fp: str | None = None
    last_updated_ts: str | None = None
    exchange_index: int | None = None


class SeriesResponse(_Wire):
    series: Series


class SeriesList(_Wire):
    series: list[Series] | None = None


class SeriesFeeChange(_Wire):
    id: str
    series_ticker: str
    fee_type: str
    fee_multiplier: Decimal
    scheduled_ts: str


class SeriesFeeChanges(_Wire):
    series_fee_change_arr: list[SeriesFeeChange] | None = None


class EventFeeChange(_Wire):
    id: str
    event_ticker: str
    series_ticker: str
    scheduled_ts: str
    fee_type_override: str | None = None
    fee_multiplier_override: Decimal | None = None


class EventFeeChanges(_Wire):
    event_fee_changes: list[EventFeeChange] | None = None
    cursor: str | None = None


# --------------------------------------------------------------------------------------------------
# Markets


class PriceRangeWire(_Wire):
    start: str
    end: str
    step: str


class Market(_Wire):
    """A market as ``GET /markets`` and ``GET /markets/{ticker}`` return it (only what we use is required)."""

    ticker: str
    event_ticker: str
    status: str
    open_time: str
    close_time: str
    price_ranges: list[PriceRangeWire]
    market_type: str = "binary"
    yes_sub_title: str = ""
    no_sub_title: str = ""
    title: str = ""
    created_time: str | None = None
    updated_time: str | None = None
    expected_expiration_time: str | None = None
    expiration_time: str | None = None
    latest_expiration_time: str | None = None
    settlement_timer_seconds: int | None = None
    yes_bid_dollars: str | None = None
    yes_bid_size_fp: str | None = None
    yes_ask_dollars: str | None = None
    yes_ask_size_fp: str | None = None
    no_bid_dollars: str | None = None
    no_ask_dollars: str | None = None
    last_price_dollars: str | None = None
    previous_yes_bid_dollars: str | None = None
    previous_yes_ask_dollars: str | None = None
    previous_price_dollars: str | None = None
    volume_fp: str | None = None
    volume_24h_fp: str | None = None
    open_interest_fp: str | None = None
    notional_value_dollars: str | None = None
    result: str = ""
    can_close_early: bool | None = None
    expiration_value: str | None = None
    settlement_value_dollars: str | None = None
    settlement_ts: str | None = None
    strike_type: str | None = None
    # JSON numbers; Decimal keeps 114999.99 exact (never a float for a strike).
    floor_strike: Decimal | None = None
    cap_strike: Decimal | None = None
    functional_strike: str | None = None
    custom_strike: dict[str, Any] | None = None
    rules_primary: str = ""
    rules_secondary: str = ""
    price_level_structure: str = ""
    is_provisional: bool | None = None
    exchange_index: int | None = None

    def grid(self) -> PriceGrid:
        return PriceGrid.from_wire(
            [{"start": r.start, "end": r.end, "step": r.step} for r in self.price_ranges]
        )

    @property
    def yes_bid(self) -> Price | None:
        return _opt_price(self.yes_bid_dollars, "yes_bid_dollars")

    @property
    def yes_ask(self) -> Price | None:
        return _opt_price(self.yes_ask_dollars, "yes_ask_dollars")

    @property
    def open_time_ns(self) -> int:
        return parse_rfc3339_ns(self.open_time)

    @property
    def close_time_ns(self) -> int:
        return parse_rfc3339_ns(self.close_time)


class MarketResponse(_Wire):
    market: Market


class MarketsPage(_Wire):
    markets: list[Market] | None = None
    cursor: str | None = None


class Event(_Wire):
    """``EventData``: an event with, when asked for, its nested markets."""

    event_ticker: str
    series_ticker: str
    title: str = ""
    sub_title: str = ""
    collateral_return_type: str = ""
    mutually_exclusive: bool = False
    category: str | None = None
    strike_date: str | None = None
    strike_period: str | None = None
    markets: list[Market] | None = None
    settlement_sources: list[SettlementSource] | None = None
    last_updated_ts: str | None = None
    fee_type_override: str | None = None
    fee_multiplier_override: Decimal | None = None
    exchange_index: int | None = None


class EventsPage(_Wire):
    events: list[Event] | None = None
    cursor: str | None = None


class EventResponse(_Wire):
    event: Event
    # Deprecated top-level copy of the event's markets; still sent.
    markets: list[Market] | None = None


# --------------------------------------------------------------------------------------------------
# Order books, trades, candlesticks


class OrderbookFp(_Wire):
    """Bids only, per leg: ``no_dollars`` prices are NO-leg prices. Never rely on array order."""

    yes_dollars: list[WireLevel] | None = None
    no_dollars: list[WireLevel] | None = None

    def yes_levels(self) -> list[tuple[Price, Count]]:
        return _levels(self.yes_dollars, "yes_dollars")

    def no_levels(self) -> list[tuple[Price, Count]]:
        return _levels(self.no_dollars, "no_dollars")


def _levels(raw: list[WireLevel] | None, field: str) -> list[tuple[Price, Count]]:
    return [(parse_price(p, field), parse_count(c, field)) for p, c in raw or ()]


class OrderbookResponse(_Wire):
    # An older empty-book capture had no ``orderbook_fp`` at all; treat absent as empty.
    orderbook_fp: OrderbookFp = msgspec.field(default_factory=OrderbookFp)


class MarketOrderbook(_Wire):
    ticker: str
    orderbook_fp: OrderbookFp = msgspec.field(default_factory=OrderbookFp)


class OrderbooksResponse(_Wire):
    orderbooks: list[MarketOrderbook] | None = None


class Trade(_Wire):
    trade_id: str
    ticker: str
    count_fp: str
    yes_price_dollars: str
    no_price_dollars: str
    created_time: str
    taker_outcome_side: str | None = None
    taker_book_side: str | None = None
    taker_side: str | None = None
    is_block_trade: bool | None = None

    @property
    def count(self) -> Count:
        return parse_count(self.count_fp, "count_fp")

    @property
    def yes_price(self) -> Price:
        return parse_price(self.yes_price_dollars, "yes_price_dollars")


class TradesPage(_Wire):
    trades: list[Trade] | None = None
    cursor: str | None = None


class BidAskDistribution(_Wire):
    open_dollars: str | None = None
    low_dollars: str | None = None
    high_dollars: str | None = None
    close_dollars: str | None = None


class PriceDistribution(_Wire):
    """Nullable everywhere: a period without trades has no prices."""

    open_dollars: str | None = None
    low_dollars: str | None = None
    high_dollars: str | None = None
    close_dollars: str | None = None
    mean_dollars: str | None = None
    previous_dollars: str | None = None
    min_dollars: str | None = None
    max_dollars: str | None = None


class Candlestick(_Wire):
    end_period_ts: int
    yes_bid: BidAskDistribution | None = None
    yes_ask: BidAskDistribution | None = None
    price: PriceDistribution | None = None
    volume_fp: str | None = None
    open_interest_fp: str | None = None


class CandlesticksResponse(_Wire):
    ticker: str = ""
    candlesticks: list[Candlestick] | None = None


class MarketCandlesticks(_Wire):
    market_ticker: str
    candlesticks: list[Candlestick] | None = None


class BatchCandlesticksResponse(_Wire):
    markets: list[MarketCandlesticks] | None = None


# --------------------------------------------------------------------------------------------------
# Portfolio


class IndexedBalance(_Wire):
    exchange_index: int
    balance: str

    @property
    def money(self) -> Money:
        return parse_money(self.balance, "balance_breakdown.balance")


class Balance(_Wire):
    """``balance`` and ``portfolio_value`` are truncated integer cents; ``balance_dollars`` has 4 places."""

    balance: int
    balance_dollars: str | None = None
    portfolio_value: int | None = None
    updated_ts: int | None = None
    balance_breakdown: list[IndexedBalance] | None = None

    @property
    def money(self) -> Money:
        if self.balance_dollars is None:
            return Money(self.balance * 10_000)
        return parse_money(self.balance_dollars, "balance_dollars")

    def shard_money(self, exchange_index: int) -> Money | None:
        for item in self.balance_breakdown or ():
            if item.exchange_index == exchange_index:
                return item.money
        return None


class MarketPosition(_Wire):
    """``position_fp`` > 0 is long YES, < 0 long NO."""

    ticker: str
    position_fp: str
    total_traded_dollars: str | None = None
    market_exposure_dollars: str | None = None
    realized_pnl_dollars: str | None = None
    fees_paid_dollars: str | None = None
    last_updated_ts: str | None = None
    resting_orders_count: int | None = None
    exchange_index: int | None = None

    @property
    def position(self) -> Count:
        return parse_count(self.position_fp, "position_fp")


class EventPosition(_Wire):
    event_ticker: str
    total_cost_dollars: str | None = None
    total_cost_shares_fp: str | None = None
    event_exposure_dollars: str | None = None
    realized_pnl_dollars: str | None = None
    fees_paid_dollars: str | None = None


class PositionsPage(_Wire):
    market_positions: list[MarketPosition] | None = None
    event_positions: list[EventPosition] | None = None
    cursor: str | None = None


class Fill(_Wire):
    fill_id: str
    order_id: str
    ticker: str
    count_fp: str
    yes_price_dollars: str
    no_price_dollars: str
    is_taker: bool
    fee_cost: str
    trade_id: str | None = None
    market_ticker: str | None = None
    outcome_side: str | None = None
    book_side: str | None = None
    side: str | None = None
    action: str | None = None
    created_time: str | None = None
    ts: int | None = None
    subaccount_number: int | None = None
    exchange_index: int | None = None

    @property
    def count(self) -> Count:
        return parse_count(self.count_fp, "count_fp")

    @property
    def yes_price(self) -> Price:
        return parse_price(self.yes_price_dollars, "yes_price_dollars")

    @property
    def fee(self) -> Money:
        return parse_money(self.fee_cost, "fee_cost")


class FillsPage(_Wire):
    fills: list[Fill] | None = None
    cursor: str | None = None


class Order(_Wire):
    """An order as ``GET /portfolio/orders[/{id}]`` (and the legacy write endpoints) return it.

    ``yes_price_dollars`` is the limit price on the YES leg; direction is ``book_side`` (bid = buy YES).
    """

    order_id: str
    ticker: str
    status: str
    yes_price_dollars: str
    fill_count_fp: str
    remaining_count_fp: str
    client_order_id: str = ""
    user_id: str = ""
    outcome_side: str | None = None
    book_side: str | None = None
    side: str | None = None
    action: str | None = None
    type: str | None = None
    no_price_dollars: str | None = None
    initial_count_fp: str | None = None
    taker_fill_cost_dollars: str | None = None
    maker_fill_cost_dollars: str | None = None
    taker_fees_dollars: str | None = None
    maker_fees_dollars: str | None = None
    expiration_time: str | None = None
    created_time: str | None = None
    last_update_time: str | None = None
    last_update_reason: str | None = None
    self_trade_prevention_type: str | None = None
    order_group_id: str | None = None
    cancel_order_on_pause: bool | None = None
    subaccount_number: int | None = None
    exchange_index: int | None = None

    @property
    def yes_price(self) -> Price:
        return parse_price(self.yes_price_dollars, "yes_price_dollars")

    @property
    def fill_count(self) -> Count:
        return parse_count(self.fill_count_fp, "fill_count_fp")

    @property
    def remaining_count(self) -> Count:
        return parse_count(self.remaining_count_fp, "remaining_count_fp")


class OrdersPage(_Wire):
    orders: list[Order] | None = None
    cursor: str | None = None


class OrderResponse(_Wire):
    order: Order


class Settlement(_Wire):
    """``revenue`` and ``value`` are integer cents ($1 = 100 per winning contract)."""

    ticker: str
    market_result: str
    settled_time: str
    revenue: int
    event_ticker: str = ""
    yes_count_fp: str | None = None
    yes_total_cost_dollars: str | None = None
    no_count_fp: str | None = None
    no_total_cost_dollars: str | None = None
    fee_cost: str | None = None
    value: int | None = None
    exchange_index: int | None = None


class SettlementsPage(_Wire):
    settlements: list[Settlement] | None = None
    cursor: str | None = None


class QueuePosition(_Wire):
    order_id: str
    market_ticker: str
    queue_position_fp: str


class QueuePositions(_Wire):
    queue_positions: list[QueuePosition] | None = None


# --------------------------------------------------------------------------------------------------
# Account: rate limits and endpoint costs


class BucketLimit(_Wire):
    bucket_capacity: int
    refill_rate: int


class ApiUsageLevelGrant(_Wire):
    exchange_instance: str
    level: str
    source: str = ""
    expires_ts: int | None = None


class AccountLimits(_Wire):
    read: BucketLimit
    write: BucketLimit
    usage_tier: str = ""
    grants: list[ApiUsageLevelGrant] | None = None


class EndpointCost(_Wire):
    method: str
    path: str
    cost: int


class EndpointCosts(_Wire):
    default_cost: int
    endpoint_costs: list[EndpointCost] | None = None


# --------------------------------------------------------------------------------------------------
# Intra-exchange (shard) transfers


class TransferRequest(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Body of ``POST /portfolio/intra_exchange_instance_transfer``; ``amount`` is in centicents."""

    source: str
    destination: str
    amount: int
    source_exchange_shard: int | None = None
    destination_exchange_shard: int | None = None
    source_subaccount: int | None = None
    destination_subaccount: int | None = None


class TransferCreated(_Wire):
    transfer_id: str


class Transfer(_Wire):
    """A transfer record: here ``amount`` is a dollar string (unlike the request's centicents)."""

    transfer_id: str
    amount: str
    status: str
    source: str = ""
    destination: str = ""
    source_exchange_shard: int | None = None
    destination_exchange_shard: int | None = None
    created_ts: int | None = None

    @property
    def money(self) -> Money:
        return parse_money(self.amount, "amount")


class TransfersPage(_Wire):
    transfers: list[Transfer] | None = None
    # Omitted on the last page (errata item 7).
    cursor: str | None = None


class TransferResponse(_Wire):
    transfer: Transfer


def money_to_centicents(amount: int) -> int:
    """Money (1e-6 $) to the transfer request's centicents (1e-4 $); refuses to round."""
    if amount % 100:
        raise ValueError(f"{amount} micro-dollars is not a whole number of centicents")
    return amount // 100


# --------------------------------------------------------------------------------------------------
# V2 order entry


class WireError(_Wire):
    """A flat ``ErrorResponse``, as carried in batch items' ``error``."""

    code: str = ""
    message: str = ""
    details: str | None = None


class CreateOrderRequest(msgspec.Struct, kw_only=True, omit_defaults=True):
    """``CreateOrderV2Request``. ``count`` and ``price`` MUST be strings: the server rejects numbers."""

    ticker: str
    client_order_id: str
    side: BookSide
    count: str
    price: str
    time_in_force: TimeInForce
    # Required by V2; no default so omit_defaults can never drop it.
    self_trade_prevention_type: SelfTradePrevention
    expiration_time: int | None = None
    post_only: bool | None = None
    reduce_only: bool | None = None
    cancel_order_on_pause: bool | None = None
    subaccount: int | None = None
    order_group_id: str | None = None
    exchange_index: int | None = None


def order_request(
    *,
    ticker: str,
    client_order_id: str,
    side: BookSide,
    price: Price,
    count: Count,
    time_in_force: TimeInForce,
    self_trade_prevention_type: SelfTradePrevention = "taker_at_cross",
    exchange_index: int | None = None,
    post_only: bool | None = None,
    reduce_only: bool | None = None,
    expiration_time: int | None = None,
    cancel_order_on_pause: bool | None = None,
    subaccount: int | None = None,
    order_group_id: str | None = None,
) -> CreateOrderRequest:
    """Build a V2 create request from fixed-point ints; ``side`` is on the YES leg (ask = buy NO)."""
    if not client_order_id:
        raise ValueError("every order needs a client_order_id")
    if count <= 0:
        raise ValueError(f"count must be positive, got {count}")
    if not 0 < price < 10_000:
        raise ValueError(f"price must be strictly between 0 and 1, got {price}")
    return CreateOrderRequest(
        ticker=ticker,
        client_order_id=client_order_id,
        side=side,
        count=format_count(count),
        price=format_price(price),
        time_in_force=time_in_force,
        self_trade_prevention_type=self_trade_prevention_type,
        expiration_time=expiration_time,
        post_only=post_only,
        reduce_only=reduce_only,
        cancel_order_on_pause=cancel_order_on_pause,
        subaccount=subaccount,
        order_group_id=order_group_id,
        exchange_index=exchange_index,
    )


class CreateOrderResult(_Wire):
    """V2 create response (201). ``average_*`` only when something filled.

    ``resolved_by_lookup`` is ours, not the wire's: True when a retried create hit 409
    ``order_already_exists`` and the order was found by its client_order_id instead.
    """

    order_id: str
    fill_count: str
    remaining_count: str
    ts_ms: int | None = None
    client_order_id: str | None = None
    average_fill_price: str | None = None
    average_fee_paid: str | None = None
    resolved_by_lookup: bool = False

    @property
    def filled(self) -> Count:
        return parse_count(self.fill_count, "fill_count")

    @property
    def remaining(self) -> Count:
        return parse_count(self.remaining_count, "remaining_count")

    @property
    def average_price(self) -> Price | None:
        return _opt_price(self.average_fill_price, "average_fill_price")


class CancelOrderResult(_Wire):
    """V2 cancel response. The wire omits ``client_order_id`` even when the order had one."""

    order_id: str
    reduced_by: str
    ts_ms: int | None = None
    client_order_id: str | None = None

    @property
    def reduced(self) -> Count:
        return parse_count(self.reduced_by, "reduced_by")


class AmendOrderRequest(msgspec.Struct, kw_only=True, omit_defaults=True):
    """``count`` is the NEW TOTAL (filled so far + desired remaining), as a string."""

    ticker: str
    side: BookSide
    price: str
    count: str
    client_order_id: str | None = None
    updated_client_order_id: str | None = None
    exchange_index: int | None = None


class AmendOrderResult(_Wire):
    order_id: str
    ts_ms: int | None = None
    client_order_id: str | None = None
    remaining_count: str | None = None
    fill_count: str | None = None
    average_fill_price: str | None = None
    average_fee_paid: str | None = None

    @property
    def remaining(self) -> Count | None:
        return _opt_count(self.remaining_count, "remaining_count")


class DecreaseOrderRequest(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Exactly one of ``reduce_by`` / ``reduce_to`` (count strings)."""

    reduce_by: str | None = None
    reduce_to: str | None = None
    exchange_index: int | None = None
    market_ticker: str | None = None


class DecreaseOrderResult(_Wire):
    order_id: str
    remaining_count: str
    ts_ms: int | None = None
    client_order_id: str | None = None


class BatchCreateRequest(msgspec.Struct, kw_only=True):
    orders: list[CreateOrderRequest]


class BatchCreateItem(_Wire):
    """One item of a batched create: either the create result fields or ``error``."""

    order_id: str | None = None
    client_order_id: str | None = None
    fill_count: str | None = None
    remaining_count: str | None = None
    average_fill_price: str | None = None
    average_fee_paid: str | None = None
    ts_ms: int | None = None
    error: WireError | None = None
    resolved_by_lookup: bool = False


class BatchCreateResult(_Wire):
    orders: list[BatchCreateItem]


class CancelRequestItem(msgspec.Struct, kw_only=True, omit_defaults=True):
    order_id: str
    market_ticker: str | None = None
    exchange_index: int | None = None
    subaccount: int | None = None


class BatchCancelRequest(msgspec.Struct, kw_only=True):
    orders: list[CancelRequestItem]


class BatchCancelItem(_Wire):
    order_id: str
    reduced_by: str = "0"
    client_order_id: str | None = None
    ts_ms: int | None = None
    error: WireError | None = None


class BatchCancelResult(_Wire):
    orders: list[BatchCancelItem]


# --------------------------------------------------------------------------------------------------
# Legacy order endpoints (deprecated; for reading old recordings and old servers)


class LegacyOrderResponse(_Wire):
    """Legacy create and decrease: ``{"order": Order}``."""

    order: Order


class LegacyCancelResponse(_Wire):
    order: Order
    reduced_by_fp: str | None = None


class LegacyAmendResponse(_Wire):
    old_order: Order
    order: Order


class LegacyBatchCreateItem(_Wire):
    client_order_id: str | None = None
    order: Order | None = None
    error: WireError | None = None


class LegacyBatchCreateResponse(_Wire):
    orders: list[LegacyBatchCreateItem]


class LegacyBatchCancelItem(_Wire):
    order_id: str
    reduced_by_fp: str | None = None
    order: Order | None = None
    error: WireError | None = None


class LegacyBatchCancelResponse(_Wire):
    orders: list[LegacyBatchCancelItem]


# --------------------------------------------------------------------------------------------------
# Which struct each endpoint answers with (the fixture test and the stub server use this table)

#: (METHOD, path template relative to /trade-api/v2) -> success body type. ``{x}`` matches one segment.
RESPONSE_TYPES: dict[tuple[str, str], type[Any]] = {
    ("GET", "/exchange/status"): ExchangeStatus,
    ("GET", "/exchange/user_data_timestamp"): UserDataTimestamp,
    ("GET", "/series"): SeriesList,
    ("GET", "/series/fee_changes"): SeriesFeeChanges,
    ("GET", "/series/{series_ticker}"): SeriesResponse,
    ("GET", "/events/fee_changes"): EventFeeChanges,
    ("GET", "/events"): EventsPage,
    ("GET", "/events/{event_ticker}"): EventResponse,
    ("GET", "/markets"): MarketsPage,
    ("GET", "/markets/trades"): TradesPage,
    ("GET", "/markets/orderbooks"): OrderbooksResponse,
    ("GET", "/markets/candlesticks"): BatchCandlesticksResponse,
    ("GET", "/markets/{ticker}"): MarketResponse,
    ("GET", "/markets/{ticker}/orderbook"): OrderbookResponse,
    ("GET", "/series/{series_ticker}/markets/{ticker}/candlesticks"): CandlesticksResponse,
    ("GET", "/portfolio/balance"): Balance,
    ("GET", "/portfolio/positions"): PositionsPage,
    ("GET", "/portfolio/fills"): FillsPage,
    ("GET", "/portfolio/orders"): OrdersPage,
    ("GET", "/portfolio/orders/queue_positions"): QueuePositions,
    ("GET", "/portfolio/orders/{order_id}"): OrderResponse,
    ("GET", "/portfolio/settlements"): SettlementsPage,
    ("GET", "/account/limits"): AccountLimits,
    ("GET", "/account/endpoint_costs"): EndpointCosts,
    ("POST", "/portfolio/intra_exchange_instance_transfer"): TransferCreated,
    ("GET", "/portfolio/intra_exchange_instance_transfers"): TransfersPage,
    ("GET", "/portfolio/intra_exchange_instance_transfers/{transfer_id}"): TransferResponse,
    ("POST", "/portfolio/events/orders"): CreateOrderResult,
    ("POST", "/portfolio/events/orders/batched"): BatchCreateResult,
    ("DELETE", "/portfolio/events/orders/batched"): BatchCancelResult,
    ("DELETE", "/portfolio/events/orders/{order_id}"): CancelOrderResult,
    ("POST", "/portfolio/events/orders/{order_id}/amend"): AmendOrderResult,
    ("POST", "/portfolio/events/orders/{order_id}/decrease"): DecreaseOrderResult,
    ("POST", "/portfolio/orders"): LegacyOrderResponse,
    ("POST", "/portfolio/orders/batched"): LegacyBatchCreateResponse,
    ("DELETE", "/portfolio/orders/batched"): LegacyBatchCancelResponse,
    ("DELETE", "/portfolio/orders/{order_id}"): LegacyCancelResponse,
    ("POST", "/portfolio/orders/{order_id}/amend"): LegacyAmendResponse,
    ("POST", "/portfolio/orders/{order_id}/decrease"): LegacyOrderResponse,
}


def response_type_for(method: str, path: str) -> type[Any] | None:
    """The success body type for a request path relative to /trade-api/v2 (query ignored), or None.

    Literal segments win over ``{placeholders}`` (``/markets/trades`` is not ``/markets/{ticker}``).
    """
    parts = path.split("?", 1)[0].rstrip("/").split("/")
    best: tuple[int, type[Any]] | None = None
    for (m, template), kind in RESPONSE_TYPES.items():
        if m != method.upper():
            continue
        tparts = template.split("/")
        if len(tparts) != len(parts):
            continue
        literal = 0
        for t, p in zip(tparts, parts, strict=True):
            if t.startswith("{"):
                continue
            if t != p:
                break
            literal += 1
        else:
            if best is None or literal > best[0]:
                best = (literal, kind)
    return None if best is None else best[1]


__all__ = [
    "AccountLimits",
    "Balance",
    "BatchCancelResult",
    "BatchCreateResult",
    "CancelOrderResult",
    "CreateOrderRequest",
    "CreateOrderResult",
    "Event",
    "ExchangeStatus",
    "Fill",
    "Market",
    "Order",
    "Series",
    "decode",
    "order_request",
    "parse_rfc3339_ns",
    "response_type_for",
]
