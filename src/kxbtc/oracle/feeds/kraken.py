"""Kraken Spot WebSocket v2 ``book`` channel (wss://ws.kraken.com/v2).

Wire shape (docs.kraken.com, spot-websocket-v2/book): ``{"channel": "book", "type": "snapshot"|"update",
"data": [{"symbol": "BTC/USD", "bids": [{"price": 1.0, "qty": 2.0}], "asks": [...], "checksum": n,
"timestamp": "RFC3339"}]}``. Prices and quantities are JSON numbers; ``qty`` 0 removes a level, and
levels pushed below the subscribed depth must be dropped by the client. v2 spells the pair BTC/USD.

Each frame's CRC32 ``checksum`` covers the top 10 asks (low to high) then top 10 bids (high to low),
each level written as price then qty at the pair's precision (BTC/USD: 1 and 8 decimals), with the
dot and leading zeros removed. A mismatch means our book drifted: the feed resyncs by reconnecting.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar

import msgspec

from kxbtc.errors import ProtocolError
from kxbtc.oracle.feeds.base import SpotFeed
from kxbtc.oracle.feeds.book import BookUpdate, Level
from kxbtc.oracle.feeds.frames import FeedRejectedError, decode_json, parse_level

URL = "wss://ws.kraken.com/v2"
DEPTH = 500  # levels per side; Bitstamp gives 100, Coinbase and Gemini the full book
PRICE_DECIMALS = 1  # BTC/USD display precision, from Kraken's instrument data
QTY_DECIMALS = 8


def subscribe_messages(symbol: str = "BTC/USD", depth: int = DEPTH) -> list[str]:
    params = {"channel": "book", "symbol": [symbol], "depth": depth, "snapshot": True}
    return [msgspec.json.encode({"method": "subscribe", "params": params}).decode()]


def _levels(rows: Any) -> tuple[Level, ...]:
    return tuple(parse_level(r["price"], r["qty"]) for r in rows or ())


def _ts_ms(text: Any) -> int | None:
    if not isinstance(text, str):
        return None
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def parse_book(msg: dict[str, Any], symbol: str = "BTC/USD") -> list[BookUpdate]:
    """A v2 frame -> book updates for ``symbol``; status, heartbeat and acks -> []."""
    if msg.get("method") == "subscribe" and msg.get("success") is False:
        raise FeedRejectedError(
            str(msg.get("error", "subscribe failed")), code="kraken_error", details=str(msg)
        )
    if msg.get("channel") != "book":
        return []
    kind = msg.get("type")
    if kind not in ("snapshot", "update"):
        raise ProtocolError(f"kraken book: unknown type {kind!r}")
    return [
        BookUpdate(
            snapshot=kind == "snapshot",
            bids=_levels(item.get("bids")),
            asks=_levels(item.get("asks")),
            exchange_ts_ms=_ts_ms(item.get("timestamp")),
        )
        for item in msg.get("data") or ()
        if item.get("symbol") == symbol
    ]


def _checksum_field(value: float, decimals: int) -> str:
    return f"{value:.{decimals}f}".replace(".", "").lstrip("0")


def book_checksum(
    bids: Sequence[Level],
    asks: Sequence[Level],
    price_decimals: int = PRICE_DECIMALS,
    qty_decimals: int = QTY_DECIMALS,
) -> int:
    """Kraken's CRC32 over the top 10 asks then the top 10 bids (each side best first)."""
    text = "".join(
        _checksum_field(p, price_decimals) + _checksum_field(q, qty_decimals)
        for p, q in (*asks[:10], *bids[:10])
    )
    return zlib.crc32(text.encode()) & 0xFFFFFFFF


def checksums(msg: dict[str, Any], symbol: str = "BTC/USD") -> list[int]:
    return [
        int(item["checksum"])
        for item in msg.get("data") or ()
        if item.get("symbol") == symbol and "checksum" in item
    ]


class KrakenFeed(SpotFeed):
    venue: ClassVar[str] = "kraken"
    default_url: ClassVar[str] = URL
    default_symbol: ClassVar[str] = "BTC/USD"
    max_depth: ClassVar[int | None] = DEPTH

    def subscribe_messages(self) -> list[str]:
        return subscribe_messages(self.symbol, DEPTH)

    verify_checksum = True

    def on_connected(self) -> None:
        self._pending_checksums: list[int] = []

    def parse(self, raw: str | bytes) -> list[BookUpdate]:
        msg = decode_json(raw)
        if not isinstance(msg, dict):
            raise ProtocolError("kraken: frame is not an object")
        self._pending_checksums = checksums(msg, self.symbol) if self.verify_checksum else []
        return parse_book(msg, self.symbol)

    def after_apply(self) -> None:
        # The checksum is over the book after the whole frame is applied.
        for expected in self._pending_checksums:
            got = book_checksum(self.book.bids(10), self.book.asks(10))
            if got != expected:
                raise ProtocolError(f"kraken book checksum mismatch: expected {expected}, computed {got}")
        self._pending_checksums = []
