"""What the Polymarket market-channel client reports: the handler callbacks the engine overrides, and
the counters in ``stats``.

Handlers are called synchronously from the reader task and must not block; an exception in a handler is
logged and counted, never fatal.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from kxbtc.errors import KxbtcError
from kxbtc.polymarket.book import PolyBook
from kxbtc.polymarket.messages import (
    BestBidAskEvent,
    BookEvent,
    LastTradePriceEvent,
    MarketResolvedEvent,
    NewMarketEvent,
    PriceChangeEvent,
    TickSizeChangeEvent,
)

# The records keep the logger name they had when this code lived in ``kxbtc.polymarket.ws``.
log = logging.getLogger("kxbtc.polymarket.ws")


class PolyWsHandler:
    """Callbacks for the engine; override what you need. Called from the reader task: do not block."""

    def on_book(self, asset_id: str, book: PolyBook, msg: BookEvent | PriceChangeEvent) -> None:
        """A snapshot or a change was applied to a live book."""

    def on_book_stale(self, asset_id: str, reason: str) -> None:
        """A book became stale: stop trading on it until the next ``on_book`` from a snapshot."""

    def on_tick_size(self, msg: TickSizeChangeEvent) -> None: ...

    def on_last_trade(self, msg: LastTradePriceEvent) -> None: ...

    def on_best_bid_ask(self, msg: BestBidAskEvent) -> None: ...

    def on_market_resolved(self, msg: MarketResolvedEvent) -> None: ...

    def on_new_market(self, msg: NewMarketEvent) -> None: ...

    def on_error(self, error: KxbtcError) -> None:
        """A typed error the client survived (bad frame, refused book update, disconnect)."""

    def on_connection(self, connected: bool) -> None: ...


class PolyQueueHandler(PolyWsHandler):
    """Puts every event on ``queue`` as ``(kind, payload)``; ``kind`` is the callback name minus ``on_``."""

    def __init__(self, maxsize: int = 0) -> None:
        self.queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue(maxsize)

    def _put(self, kind: str, payload: Any) -> None:
        try:
            self.queue.put_nowait((kind, payload))
        except asyncio.QueueFull:
            log.error("poly ws: event queue full, dropped %s event", kind)

    def on_book(self, asset_id: str, book: PolyBook, msg: BookEvent | PriceChangeEvent) -> None:
        self._put("book", (asset_id, book, msg))

    def on_book_stale(self, asset_id: str, reason: str) -> None:
        self._put("book_stale", (asset_id, reason))

    def on_tick_size(self, msg: TickSizeChangeEvent) -> None:
        self._put("tick_size", msg)

    def on_last_trade(self, msg: LastTradePriceEvent) -> None:
        self._put("last_trade", msg)

    def on_best_bid_ask(self, msg: BestBidAskEvent) -> None:
        self._put("best_bid_ask", msg)

    def on_market_resolved(self, msg: MarketResolvedEvent) -> None:
        self._put("market_resolved", msg)

    def on_new_market(self, msg: NewMarketEvent) -> None:
        self._put("new_market", msg)

    def on_error(self, error: KxbtcError) -> None:
        self._put("error", error)

    def on_connection(self, connected: bool) -> None:
        self._put("connection", connected)


@dataclass
class PolyWsStats:
    frames: int = 0
    connects: int = 0
    disconnects: int = 0
    connect_failures: int = 0
    pings_sent: int = 0
    pongs: int = 0
    liveness_timeouts: int = 0
    snapshot_requests: int = 0
    unknown_events: int = 0
    handler_errors: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    recent_errors: deque[KxbtcError] = field(default_factory=lambda: deque(maxlen=100))
