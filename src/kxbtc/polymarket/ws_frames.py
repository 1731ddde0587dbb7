"""Applying the Polymarket market channel's frames: each decoded event goes to its local book and then
to the handler.

A book that refuses a message (bad price, off-tick level, crossed snapshot) or drifts from the venue's
reported best bid/ask is marked stale, and the client asks for a fresh snapshot by unsubscribing and
resubscribing that token (a new subscription starts with a ``book``). ``book`` events also arrive after
every trade, which repairs a book even without asking.

Bad input never stops the client: every error is typed, counted in ``stats``, passed to ``on_error`` and
logged; later frames are processed normally.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import ClientConnection

from kxbtc.errors import BookError, KxbtcError
from kxbtc.polymarket.book import PolyBook
from kxbtc.polymarket.messages import (
    BestBidAskEvent,
    BookEvent,
    LastTradePriceEvent,
    MarketResolvedEvent,
    NewMarketEvent,
    PriceChange,
    PriceChangeEvent,
    TickSizeChangeEvent,
    UnknownEvent,
    decode_ws_frame,
    update_message,
)
from kxbtc.polymarket.ws_handlers import PolyWsHandler, PolyWsStats

# The records keep the logger name they had when this code lived in ``kxbtc.polymarket.ws``.
log = logging.getLogger("kxbtc.polymarket.ws")


class PolyFrames:
    """The frame side of ``PolymarketWsClient``: books, dispatch to the handler, error accounting."""

    # Set by the client's constructor.
    books: dict[str, PolyBook]
    handler: PolyWsHandler
    stats: PolyWsStats
    _ws: ClientConnection | None
    _subscribed_on_this_connection: bool
    _custom_features: bool
    _resyncing: set[str]
    _tasks: set[asyncio.Future[None]]

    async def _send(self, ws: ClientConnection, text: str) -> None:
        raise NotImplementedError

    def _handle_frame(self, frame: str | bytes) -> None:
        self.stats.frames += 1
        decoded = decode_ws_frame(frame)
        if decoded.control == "PONG":
            self.stats.pongs += 1
        for error in decoded.errors:
            self._record(error)
        for event in decoded.events:
            if isinstance(event, BookEvent):
                self._on_book(event)
            elif isinstance(event, PriceChangeEvent):
                self._on_price_change(event)
            elif isinstance(event, TickSizeChangeEvent):
                self._on_tick_size(event)
            elif isinstance(event, LastTradePriceEvent):
                self._emit(self.handler.on_last_trade, event)
            elif isinstance(event, BestBidAskEvent):
                self._emit(self.handler.on_best_bid_ask, event)
            elif isinstance(event, MarketResolvedEvent):
                self._emit(self.handler.on_market_resolved, event)
            elif isinstance(event, NewMarketEvent):
                self._emit(self.handler.on_new_market, event)
            elif isinstance(event, UnknownEvent):
                self.stats.unknown_events += 1
                log.debug("poly ws: unknown event_type %r", event.event_type)

    def _on_book(self, event: BookEvent) -> None:
        book = self.books.get(event.asset_id)
        if book is None:
            return  # a token we no longer want (unsubscribe in flight)
        try:
            book.apply_snapshot(event)
        except BookError as exc:
            self._book_failed(event.asset_id, exc, ask_again=False)
            return
        self._resyncing.discard(event.asset_id)
        self._emit(self.handler.on_book, event.asset_id, book, event)

    def _on_price_change(self, event: PriceChangeEvent) -> None:
        by_asset: dict[str, list[PriceChange]] = {}
        for change in event.price_changes:
            by_asset.setdefault(change.asset_id, []).append(change)
        for asset, changes in by_asset.items():
            book = self.books.get(asset)
            if book is None:
                continue
            try:
                book.apply_changes(changes, event.timestamp)
            except BookError as exc:
                self._book_failed(asset, exc, ask_again=True)
                continue
            if not book.stale:
                self._emit(self.handler.on_book, asset, book, event)

    def _on_tick_size(self, event: TickSizeChangeEvent) -> None:
        book = self.books.get(event.asset_id)
        if book is not None:
            try:
                book.set_tick(event.new_tick_size)
            except BookError as exc:
                self._book_failed(event.asset_id, exc, ask_again=True)
        self._emit(self.handler.on_tick_size, event)

    def _book_failed(self, asset: str, exc: BookError, *, ask_again: bool) -> None:
        self._record(exc)
        self._emit(self.handler.on_book_stale, asset, str(exc))
        # A bad snapshot is not asked for again at once (that could loop at network speed): the next
        # trade brings another ``book``.
        if ask_again and asset not in self._resyncing:
            self._resyncing.add(asset)
            self.stats.snapshot_requests += 1
            ws = self._ws
            if ws is not None and self._subscribed_on_this_connection:
                task = asyncio.ensure_future(self._resubscribe(ws, asset))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _resubscribe(self, ws: ClientConnection, asset: str) -> None:
        await self._send(ws, update_message([asset], "unsubscribe", custom_features=self._custom_features))
        await self._send(ws, update_message([asset], "subscribe", custom_features=self._custom_features))

    # -----------------------------------------------------------------------------------------
    # Plumbing

    def _record(self, error: KxbtcError) -> None:
        self.stats.errors[type(error).__name__] += 1
        self.stats.recent_errors.append(error)
        log.warning("poly ws: %s: %s", type(error).__name__, error)
        self._emit(self.handler.on_error, error)

    def _emit(self, callback: Callable[..., None], *args: Any) -> None:
        try:
            callback(*args)
        except Exception:
            self.stats.handler_errors += 1
            log.exception("poly ws: handler %s raised", getattr(callback, "__name__", repr(callback)))
