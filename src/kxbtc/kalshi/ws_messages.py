"""Typed decoding of Kalshi WebSocket frames (msgspec).

Every server frame is a JSON object tagged by ``type``. Unknown fields are ignored; a missing required
field or a wrong JSON type raises ``msgspec.ValidationError``, which ``decode_frame`` turns into a
``ProtocolError`` naming the frame type. Prices and counts stay as wire strings here and are converted
to fixed-point integers exactly once, by the consumer (the book, the store).
"""

from __future__ import annotations

from typing import Any

import msgspec

from kxbtc.errors import ProtocolError

# A book level on the wire: ["0.4700", "3.00"].
WireLevel = tuple[str, str]


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


#: Every message type this module decodes. Extended as channels are added.
WsMessage = OrderbookSnapshot | OrderbookDelta

_frame_decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(WsMessage)  # type: ignore[arg-type]


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
