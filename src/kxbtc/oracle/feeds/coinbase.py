"""Coinbase Advanced Trade market data: ``level2`` (book) and ``ticker`` (top of book).

Wire shape (docs.cdp.coinbase.com, Advanced Trade WebSocket): every frame has ``channel``,
``timestamp``, ``sequence_num`` (per connection, across channels) and ``events``. ``l2_data`` events
are ``snapshot`` or ``update`` with ``updates[{side: bid|offer, price_level, new_quantity}]``, where
``new_quantity`` is the level's new size. Channels close after 60-90 s without updates, so we also
subscribe to ``heartbeats``. No authentication is needed for these channels.
"""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec

from kxbtc.errors import ProtocolError
from kxbtc.oracle.feeds.base import SpotFeed
from kxbtc.oracle.feeds.book import BookUpdate, Level, TopOfBook
from kxbtc.oracle.feeds.frames import FeedRejectedError, decode_json, parse_level

URL = "wss://advanced-trade-ws.coinbase.com"


def subscribe_messages(product_id: str = "BTC-USD", channels: tuple[str, ...] = ("level2",)) -> list[str]:
    # One subscribe per channel, sent within 5 s of connecting.
    return [
        msgspec.json.encode({"type": "subscribe", "product_ids": [product_id], "channel": channel}).decode()
        for channel in (*channels, "heartbeats")
    ]


def check_error(msg: dict[str, Any]) -> None:
    if msg.get("type") == "error":
        raise FeedRejectedError(str(msg.get("message", "error")), code="coinbase_error", details=str(msg))


def parse_level2(msg: dict[str, Any], product_id: str = "BTC-USD") -> list[BookUpdate]:
    """An ``l2_data`` frame -> book updates for ``product_id``; other channels -> []."""
    check_error(msg)
    if msg.get("channel") != "l2_data":
        return []
    out: list[BookUpdate] = []
    for event in msg.get("events") or ():
        if event.get("product_id") != product_id:
            continue
        kind = event.get("type")
        if kind not in ("snapshot", "update"):
            raise ProtocolError(f"coinbase l2_data: unknown event type {kind!r}")
        bids: list[Level] = []
        asks: list[Level] = []
        for row in event.get("updates") or ():
            level = parse_level(row["price_level"], row["new_quantity"])
            side = row["side"]
            if side == "bid":
                bids.append(level)
            elif side == "offer":
                asks.append(level)
            else:
                raise ProtocolError(f"coinbase l2_data: unknown side {side!r}")
        out.append(BookUpdate(snapshot=kind == "snapshot", bids=tuple(bids), asks=tuple(asks)))
    return out


def parse_ticker(msg: dict[str, Any], product_id: str = "BTC-USD") -> TopOfBook | None:
    """The latest top of book in a ``ticker`` frame, or None if the frame has none for ``product_id``."""
    check_error(msg)
    if msg.get("channel") != "ticker":
        return None
    top: TopOfBook | None = None
    for event in msg.get("events") or ():
        for t in event.get("tickers") or ():
            if t.get("product_id") == product_id:
                top = TopOfBook(
                    float(t["best_bid"]),
                    float(t["best_bid_quantity"]),
                    float(t["best_ask"]),
                    float(t["best_ask_quantity"]),
                )
    return top


class SequenceChecker:
    """Coinbase numbers every frame on a connection; a gap means a lost update, so the book must resync."""

    def __init__(self) -> None:
        self.last: int | None = None

    def check(self, msg: dict[str, Any]) -> None:
        seq = msg.get("sequence_num")
        if not isinstance(seq, int):
            return
        if self.last is not None and seq != self.last + 1:
            expected = self.last + 1
            self.last = seq
            raise ProtocolError(f"coinbase sequence gap: expected {expected}, got {seq}")
        self.last = seq


class CoinbaseFeed(SpotFeed):
    venue: ClassVar[str] = "coinbase"
    default_url: ClassVar[str] = URL
    default_symbol: ClassVar[str] = "BTC-USD"

    def on_connected(self) -> None:
        self._seq = SequenceChecker()

    def subscribe_messages(self) -> list[str]:
        return subscribe_messages(self.symbol)

    def parse(self, raw: str | bytes) -> list[BookUpdate]:
        msg = decode_json(raw)
        if not isinstance(msg, dict):
            raise ProtocolError("coinbase: frame is not an object")
        self._seq.check(msg)
        return parse_level2(msg, self.symbol)
