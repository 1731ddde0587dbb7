"""Typed decoding of Kalshi WebSocket frames (msgspec), and the encoders for client commands.

Every server frame is a JSON object tagged by ``type``. Unknown fields are ignored; a missing required
field or a wrong JSON type raises ``msgspec.ValidationError``, which ``decode_frame`` turns into a
``ProtocolError`` naming the frame type. Prices and counts stay as wire strings here and are converted
to fixed-point integers exactly once, by the consumer (the book, the store).

Shapes follow the AsyncAPI spec as corrected by the errata (Part 2): ``ts`` is an RFC 3339 string on
orderbook messages and integer seconds on ticker/trade/fill; deprecated fields (``ts``, ``side``,
``action``, ``is_yes`` ...) are optional so their removal cannot break decoding; lifecycle strikes and
fee multipliers are JSON numbers, decoded exactly as ``Decimal``.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import msgspec

from kxbtc.errors import ProtocolError

# A book level on the wire: ["0.4700", "3.00"].
WireLevel = tuple[str, str]


# ---------------------------------------------------------------------------------------------
# Orderbook (the hot path: keep these structs lean)


class OrderbookSnapshotBody(msgspec.Struct, frozen=True):
    market_ticker: str
    market_id: str = ""
    # A side key is absent when that side is empty (errata item 6: accept missing and null alike).
    yes_dollars_fp: list[WireLevel] | None = None
    no_dollars_fp: list[WireLevel] | None = None


class OrderbookDeltaBody(msgspec.Struct, frozen=True):
    market_ticker: str
    price_dollars: str
    delta_fp: str
    side: str
    market_id: str = ""
    client_order_id: str | None = None
    subaccount: int | None = None
    ts: str | None = None
    ts_ms: int | None = None


class OrderbookSnapshot(msgspec.Struct, frozen=True, tag="orderbook_snapshot", tag_field="type"):
    sid: int
    seq: int
    msg: OrderbookSnapshotBody


class OrderbookDelta(msgspec.Struct, frozen=True, tag="orderbook_delta", tag_field="type"):
    sid: int
    seq: int
    msg: OrderbookDeltaBody


# ---------------------------------------------------------------------------------------------
# Command responses


class SubscriptionInfo(msgspec.Struct, frozen=True):
    channel: str
    sid: int


class Subscribed(msgspec.Struct, frozen=True, tag="subscribed", tag_field="type"):
    """One per channel of a subscribe command, all echoing the command ``id``; ``sid`` sits in ``msg``."""

    msg: SubscriptionInfo
    id: int = 0


class OkBody(msgspec.Struct, frozen=True):
    market_tickers: list[str] | None = None
    market_ids: list[str] | None = None


class Ok(msgspec.Struct, frozen=True, tag="ok", tag_field="type"):
    """``ok`` has two shapes: ``msg`` is a list for ``list_subscriptions`` and an object (or absent,
    under ``skip_ticker_ack``) for ``update_subscription``, which also carries the sid's ``seq``."""

    id: int = 0
    sid: int | None = None
    seq: int | None = None
    msg: list[SubscriptionInfo] | OkBody | None = None

    @property
    def subscriptions(self) -> list[SubscriptionInfo] | None:
        """The ``list_subscriptions`` answer, or None for an ``update_subscription`` ack."""
        return self.msg if isinstance(self.msg, list) else None

    @property
    def market_tickers(self) -> list[str] | None:
        return self.msg.market_tickers if isinstance(self.msg, OkBody) else None


class Unsubscribed(msgspec.Struct, frozen=True, tag="unsubscribed", tag_field="type"):
    sid: int
    seq: int
    id: int = 0


class ErrorBody(msgspec.Struct, frozen=True):
    code: int
    msg: str
    market_ticker: str | None = None
    market_id: str | None = None


class ErrorMessage(msgspec.Struct, frozen=True, tag="error", tag_field="type"):
    msg: ErrorBody
    id: int = 0
    sid: int | None = None
    seq: int | None = None


#: Error codes after which the subscription is dead and must be made again (kalshi-api.md §7.3).
TERMINAL_ERROR_CODES = frozenset({10, 17, 25})


# ---------------------------------------------------------------------------------------------
# Market data


class TickerBody(msgspec.Struct, frozen=True):
    market_ticker: str
    price_dollars: str
    yes_bid_dollars: str
    yes_ask_dollars: str
    yes_bid_size_fp: str
    yes_ask_size_fp: str
    last_trade_size_fp: str
    volume_fp: str
    open_interest_fp: str
    ts_ms: int
    market_id: str = ""
    dollar_volume: int | None = None
    dollar_open_interest: int | None = None
    ts: int | None = None  # deprecated: integer seconds here (errata item 3)
    time: str | None = None  # deprecated


class Ticker(msgspec.Struct, frozen=True, tag="ticker", tag_field="type"):
    sid: int
    msg: TickerBody
    seq: int | None = None


class TradeBody(msgspec.Struct, frozen=True):
    trade_id: str
    market_ticker: str
    yes_price_dollars: str
    no_price_dollars: str
    count_fp: str
    taker_outcome_side: str
    taker_book_side: str
    ts_ms: int
    is_block_trade: bool = False
    taker_side: str | None = None  # deprecated
    ts: int | None = None  # deprecated


class Trade(msgspec.Struct, frozen=True, tag="trade", tag_field="type"):
    sid: int
    msg: TradeBody
    seq: int | None = None


# ---------------------------------------------------------------------------------------------
# Own activity


class FillBody(msgspec.Struct, frozen=True):
    """One of our fills. Prices are YES-leg whatever ``outcome_side``; there is no ``no_price_dollars``."""

    trade_id: str
    order_id: str
    market_ticker: str
    is_taker: bool
    yes_price_dollars: str
    count_fp: str
    fee_cost: str
    outcome_side: str
    book_side: str
    post_position_fp: str
    ts_ms: int
    exchange_index: int | None = None
    client_order_id: str | None = None
    subaccount: int | None = None
    side: str | None = None  # deprecated
    action: str | None = None  # deprecated
    purchased_side: str | None = None  # deprecated
    ts: int | None = None  # deprecated


class Fill(msgspec.Struct, frozen=True, tag="fill", tag_field="type"):
    sid: int
    msg: FillBody
    seq: int | None = None


class UserOrderBody(msgspec.Struct, frozen=True):
    order_id: str
    user_id: str
    ticker: str
    status: str  # resting | canceled | executed
    outcome_side: str
    book_side: str
    yes_price_dollars: str
    fill_count_fp: str
    remaining_count_fp: str
    initial_count_fp: str
    taker_fill_cost_dollars: str
    maker_fill_cost_dollars: str
    taker_fees_dollars: str
    maker_fees_dollars: str
    client_order_id: str
    created_ts_ms: int
    last_updated_ts_ms: int | None = None
    expiration_ts_ms: int | None = None
    order_group_id: str | None = None
    self_trade_prevention_type: str | None = None
    subaccount_number: int | None = None
    exchange_index: int | None = None
    last_update_reason: str | None = None
    side: str | None = None  # deprecated
    is_yes: bool | None = None  # deprecated
    created_time: str | None = None  # deprecated
    last_update_time: str | None = None  # deprecated
    expiration_time: str | None = None  # deprecated


class UserOrder(msgspec.Struct, frozen=True, tag="user_order", tag_field="type"):
    sid: int
    msg: UserOrderBody
    seq: int | None = None


class MarketPositionBody(msgspec.Struct, frozen=True):
    user_id: str
    market_ticker: str
    position_fp: str
    position_cost_dollars: str
    realized_pnl_dollars: str
    fees_paid_dollars: str
    position_fee_cost_dollars: str
    volume_fp: str
    subaccount: int | None = None


class MarketPosition(msgspec.Struct, frozen=True, tag="market_position", tag_field="type"):
    sid: int
    msg: MarketPositionBody
    seq: int | None = None


class OrderGroupUpdateBody(msgspec.Struct, frozen=True):
    event_type: str  # created | triggered | reset | deleted | limit_updated
    order_group_id: str
    ts_ms: int
    contracts_limit_fp: str | None = None


class OrderGroupUpdate(msgspec.Struct, frozen=True, tag="order_group_updates", tag_field="type"):
    sid: int
    seq: int
    msg: OrderGroupUpdateBody


# ---------------------------------------------------------------------------------------------
# Lifecycle


class WirePriceRange(msgspec.Struct, frozen=True):
    start: str
    end: str
    step: str

    def to_wire(self) -> dict[str, str]:
        """The ``price_ranges`` element as a dict, the shape ``PriceGrid.from_wire`` takes."""
        return {"start": self.start, "end": self.end, "step": self.step}


class MarketMetadata(msgspec.Struct, frozen=True):
    name: str | None = None
    title: str | None = None
    yes_sub_title: str | None = None
    no_sub_title: str | None = None
    rules_primary: str | None = None
    rules_secondary: str | None = None
    can_close_early: bool | None = None
    event_ticker: str | None = None
    expected_expiration_ts: int | None = None
    strike_type: str | None = None
    floor_strike: Decimal | None = None
    cap_strike: Decimal | None = None
    custom_strike: dict[str, Any] | None = None


LIFECYCLE_EVENT_TYPES = frozenset(
    {
        "created",
        "activated",
        "deactivated",
        "close_date_updated",
        "determined",
        "settled",
        "price_level_structure_updated",
        "metadata_updated",
    }
)


class MarketLifecycleBody(msgspec.Struct, frozen=True):
    """Which optional keys are present depends on ``event_type`` (kalshi-api.md §7.11)."""

    event_type: str
    market_ticker: str
    exchange_index: int | None = None
    open_ts: int | None = None
    close_ts: int | None = None
    result: str | None = None
    determination_ts: int | None = None
    settlement_value: str | None = None
    settled_ts: int | None = None
    is_deactivated: bool | None = None
    price_level_structure: str | None = None
    price_ranges: list[WirePriceRange] | None = None
    strike_type: str | None = None
    floor_strike: Decimal | None = None
    cap_strike: Decimal | None = None
    custom_strike: dict[str, Any] | None = None
    yes_sub_title: str | None = None
    additional_metadata: MarketMetadata | None = None

    def price_ranges_wire(self) -> list[dict[str, str]] | None:
        return None if self.price_ranges is None else [r.to_wire() for r in self.price_ranges]


class MarketLifecycle(msgspec.Struct, frozen=True, tag="market_lifecycle_v2", tag_field="type"):
    sid: int
    msg: MarketLifecycleBody
    seq: int | None = None


class EventLifecycleBody(msgspec.Struct, frozen=True):
    event_ticker: str
    exchange_index: int
    title: str
    subtitle: str
    collateral_return_type: str
    series_ticker: str
    strike_date: int | None = None
    strike_period: str | None = None


class EventLifecycle(msgspec.Struct, frozen=True, tag="event_lifecycle", tag_field="type"):
    sid: int
    msg: EventLifecycleBody
    seq: int | None = None


class EventFeeUpdateBody(msgspec.Struct, frozen=True):
    event_ticker: str
    # Both keys are required and null when the override was cleared.
    fee_type_override: str | None
    fee_multiplier_override: Decimal | None


class EventFeeUpdate(msgspec.Struct, frozen=True, tag="event_fee_update", tag_field="type"):
    sid: int
    msg: EventFeeUpdateBody
    seq: int | None = None


# ---------------------------------------------------------------------------------------------
# CF Benchmarks (BRTI, the settlement index)


class CfbAverage(msgspec.Struct, frozen=True):
    value: str  # 8 decimal places
    window_size: int
    window_start_ts_ms: int
    window_end_ts_exclusive: int


class CfbRawValue(msgspec.Struct, frozen=True):
    """The upstream CF Benchmarks frame carried as a JSON string in ``data``."""

    value: str
    time: int
    id: str = ""
    type: str = ""


_cfb_raw_decoder = msgspec.json.Decoder(CfbRawValue)


class CfbenchmarksValueBody(msgspec.Struct, frozen=True):
    index_id: str
    received_at: int
    data: str
    avg_60s_data: CfbAverage
    # Present only in the final minute before a quarter-hour close.
    last_60s_windowed_average_15min: CfbAverage | None = None

    def raw(self) -> CfbRawValue:
        """Decode ``data`` (a JSON string inside the JSON frame); ProtocolError if it is not one."""
        try:
            return _cfb_raw_decoder.decode(self.data)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            raise ProtocolError(f"cfbenchmarks_value: bad data field: {exc}") from None


class CfbenchmarksValue(msgspec.Struct, frozen=True, tag="cfbenchmarks_value", tag_field="type"):
    sid: int
    seq: int
    msg: CfbenchmarksValueBody


class CfbIndexListBody(msgspec.Struct, frozen=True):
    index_ids: list[str]


class CfbenchmarksIndexList(
    msgspec.Struct, frozen=True, tag="cfbenchmarks_value_indexlist", tag_field="type"
):
    sid: int
    seq: int
    msg: CfbIndexListBody
    id: int = 0


# ---------------------------------------------------------------------------------------------
# Decoding

#: Every message type this module decodes.
WsMessage = (
    OrderbookSnapshot
    | OrderbookDelta
    | Subscribed
    | Ok
    | Unsubscribed
    | ErrorMessage
    | Ticker
    | Trade
    | Fill
    | UserOrder
    | MarketPosition
    | OrderGroupUpdate
    | MarketLifecycle
    | EventLifecycle
    | EventFeeUpdate
    | CfbenchmarksValue
    | CfbenchmarksIndexList
)

_frame_decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(WsMessage)


class UnknownMessage(msgspec.Struct, frozen=True):
    """A frame whose ``type`` we do not handle: kept raw so the caller can log it and carry on."""

    type: str
    raw: bytes


class _TypeOnly(msgspec.Struct):
    type: str = ""


_type_decoder = msgspec.json.Decoder(_TypeOnly)


def decode_frame(frame: bytes | str) -> Any:
    """Decode one text frame into its typed message, or ``UnknownMessage`` for an unhandled type.

    Raises ``ProtocolError`` for malformed JSON or a known type with missing or mistyped fields.
    """
    try:
        return _frame_decoder.decode(frame)
    except msgspec.ValidationError as exc:
        data = frame.encode() if isinstance(frame, str) else frame
        try:
            kind = _type_decoder.decode(data).type
        except (msgspec.ValidationError, msgspec.DecodeError):
            raise ProtocolError(f"frame is not a typed message: {exc}") from None
        if "Invalid value" in str(exc) and "$.type" in str(exc):
            return UnknownMessage(kind, data)
        raise ProtocolError(f"{kind or 'frame'}: {exc}") from None
    except msgspec.DecodeError as exc:
        raise ProtocolError(f"malformed JSON frame: {exc}") from None


class FrameRoute(msgspec.Struct, frozen=True):
    """The routing fields of a frame that failed full decoding, for blaming the right book."""

    type: str = ""
    sid: int | None = None
    seq: int | None = None
    market_ticker: str | None = None


class _LooseFrame(msgspec.Struct):
    type: Any = None
    sid: Any = None
    seq: Any = None
    msg: Any = None


_loose_decoder = msgspec.json.Decoder(_LooseFrame)


def peek_route(frame: bytes | str) -> FrameRoute | None:
    """Best-effort routing fields of a bad frame; None when it is not even a JSON object."""
    try:
        loose = _loose_decoder.decode(frame)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    ticker = loose.msg.get("market_ticker") if isinstance(loose.msg, dict) else None
    return FrameRoute(
        type=loose.type if isinstance(loose.type, str) else "",
        sid=loose.sid if type(loose.sid) is int else None,
        seq=loose.seq if type(loose.seq) is int else None,
        market_ticker=ticker if isinstance(ticker, str) else None,
    )


# ---------------------------------------------------------------------------------------------
# Command encoders (client -> server). ``id`` is unique per connection; 0 means "no id".

CHANNELS = frozenset(
    {
        "orderbook_delta",
        "ticker",
        "trade",
        "fill",
        "market_positions",
        "market_lifecycle_v2",
        "multivariate_market_lifecycle",
        "communications",
        "order_group_updates",
        "user_orders",
        "cfbenchmarks_value",
        "cfbenchmarks_value_5hz",
        "pyth_value",
    }
)

UPDATE_ACTIONS = frozenset(
    {"add_markets", "delete_markets", "get_snapshot", "subscribe_indices", "unsubscribe_indices", "indexlist"}
)

_encoder = msgspec.json.Encoder()


def _command(cmd_id: int, cmd: str, params: dict[str, Any] | None) -> bytes:
    body: dict[str, Any] = {"id": cmd_id, "cmd": cmd}
    if params is not None:
        body["params"] = params
    return _encoder.encode(body)


def subscribe_params(
    channels: Sequence[str],
    *,
    market_tickers: Sequence[str] | None = None,
    use_yes_price: bool | None = None,
    index_ids: Sequence[str] | None = None,
    send_initial_snapshot: bool | None = None,
    skip_ticker_ack: bool | None = None,
) -> dict[str, Any]:
    """The ``params`` object of a subscribe command; None options are left out."""
    if not channels:
        raise ValueError("subscribe needs at least one channel")
    unknown = [c for c in channels if c not in CHANNELS]
    if unknown:
        raise ValueError(f"unknown channel(s) {unknown}")
    params: dict[str, Any] = {"channels": list(channels)}
    if market_tickers is not None:
        params["market_tickers"] = list(market_tickers)
    if use_yes_price is not None:
        params["use_yes_price"] = use_yes_price
    if index_ids is not None:
        params["index_ids"] = list(index_ids)
    if send_initial_snapshot is not None:
        params["send_initial_snapshot"] = send_initial_snapshot
    if skip_ticker_ack is not None:
        params["skip_ticker_ack"] = skip_ticker_ack
    return params


def encode_subscribe(cmd_id: int, params: dict[str, Any]) -> bytes:
    """``params`` from ``subscribe_params``."""
    return _command(cmd_id, "subscribe", params)


def encode_unsubscribe(cmd_id: int, sids: Sequence[int]) -> bytes:
    if not sids:
        raise ValueError("unsubscribe needs at least one sid")
    return _command(cmd_id, "unsubscribe", {"sids": list(sids)})


def encode_update_subscription(
    cmd_id: int,
    sid: int,
    action: str,
    *,
    market_tickers: Sequence[str] | None = None,
    index_ids: Sequence[str] | None = None,
    send_initial_snapshot: bool | None = None,
) -> bytes:
    """``update_subscription`` on exactly one sid (sent as a one-element ``sids``)."""
    if action not in UPDATE_ACTIONS:
        raise ValueError(f"unknown update_subscription action {action!r}")
    params: dict[str, Any] = {"sids": [sid], "action": action}
    if market_tickers is not None:
        params["market_tickers"] = list(market_tickers)
    if index_ids is not None:
        params["index_ids"] = list(index_ids)
    if send_initial_snapshot is not None:
        params["send_initial_snapshot"] = send_initial_snapshot
    return _command(cmd_id, "update_subscription", params)


def encode_list_subscriptions(cmd_id: int) -> bytes:
    return _command(cmd_id, "list_subscriptions", None)
