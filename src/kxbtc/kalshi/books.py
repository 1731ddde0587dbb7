"""One ``OrderBook`` per market, kept from the WebSocket stream, and the rule for when one may be traded on.

A book may be traded on only while it is live: it has had a snapshot since it was last marked stale
(by a seq gap, a bad frame, a disconnect, an unsubscribe) and its market is not paused, determined or
settled. The client (``kxbtc.kalshi.ws``) decides *when* to mark and resync; this module only holds the
books, applies the stream's canonical book events (``kxbtc.kalshi.stream``: the same events a replay
applies to the core's ``BookSet``), and answers ``is_tradeable``. Unlike ``BookSet`` it refuses a crossing
update (the book goes stale and is re-snapshotted) and tracks halts and grids from lifecycle messages.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from kxbtc.book.orderbook import OrderBook
from kxbtc.domain.events import BookDelta, BookSnapshot
from kxbtc.errors import BookError
from kxbtc.kalshi.ws_messages import MarketLifecycle
from kxbtc.units import PriceGrid, PriceGridError

__all__ = ["BookManager"]

#: Lifecycle events after which a market's book must not be traded on, whatever its content.
_HALTING_EVENTS = frozenset({"determined", "settled"})


class BookManager:
    def __init__(self) -> None:
        self._books: dict[str, OrderBook] = {}
        self._grids: dict[str, PriceGrid] = {}
        #: Markets that are paused (``is_deactivated``), determined or settled: never tradeable.
        self._halted: dict[str, str] = {}

    # -----------------------------------------------------------------------------------------
    # Lookup

    def get(self, ticker: str) -> OrderBook | None:
        return self._books.get(ticker)

    def __getitem__(self, ticker: str) -> OrderBook:
        return self._books[ticker]

    def __contains__(self, ticker: object) -> bool:
        return ticker in self._books

    def __iter__(self) -> Iterator[str]:
        return iter(self._books)

    def __len__(self) -> int:
        return len(self._books)

    def book(self, ticker: str) -> OrderBook:
        """The book for ``ticker``, created empty and stale ("no snapshot yet") on first use."""
        book = self._books.get(ticker)
        if book is None:
            book = self._books[ticker] = OrderBook(ticker, self._grids.get(ticker))
        return book

    def is_tradeable(self, ticker: str) -> bool:
        """True only for a live book (snapshot received since the last stale mark) of an open market."""
        book = self._books.get(ticker)
        return book is not None and not book.stale and ticker not in self._halted

    def halted_reason(self, ticker: str) -> str | None:
        return self._halted.get(ticker)

    # -----------------------------------------------------------------------------------------
    # Updates from the stream (BookError propagates: the book is already marked stale)

    def apply(self, event: BookSnapshot | BookDelta) -> OrderBook:
        """Apply one canonical book event of ``KalshiStream``. A delta on a stale book (no snapshot yet,
        or awaiting resync) is skipped; BookError propagates, the book already marked stale."""
        book = self.book(event.ticker)
        if isinstance(event, BookDelta):
            book.apply_delta(event.leg, event.price, event.delta, no_in_yes_prices=False)
        else:
            book.apply_snapshot(event.yes_bids, event.no_bids, no_in_yes_prices=False)
        return book

    def apply_lifecycle(self, msg: MarketLifecycle) -> None:
        """Track grid changes and trading halts. Raises BookError for unusable ``price_ranges``."""
        body = msg.msg
        ticker = body.market_ticker
        if body.price_ranges is not None:
            try:
                self.set_grid(ticker, PriceGrid.from_wire(body.price_ranges_wire() or []))
            except PriceGridError as exc:
                raise BookError(f"{ticker}: bad price_ranges in {body.event_type}: {exc}") from exc
        if body.event_type in _HALTING_EVENTS:
            self._halted[ticker] = body.event_type
        elif body.is_deactivated is True:
            self._halted[ticker] = "deactivated"
        elif body.is_deactivated is False and self._halted.get(ticker) == "deactivated":
            del self._halted[ticker]

    def set_grid(self, ticker: str, grid: PriceGrid | None) -> None:
        """Use ``grid`` to reject off-grid levels (from REST ``price_ranges`` or a lifecycle message)."""
        if grid is None:
            self._grids.pop(ticker, None)
        else:
            self._grids[ticker] = grid
        book = self._books.get(ticker)
        if book is not None:
            book.set_grid(grid)

    # -----------------------------------------------------------------------------------------
    # Staleness

    def mark_stale(self, tickers: Iterable[str], reason: str) -> list[str]:
        """Mark these books stale; returns the tickers that were live until now."""
        newly: list[str] = []
        for ticker in tickers:
            book = self.book(ticker)
            if not book.stale:
                newly.append(ticker)
            book.mark_stale(reason)
        return newly

    def mark_all_stale(self, reason: str) -> list[str]:
        return self.mark_stale(list(self._books), reason)

    def remove(self, ticker: str) -> None:
        """Forget a market (closed and unsubscribed): its book, grid and halt."""
        self._books.pop(ticker, None)
        self._grids.pop(ticker, None)
        self._halted.pop(ticker, None)
