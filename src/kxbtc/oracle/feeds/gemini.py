"""Gemini market data v2 (wss://api.gemini.com/v2/marketdata), ``l2`` subscription.

Wire shape: ``{"type": "l2_updates", "symbol": "BTCUSD", "changes": [["buy"|"sell", "price",
"quantity"], …]}``; quantity is the level's new size, "0" removes it. The first ``l2_updates`` after
subscribing carries the whole book (plus recent ``trades``), later ones carry changes. ``trade`` and
``heartbeat`` frames carry no book data.
"""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec

from kxbtc.errors import ProtocolError
from kxbtc.oracle.feeds.base import SpotFeed
from kxbtc.oracle.feeds.book import BookUpdate, Level
from kxbtc.oracle.feeds.frames import FeedRejectedError, decode_json, parse_level

URL = "wss://api.gemini.com/v2/marketdata"


def subscribe_messages(symbol: str = "BTCUSD") -> list[str]:
    return [
        msgspec.json.encode(
            {"type": "subscribe", "subscriptions": [{"name": "l2", "symbols": [symbol]}]}
        ).decode()
    ]


def parse_l2(msg: dict[str, Any], symbol: str = "BTCUSD", *, first: bool = False) -> list[BookUpdate]:
    """An ``l2_updates`` frame -> one update (a snapshot when ``first``: the initial full book)."""
    if msg.get("result") == "error" or msg.get("type") == "error":
        raise FeedRejectedError(str(msg.get("message", "error")), code=str(msg.get("reason", "gemini_error")))
    if msg.get("type") != "l2_updates" or msg.get("symbol") != symbol:
        return []
    bids: list[Level] = []
    asks: list[Level] = []
    for side, price, qty in msg["changes"]:
        level = parse_level(price, qty)
        if side == "buy":
            bids.append(level)
        elif side == "sell":
            asks.append(level)
        else:
            raise ProtocolError(f"gemini l2_updates: unknown side {side!r}")
    return [BookUpdate(snapshot=first, bids=tuple(bids), asks=tuple(asks))]


class GeminiFeed(SpotFeed):
    venue: ClassVar[str] = "gemini"
    default_url: ClassVar[str] = URL
    default_symbol: ClassVar[str] = "BTCUSD"

    def on_connected(self) -> None:
        self._first = True

    def subscribe_messages(self) -> list[str]:
        return subscribe_messages(self.symbol)

    def parse(self, raw: str | bytes) -> list[BookUpdate]:
        msg = decode_json(raw)
        if not isinstance(msg, dict):
            raise ProtocolError("gemini: frame is not an object")
        updates = parse_l2(msg, self.symbol, first=self._first)
        if updates:
            self._first = False
        return updates
