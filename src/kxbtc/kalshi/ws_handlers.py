"""The WebSocket client's callback protocol (``WsHandler``) and a queue-backed implementation."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from kxbtc.book.orderbook import OrderBook
from kxbtc.errors import KxbtcError
from kxbtc.kalshi.ws_messages import (
    CfbenchmarksValue,
    EventFeeUpdate,
    EventLifecycle,
    Fill,
    MarketLifecycle,
    MarketPosition,
    OrderbookDelta,
    OrderbookSnapshot,
    OrderGroupUpdate,
    Ticker,
    Trade,
    UserOrder,
)

# Every part of the client logs as ``kxbtc.kalshi.ws``, the module it grew out of.
log = logging.getLogger("kxbtc.kalshi.ws")


class WsHandler:
    """Callbacks for the engine; override what you need. Called from the reader task: do not block."""

    def on_orderbook(self, ticker: str, book: OrderBook, msg: OrderbookSnapshot | OrderbookDelta) -> None:
        """A snapshot or delta was applied to a live book."""

    def on_book_stale(self, ticker: str, reason: str) -> None:
        """A live book became stale: stop trading on it until the next ``on_orderbook`` snapshot."""

    def on_ticker(self, msg: Ticker) -> None: ...

    def on_trade(self, msg: Trade) -> None: ...

    def on_fill(self, msg: Fill) -> None: ...

    def on_user_order(self, msg: UserOrder) -> None: ...

    def on_market_position(self, msg: MarketPosition) -> None: ...

    def on_lifecycle(self, msg: MarketLifecycle | EventLifecycle | EventFeeUpdate) -> None: ...

    def on_cfbenchmarks(self, msg: CfbenchmarksValue) -> None: ...

    def on_order_group(self, msg: OrderGroupUpdate) -> None: ...

    def on_error(self, error: KxbtcError) -> None:
        """A typed error the client survived (bad frame, seq gap, server error frame, disconnect)."""

    def on_connection(self, connected: bool) -> None: ...

    def on_batch_start(self) -> None:
        """Frames received together follow (each through the callbacks above), then ``on_batch_end``: a
        handler may defer per-market work to the end and do it once (the engine evaluates there)."""

    def on_batch_end(self) -> None: ...


class QueueHandler(WsHandler):
    """Puts every event on ``queue`` as ``(kind, payload)``; ``kind`` is the callback name minus ``on_``."""

    def __init__(self, maxsize: int = 0) -> None:
        self.queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue(maxsize)

    def _put(self, kind: str, payload: Any) -> None:
        # A full queue drops the event rather than stalling the reader (and so every book); say so loudly.
        try:
            self.queue.put_nowait((kind, payload))
        except asyncio.QueueFull:
            log.error("ws: event queue full, dropped %s event", kind)

    def on_orderbook(self, ticker: str, book: OrderBook, msg: OrderbookSnapshot | OrderbookDelta) -> None:
        self._put("orderbook", (ticker, book, msg))

    def on_book_stale(self, ticker: str, reason: str) -> None:
        self._put("book_stale", (ticker, reason))

    def on_ticker(self, msg: Ticker) -> None:
        self._put("ticker", msg)

    def on_trade(self, msg: Trade) -> None:
        self._put("trade", msg)

    def on_fill(self, msg: Fill) -> None:
        self._put("fill", msg)

    def on_user_order(self, msg: UserOrder) -> None:
        self._put("user_order", msg)

    def on_market_position(self, msg: MarketPosition) -> None:
        self._put("market_position", msg)

    def on_lifecycle(self, msg: MarketLifecycle | EventLifecycle | EventFeeUpdate) -> None:
        self._put("lifecycle", msg)

    def on_cfbenchmarks(self, msg: CfbenchmarksValue) -> None:
        self._put("cfbenchmarks", msg)

    def on_order_group(self, msg: OrderGroupUpdate) -> None:
        self._put("order_group", msg)

    def on_error(self, error: KxbtcError) -> None:
        self._put("error", error)

    def on_connection(self, connected: bool) -> None:
        self._put("connection", connected)
