"""Typed decoding of Polymarket's Gamma, CLOB REST and market-WebSocket payloads (msgspec).

Shapes follow docs/polymarket.md §4-§6 as corrected by errata Part 4. Unknown fields are ignored; a
missing required field or a wrong JSON type is a ``ProtocolError``. Prices and sizes stay wire strings in
the structs and are converted to fixed-point integers at the edge by ``parse_poly_price`` (to Price,
1e-4 $) and ``parse_poly_size`` (shares to Count, 1e-2), which reject finer values with
``PolyValueError`` instead of rounding. Polymarket writes decimals loosely (``".48"``, ``"0.5"``,
``"1"``, ``"33343.4"``): all of those are accepted.

Gamma quirks: ``clobTokenIds``, ``outcomes`` and ``outcomePrices`` are JSON-encoded strings; Protocol V2
markets (``version: "v2"``) carry their outcome ids as a plain ``positionIds`` array instead (errata
Part 4 §2.1). ``outcome_tokens`` picks the right one and pairs it with the outcomes.

Market WebSocket frames are JSON objects tagged by ``event_type`` or arrays of them (the initial dump),
and plain text control words (``PONG``, ``NO NEW ASSETS``). ``decode_ws_frame`` returns the events it
could decode and one error per element it could not, so one bad element never hides the others.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import msgspec

from kxbtc.errors import ProtocolError
from kxbtc.units import PRICE_SCALE, Count, Price

__all__ = [
    "BestBidAskEvent",
    "BookEvent",
    "ClobBook",
    "DecodedFrame",
    "FeeScheduleWire",
    "GammaEvent",
    "GammaMarket",
    "LastTradePriceEvent",
    "Level",
    "MarketResolvedEvent",
    "NewMarketEvent",
    "PolyValueError",
    "PriceChange",
    "PriceChangeEvent",
    "TickSizeChangeEvent",
    "UnknownEvent",
    "decode_clob_book",
    "decode_gamma_events",
    "decode_ws_frame",
    "parse_poly_price",
    "parse_poly_size",
    "parse_timestamp_ms",
]


# ---------------------------------------------------------------------------------------------
# Decimal strings at the edge


class PolyValueError(ProtocolError):
    """A Polymarket decimal string is malformed, out of range, or finer than our fixed-point grid."""

    def __init__(self, field_name: str, raw: object, reason: str) -> None:
        super().__init__(f"{field_name}: {raw!r} is not valid: {reason}")
        self.field = field_name
        self.raw = raw
        self.reason = reason


def _parse_unsigned_decimal(text: object, decimals: int, field_name: str) -> int:
    if type(text) is not str:
        raise PolyValueError(field_name, text, "expected a decimal string")
    whole, _, frac = text.partition(".")
    if not (whole or frac):
        raise PolyValueError(field_name, text, "not a decimal number")
    if (whole and not (whole.isdigit() and whole.isascii())) or (
        frac and not (frac.isdigit() and frac.isascii())
    ):
        raise PolyValueError(field_name, text, "not an unsigned decimal number")
    if len(frac) > decimals:
        if frac[decimals:].strip("0"):
            raise PolyValueError(field_name, text, f"finer than {decimals} decimal places")
        frac = frac[:decimals]
    scale: int = 10**decimals
    whole_units = int(whole) * scale if whole else 0
    return whole_units + (int(frac) * 10 ** (decimals - len(frac)) if frac else 0)


def parse_poly_price(text: object, field_name: str = "price") -> Price:
    """A price in [0, 1] dollars as Price (1e-4 $): ``".48"`` -> 4800, ``"1"`` -> 10000."""
    value = _parse_unsigned_decimal(text, 4, field_name)
    if value > PRICE_SCALE:
        raise PolyValueError(field_name, text, "above $1")
    return Price(value)


def parse_poly_size(text: object, field_name: str = "size") -> Count:
    """A size in shares as Count (1e-2 shares): ``"33343.4"`` -> 3334340."""
    return Count(_parse_unsigned_decimal(text, 2, field_name))


def parse_timestamp_ms(text: str | int | None) -> int | None:
    """Polymarket timestamps are milliseconds, usually as a string; None or "" stays None."""
    if text is None or text == "":
        return None
    if isinstance(text, int):
        return text
    if not (text.isdigit() and text.isascii()):
        raise PolyValueError("timestamp", text, "expected integer milliseconds")
    return int(text)


# ---------------------------------------------------------------------------------------------
# Gamma


class FeeScheduleWire(msgspec.Struct, frozen=True):
    rate: Decimal | None = None
    exponent: Decimal | None = None
    takerOnly: bool | None = None
    rebateRate: Decimal | None = None


class GammaMarket(msgspec.Struct, frozen=True):
    conditionId: str
    outcomes: str
    id: str = ""
    question: str = ""
    slug: str = ""
    clobTokenIds: str | None = None
    outcomePrices: str | None = None
    version: str | None = None
    positionIds: list[str] | None = None
    active: bool | None = None
    closed: bool | None = None
    acceptingOrders: bool | None = None
    enableOrderBook: bool | None = None
    negRisk: bool | None = None
    feesEnabled: bool | None = None
    feeType: str | None = None
    feeSchedule: FeeScheduleWire | None = None
    orderPriceMinTickSize: Decimal | None = None
    orderMinSize: Decimal | None = None
    eventStartTime: str | None = None
    startDate: str | None = None
    endDate: str | None = None
    description: str = ""
    resolutionSource: str = ""

    def outcome_names(self) -> list[str]:
        return _json_string_list(self.outcomes, "outcomes")

    def outcome_prices(self) -> list[Price]:
        if not self.outcomePrices:
            return []
        raw = _json_string_list(self.outcomePrices, "outcomePrices")
        return [parse_poly_price(p, "outcomePrices") for p in raw]

    def token_ids(self) -> list[str]:
        """Outcome token ids in outcome order: ``positionIds`` on V2 markets, else ``clobTokenIds``."""
        if self.version == "v2" and self.positionIds:
            return list(self.positionIds)
        if self.clobTokenIds:
            return _json_string_list(self.clobTokenIds, "clobTokenIds")
        if self.positionIds:
            return list(self.positionIds)
        raise ProtocolError(f"market {self.conditionId}: neither clobTokenIds nor positionIds")

    def outcome_tokens(self) -> dict[str, str]:
        """Outcome name -> token id, by position in the decoded lists."""
        names, tokens = self.outcome_names(), self.token_ids()
        if len(names) != len(tokens):
            raise ProtocolError(
                f"market {self.conditionId}: {len(names)} outcomes but {len(tokens)} token ids"
            )
        return dict(zip(names, tokens, strict=True))


class GammaEvent(msgspec.Struct, frozen=True):
    slug: str
    id: str = ""
    title: str = ""
    startDate: str | None = None
    endDate: str | None = None
    active: bool | None = None
    closed: bool | None = None
    markets: list[GammaMarket] = msgspec.field(default_factory=list)


def _json_string_list(text: str, field_name: str) -> list[str]:
    try:
        value = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise ProtocolError(f"{field_name}: not a JSON-encoded list: {text!r}") from exc
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ProtocolError(f"{field_name}: expected a JSON list of strings, got {text!r}")
    return value


def decode_gamma_events(body: bytes | str) -> list[GammaEvent]:
    events: list[GammaEvent] = _decode(body, list[GammaEvent], "GET /events")
    return events


# ---------------------------------------------------------------------------------------------
# CLOB REST


class Level(msgspec.Struct, frozen=True):
    price: str
    size: str


class ClobBook(msgspec.Struct, frozen=True):
    """``GET /book?token_id=``. Level order is not guaranteed: take max bid / min ask."""

    asset_id: str
    bids: list[Level] = msgspec.field(default_factory=list)
    asks: list[Level] = msgspec.field(default_factory=list)
    market: str = ""
    timestamp: str | None = None
    hash: str | None = None
    min_order_size: str | None = None
    tick_size: str | None = None
    neg_risk: bool | None = None
    last_trade_price: str | None = None


def decode_clob_book(body: bytes | str) -> ClobBook:
    book: ClobBook = _decode(body, ClobBook, "GET /book")
    return book


# ---------------------------------------------------------------------------------------------
# Market WebSocket


class BookEvent(msgspec.Struct, frozen=True, tag="book", tag_field="event_type"):
    asset_id: str
    market: str = ""
    bids: list[Level] = msgspec.field(default_factory=list)
    asks: list[Level] = msgspec.field(default_factory=list)
    timestamp: str | None = None
    hash: str | None = None
    tick_size: str | None = None
    min_order_size: str | None = None
    last_trade_price: str | None = None


class PriceChange(msgspec.Struct, frozen=True):
    """One level's new aggregate ``size`` (``"0"`` removes it); ``side`` BUY = bids, SELL = asks."""

    asset_id: str
    price: str
    size: str
    side: str
    hash: str | None = None
    best_bid: str | None = None
    best_ask: str | None = None


class PriceChangeEvent(msgspec.Struct, frozen=True, tag="price_change", tag_field="event_type"):
    price_changes: list[PriceChange]
    market: str = ""
    timestamp: str | None = None


class TickSizeChangeEvent(msgspec.Struct, frozen=True, tag="tick_size_change", tag_field="event_type"):
    asset_id: str
    new_tick_size: str
    old_tick_size: str | None = None
    market: str = ""
    timestamp: str | None = None


class LastTradePriceEvent(msgspec.Struct, frozen=True, tag="last_trade_price", tag_field="event_type"):
    """A trade. ``size`` may carry up to 6 decimals (on-chain token units): it stays a string here."""

    asset_id: str
    price: str
    market: str = ""
    side: str | None = None
    size: str | None = None
    fee_rate_bps: str | None = None
    timestamp: str | None = None
    transaction_hash: str | None = None


class BestBidAskEvent(msgspec.Struct, frozen=True, tag="best_bid_ask", tag_field="event_type"):
    asset_id: str
    market: str = ""
    best_bid: str | None = None
    best_ask: str | None = None
    spread: str | None = None
    timestamp: str | None = None


class MarketResolvedEvent(msgspec.Struct, frozen=True, tag="market_resolved", tag_field="event_type"):
    market: str = ""
    id: str | None = None
    winning_asset_id: str | None = None
    winning_outcome: str | None = None
    assets_ids: list[str] | None = None
    timestamp: str | None = None


class NewMarketEvent(msgspec.Struct, frozen=True, tag="new_market", tag_field="event_type"):
    market: str = ""
    slug: str | None = None
    assets_ids: list[str] | None = None
    clob_token_ids: list[str] | None = None
    timestamp: str | None = None


@dataclass(frozen=True, slots=True)
class UnknownEvent:
    """An element with an ``event_type`` this client does not know; kept raw."""

    event_type: str
    raw: bytes


WsEvent = (
    BookEvent
    | PriceChangeEvent
    | TickSizeChangeEvent
    | LastTradePriceEvent
    | BestBidAskEvent
    | MarketResolvedEvent
    | NewMarketEvent
)

#: Plain-text frames the server sends (PONG answers our PING; the other is seen with custom features).
TEXT_CONTROL_WORDS = frozenset({"PONG", "PING", "NO NEW ASSETS"})


@dataclass(slots=True)
class DecodedFrame:
    events: list[WsEvent | UnknownEvent] = field(default_factory=list)
    errors: list[ProtocolError] = field(default_factory=list)
    #: A plain-text control word (``PONG``...), when the frame was one.
    control: str | None = None


class _EventType(msgspec.Struct):
    event_type: Any = None


_event_decoder: msgspec.json.Decoder[WsEvent] = msgspec.json.Decoder(WsEvent)
_raw_list_decoder = msgspec.json.Decoder(list[msgspec.Raw])
_type_decoder = msgspec.json.Decoder(_EventType)


def decode_ws_frame(frame: str | bytes) -> DecodedFrame:
    """Decode one market-channel frame: an event, an array of events, or a text control word."""
    data = frame.encode() if isinstance(frame, str) else frame
    stripped = data.strip()
    out = DecodedFrame()
    if not stripped.startswith((b"{", b"[")):
        word = stripped.decode("utf-8", "replace")
        if word in TEXT_CONTROL_WORDS:
            out.control = word
        else:
            out.errors.append(ProtocolError(f"unexpected text frame {word[:80]!r}"))
        return out
    if stripped.startswith(b"["):
        try:
            elements = [bytes(raw) for raw in _raw_list_decoder.decode(stripped)]
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            out.errors.append(ProtocolError(f"malformed JSON array frame: {exc}"))
            return out
    else:
        elements = [stripped]
    for element in elements:
        try:
            out.events.append(_decode_event(element))
        except ProtocolError as exc:
            out.errors.append(exc)
    return out


def _decode_event(element: bytes) -> WsEvent | UnknownEvent:
    try:
        return _event_decoder.decode(element)
    except msgspec.DecodeError as exc:
        if not isinstance(exc, msgspec.ValidationError):
            raise ProtocolError(f"malformed JSON frame: {exc}") from None
        try:
            kind = _type_decoder.decode(element).event_type
        except (msgspec.ValidationError, msgspec.DecodeError):
            raise ProtocolError(f"element is not an object: {exc}") from None
        if not isinstance(kind, str):
            raise ProtocolError(f"element without a string event_type: {exc}") from None
        if "$.event_type" in str(exc) and "Invalid value" in str(exc):
            return UnknownEvent(kind, element)
        raise ProtocolError(f"{kind}: {exc}") from None


def _decode(body: bytes | str, kind: Any, endpoint: str) -> Any:
    try:
        return msgspec.json.decode(body, type=kind)
    except msgspec.ValidationError as exc:
        raise ProtocolError(f"{endpoint}: response does not match the expected shape: {exc}") from None
    except msgspec.DecodeError as exc:
        raise ProtocolError(f"{endpoint}: response is not JSON: {exc}") from None


def subscribe_message(asset_ids: list[str], *, custom_features: bool = True) -> str:
    """The first frame after connecting: the market channel's subscription."""
    return json.dumps({"assets_ids": asset_ids, "type": "market", "custom_feature_enabled": custom_features})


def update_message(asset_ids: list[str], operation: str, *, custom_features: bool = True) -> str:
    """A later change of the subscription (errata Part 4 §5.2: ``operation`` subscribe|unsubscribe)."""
    if operation not in ("subscribe", "unsubscribe"):
        raise ValueError(f"unknown operation {operation!r}")
    return json.dumps(
        {"assets_ids": asset_ids, "operation": operation, "custom_feature_enabled": custom_features}
    )
