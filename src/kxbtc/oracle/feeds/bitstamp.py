"""Bitstamp WebSocket v2 (wss://ws.bitstamp.net): ``order_book_btcusd`` and ``diff_order_book_btcusd``.

Wire shape: ``{"event": "data", "channel": "order_book_btcusd", "data": {"timestamp": "…",
"microtimestamp": "…", "bids": [["price", "amount"], …], "asks": [...]}}``. ``order_book`` frames are
full top-100 snapshots (so no local state can drift); ``diff_order_book`` frames are changes with
amount 0 for removed levels and need a REST snapshot to start from, so the feed uses ``order_book``.
``bts:request_reconnect`` asks clients to reconnect (maintenance); ``bts:error`` rejects a request.
"""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec

from kxbtc.errors import ProtocolError
from kxbtc.oracle.feeds.base import SpotFeed
from kxbtc.oracle.feeds.book import BookUpdate
from kxbtc.oracle.feeds.frames import FeedRejectedError, ReconnectRequestedError, decode_json, parse_levels

URL = "wss://ws.bitstamp.net"


def subscribe_messages(pair: str = "btcusd", channel: str = "order_book") -> list[str]:
    return [
        msgspec.json.encode({"event": "bts:subscribe", "data": {"channel": f"{channel}_{pair}"}}).decode()
    ]


def parse_order_book(msg: dict[str, Any], pair: str = "btcusd") -> list[BookUpdate]:
    """A frame -> book updates for ``pair`` (snapshot for order_book, changes for diff_order_book)."""
    event = msg.get("event")
    if event == "bts:request_reconnect":
        raise ReconnectRequestedError("bitstamp requested a reconnect", code="bts:request_reconnect")
    if event == "bts:error":
        data = msg.get("data") or {}
        raise FeedRejectedError(str(data.get("message", "error")), code=str(data.get("code", "bts:error")))
    if event != "data":
        return []
    channel = msg.get("channel")
    if channel == f"order_book_{pair}":
        snapshot = True
    elif channel == f"diff_order_book_{pair}":
        snapshot = False
    else:
        return []
    data = msg["data"]
    micro = data.get("microtimestamp")
    ts_ms = int(micro) // 1000 if micro else None
    return [BookUpdate(snapshot, parse_levels(data["bids"]), parse_levels(data["asks"]), ts_ms)]


class BitstampFeed(SpotFeed):
    venue: ClassVar[str] = "bitstamp"
    default_url: ClassVar[str] = URL
    default_symbol: ClassVar[str] = "btcusd"

    def subscribe_messages(self) -> list[str]:
        return subscribe_messages(self.symbol)

    def parse(self, raw: str | bytes) -> list[BookUpdate]:
        msg = decode_json(raw)
        if not isinstance(msg, dict):
            raise ProtocolError("bitstamp: frame is not an object")
        return parse_order_book(msg, self.symbol)
