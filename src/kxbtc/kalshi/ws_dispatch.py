"""Frame dispatch: decode each frame, run it through the stream, and hand it to whichever part owns it
(books and resync, command replies, subscription acks) and then to the handler.

Every frame goes through the client's ``KalshiStream``: its rules decide the sequence (per sid, replies
never a gap), which books a gap or a bad frame makes stale, and the canonical book events the books are
kept from. This module only acts on what the stream says: books it made stale get their snapshots asked
for, and a gap or an unreadable frame is recorded as a typed error.

Bad input never stops the client: a malformed frame, an unknown type, a missing field, a bad price or a
book that would become invalid is logged and counted as a typed error (``stats``, ``on_error``), the
affected book is marked stale and resynced (every book, when a frame is too broken to say whose it was),
and later frames are processed normally.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from kxbtc.domain.events import BookSnapshot
from kxbtc.errors import BookError, ProtocolError
from kxbtc.kalshi.stream import BadBookFrame, SeqGap, StreamNotice
from kxbtc.kalshi.ws_books import WsBooks
from kxbtc.kalshi.ws_commands import WsCommands
from kxbtc.kalshi.ws_core import WsContext
from kxbtc.kalshi.ws_errors import SeqGapError, UnknownMessageTypeError
from kxbtc.kalshi.ws_messages import (
    CfbenchmarksIndexList,
    CfbenchmarksValue,
    ErrorMessage,
    EventFeeUpdate,
    EventLifecycle,
    Fill,
    MarketLifecycle,
    MarketPosition,
    Ok,
    OrderbookDelta,
    OrderbookSnapshot,
    OrderGroupUpdate,
    Subscribed,
    Ticker,
    Trade,
    UnknownMessage,
    Unsubscribed,
    UserOrder,
    decode_frame,
    peek_route,
)
from kxbtc.kalshi.ws_resync import SnapshotResync
from kxbtc.kalshi.ws_subscriptions import WsSubscriptions


class WsDispatch:
    """Routes each frame to its part and to the handler."""

    def __init__(
        self,
        ctx: WsContext,
        books: WsBooks,
        commands: WsCommands,
        subs: WsSubscriptions,
        resync: SnapshotResync,
    ) -> None:
        self.ctx = ctx
        self.books = books
        self.commands = commands
        self.subs = subs
        self.resync = resync
        self._unknown_kinds: set[str] = set()
        self._bad_book: BadBookFrame | None = None
        self._handlers: dict[type, Callable[[Any], None]] = {
            OrderbookDelta: self._on_book_frame,
            OrderbookSnapshot: self._on_book_frame,
            Subscribed: self.subs.on_subscribed,
            Ok: self._on_reply,
            Unsubscribed: self._on_reply,
            CfbenchmarksIndexList: self._on_reply,
            ErrorMessage: self._on_error_frame,
            MarketLifecycle: self._on_market_lifecycle,
            UnknownMessage: self._on_unknown,
        }
        handler_of: dict[type, str] = {
            Ticker: "on_ticker",
            Trade: "on_trade",
            Fill: "on_fill",
            UserOrder: "on_user_order",
            MarketPosition: "on_market_position",
            EventLifecycle: "on_lifecycle",
            EventFeeUpdate: "on_lifecycle",
            CfbenchmarksValue: "on_cfbenchmarks",
            OrderGroupUpdate: "on_order_group",
        }
        for kind, name in handler_of.items():
            self._handlers[kind] = self._passing_to(name)

    # -- frames ------------------------------------------------------------------------------------

    def handle_frame(self, frame: str | bytes) -> None:
        self.ctx.stats.frames += 1
        try:
            msg = decode_frame(frame)
        except ProtocolError as exc:
            self._on_bad_frame(frame, exc)
            return
        self._handlers[type(msg)](msg)

    def on_notice(self, notice: StreamNotice) -> None:
        """The stream found a gap or an unreadable book frame while reading one."""
        if isinstance(notice, SeqGap):
            sub = self.subs.by_sid(notice.sid)
            self.ctx.stats.seq_gaps += 1
            channel = sub.channel if sub is not None else "?"
            self.ctx.record(SeqGapError(notice.sid, channel, notice.expected, notice.got))
        else:
            self._bad_book = notice  # acted on once the frame's events are in (_on_book_frame)

    def _sequence(self, msg: Any) -> None:
        """A frame that is not a book's: through the stream for its seq (a gap may stale books)."""
        stale, _ = self.books.feed(msg)
        self.resync.after_stale(self.subs.all, stale)

    # -- books -------------------------------------------------------------------------------------

    def _on_book_frame(self, msg: OrderbookDelta | OrderbookSnapshot) -> None:
        sub = self.subs.by_sid(msg.sid)
        if sub is None:
            return  # a frame for a sid we dropped (unsubscribe in flight): ignore
        self._take_bad_book()
        stale, change = self.books.feed(msg)
        bad = self._take_bad_book()
        if bad is not None:
            stale = [e for e in stale if e.ticker != bad.ticker]  # book_failed below speaks for it
        self.resync.after_stale(self.subs.all, stale)
        ticker = msg.msg.market_ticker
        if bad is not None:
            error = BookError(f"{ticker}: {bad.reason}")
            self.resync.book_failed(sub, ticker, error, snapshot=bad.snapshot)
            return
        if change is None:
            return
        try:
            book = self.books.books.apply(change)
        except BookError as exc:
            self.resync.book_failed(sub, ticker, exc, snapshot=isinstance(change, BookSnapshot))
            return
        if isinstance(change, BookSnapshot):
            sub.bad_snapshots.pop(ticker, None)
            self.resync.settled(sub, ticker)
        elif book.stale:
            # Skipped: the book awaits a snapshot. If nobody asked for one yet (a delta before any
            # snapshot, or a book made stale elsewhere), ask now.
            if ticker not in sub.pending_snapshots:
                self.resync.request(sub, (ticker,), book.stale_reason or "delta on a stale book")
            return
        self.ctx.emit(self.ctx.handler.on_orderbook, ticker, book, msg)

    def _take_bad_book(self) -> BadBookFrame | None:
        bad, self._bad_book = self._bad_book, None
        return bad

    def _on_bad_frame(self, frame: str | bytes, exc: ProtocolError) -> None:
        self.ctx.record(exc)
        stale = self.books.bad_frame(frame, str(exc))
        route = peek_route(frame)
        if route is not None and route.type == "orderbook_snapshot":
            sub = self.subs.by_sid(route.sid)
            if sub is not None:  # a bad snapshot must be asked for again
                sub.pending_snapshots.difference_update(e.ticker for e in stale)
        self.resync.after_stale(self.subs.all, stale)

    def _on_market_lifecycle(self, msg: MarketLifecycle) -> None:
        self._sequence(msg)
        books = self.books.books
        ticker = msg.msg.market_ticker
        was_tradeable = books.is_tradeable(ticker)
        try:
            books.apply_lifecycle(msg)
        except BookError as exc:
            self.ctx.record(exc)
        if was_tradeable and not books.is_tradeable(ticker):
            self.ctx.emit(self.ctx.handler.on_book_stale, ticker, f"market {msg.msg.event_type}")
        self.ctx.emit(self.ctx.handler.on_lifecycle, msg)

    # -- replies and the rest ----------------------------------------------------------------------

    def _on_reply(self, msg: Ok | Unsubscribed | CfbenchmarksIndexList) -> None:
        self._sequence(msg)
        self.commands.resolve(msg.id, msg)

    def _on_error_frame(self, msg: ErrorMessage) -> None:
        self._sequence(msg)
        error, answered = self.commands.refused(msg)
        sub = self.subs.by_sid(msg.sid)
        if not answered and sub is not None and error.terminal:
            self.ctx.spawn(self.subs.resubscribe(sub))

    def _on_unknown(self, msg: UnknownMessage) -> None:
        # A new message type may arrive often: log it once at warning level, count every one.
        first = msg.type not in self._unknown_kinds
        self._unknown_kinds.add(msg.type)
        self.ctx.record(UnknownMessageTypeError(msg.type), level=logging.WARNING if first else logging.DEBUG)
        self._sequence(msg)

    def _passing_to(self, name: str) -> Callable[[Any], None]:
        """A channel message the client only sequences and hands to the handler's ``name``."""

        def handle(msg: Any) -> None:
            self._sequence(msg)
            self.ctx.emit(getattr(self.ctx.handler, name), msg)

        handle.__name__ = name
        return handle
