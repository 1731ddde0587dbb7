"""The client's books and the stream state machine that keeps them: every frame goes through one
``KalshiStream`` (the same rules a replay runs), and its domain book events are applied to the client's
``BookManager``, which the engine reads.

This part says what happened to the books; deciding to ask for snapshots is ``ws_resync``'s job.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from kxbtc.domain.events import BookDelta, BookSnapshot, BookStale, CoreEvent
from kxbtc.kalshi.books import BookManager
from kxbtc.kalshi.stream import KalshiStream, StreamNotice
from kxbtc.kalshi.ws_core import WsContext

BookChange = BookSnapshot | BookDelta


class WsBooks:
    """``BookManager`` + ``KalshiStream`` for one client (the stream forgets its sids on a disconnect but
    keeps its counters and its stale set)."""

    def __init__(self, ctx: WsContext, books: BookManager, on_notice: Callable[[StreamNotice], None]) -> None:
        self.ctx = ctx
        self.books = books
        self.stream = KalshiStream(use_yes_price=ctx.use_yes_price, on_notice=on_notice)

    def feed(self, msg: Any) -> tuple[list[BookStale], BookChange | None]:
        """Run one decoded message through the stream: the books it made stale and the book change it
        carries, neither applied yet (the caller decides what to resync first)."""
        stale: list[BookStale] = []
        change: BookChange | None = None
        for event in self.stream.on_message(msg, self.ctx.clock.time_ns()):
            if isinstance(event, BookStale):
                stale.append(event)
            elif isinstance(event, BookSnapshot | BookDelta):
                change = event
        return stale, change

    def bad_frame(self, frame: str | bytes, reason: str) -> list[BookStale]:
        """An undecodable frame through the stream: the books it may have damaged."""
        return _stale_only(self.stream.bad_frame(self.ctx.clock.time_ns(), reason, frame))

    def disconnected(self) -> None:
        """The connection is gone: every book is stale, and the next connection's sids start afresh."""
        self.apply_stale(_stale_only(self.stream.disconnected(self.ctx.clock.time_ns())))
        self.mark_stale(list(self.books), "disconnected")  # also those whose sid was never acknowledged

    def mark_stale(self, tickers: Iterable[str], reason: str) -> None:
        """Mark these books stale; the handler hears of each one that was live until now."""
        for ticker in self.books.mark_stale(tickers, reason):
            self.ctx.emit(self.ctx.handler.on_book_stale, ticker, reason)

    def apply_stale(self, events: Iterable[BookStale]) -> None:
        for event in events:
            self.mark_stale((event.ticker,), event.reason)


def _stale_only(events: list[CoreEvent]) -> list[BookStale]:
    return [e for e in events if isinstance(e, BookStale)]
