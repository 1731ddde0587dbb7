"""The books the core trades on: applied from domain book events, or read from a venue client that keeps
them (the live Kalshi client applies the same ``KalshiStream`` events to its own books, which also track
market halts, and the core reads them through ``BookSource``)."""

from __future__ import annotations

from typing import Protocol

from kxbtc.book.orderbook import OrderBook
from kxbtc.domain.events import BookDelta, BookSnapshot, BookStale
from kxbtc.errors import BookError
from kxbtc.units import PriceGrid


class BookSource(Protocol):
    def get(self, ticker: str) -> OrderBook | None: ...

    def is_tradeable(self, ticker: str) -> bool: ...


class BookSet:
    """One ``OrderBook`` per market, kept from events. A rejected update leaves the book stale (the
    ``OrderBook`` rules) until the next snapshot."""

    def __init__(self) -> None:
        self._books: dict[str, OrderBook] = {}
        self.errors = 0

    def get(self, ticker: str) -> OrderBook | None:
        return self._books.get(ticker)

    def is_tradeable(self, ticker: str) -> bool:
        book = self._books.get(ticker)
        return book is not None and not book.stale and not book.crossed

    def add(self, ticker: str, grid: PriceGrid | None) -> None:
        if ticker not in self._books:
            book = OrderBook(ticker, grid, tolerate_cross=True)
            book.mark_stale("no snapshot yet")
            self._books[ticker] = book

    def remove(self, ticker: str) -> None:
        self._books.pop(ticker, None)

    def apply(self, event: BookSnapshot | BookDelta | BookStale) -> OrderBook | None:
        """Apply one event; the book it changed, or None (unknown market, or the update was refused)."""
        book = self._books.get(event.ticker)
        if book is None:
            return None
        try:
            if isinstance(event, BookDelta):
                book.apply_delta(event.leg, event.price, event.delta, no_in_yes_prices=False)
            elif isinstance(event, BookSnapshot):
                book.apply_snapshot(event.yes_bids, event.no_bids, no_in_yes_prices=False)
            else:
                book.mark_stale(event.reason)
                return None
        except BookError:
            self.errors += 1
            return None
        return None if book.stale or book.crossed else book
