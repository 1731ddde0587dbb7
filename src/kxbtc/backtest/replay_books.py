"""Order books rebuilt from recorded WebSocket frames, by the rules the live client applies them.

The books are the production ``BookManager``/``OrderBook`` and every frame goes through the production
decoder. Sequencing follows ``KalshiWsClient``: ``seq`` is per sid; a ``subscribed`` starts a sid
afresh; ``ok``/``unsubscribed``/``error`` replies move the expected seq forward and are never a gap; a
gap on a book sid marks every book of that sid stale, and a stale book skips deltas until its next
snapshot. A disconnect marks every book stale. A frame that cannot be decoded marks the books it may
have concerned stale, as the client does.

A snapshot that arrives for a book that is live is a checkpoint: the book rebuilt from deltas must
equal it. ``snapshot_checks`` counts those, ``snapshot_mismatches`` the ones that differed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kxbtc.book.orderbook import OrderBook
from kxbtc.errors import BookError, ProtocolError
from kxbtc.kalshi.books import BookManager
from kxbtc.kalshi.ws_messages import (
    CfbenchmarksIndexList,
    ErrorMessage,
    MarketLifecycle,
    Ok,
    OrderbookDelta,
    OrderbookSnapshot,
    Subscribed,
    Unsubscribed,
    decode_frame,
    peek_route,
)


@dataclass(slots=True)
class BookStats:
    seq_gaps: int = 0
    book_errors: int = 0
    bad_frames: int = 0
    disconnects: int = 0
    snapshot_checks: int = 0
    snapshot_mismatches: int = 0


class BookReplayer:
    """Feed it decoded frames in recorded order; it keeps ``books`` as the live client would have."""

    def __init__(self, *, use_yes_price: bool) -> None:
        self.use_yes_price = use_yes_price
        self.books = BookManager()
        self.connected = False
        self.stats = BookStats()
        self._next_seq: dict[int, int | None] = {}  # known sids -> expected seq (None: any)
        self._tickers: dict[int, set[str]] = {}  # book sid -> its markets

    def is_tradeable(self, ticker: str) -> bool:
        return self.connected and self.books.is_tradeable(ticker)

    def on_connection(self, up: bool) -> None:
        self.connected = up
        if not up:
            self.stats.disconnects += 1
            self.books.mark_all_stale("disconnected")
            self._next_seq.clear()
            self._tickers.clear()

    def decode(self, frame: bytes) -> Any:
        """The typed message of a recorded frame, or None (and the books it may concern marked stale)."""
        try:
            return decode_frame(frame)
        except ProtocolError as exc:
            self._bad_frame(frame, exc)
            return None

    def on_message(self, msg: Any) -> OrderBook | None:
        """Apply one decoded message; returns the book it changed, when that book is live afterwards."""
        if isinstance(msg, OrderbookDelta | OrderbookSnapshot):
            return self._on_book(msg)
        if isinstance(msg, Subscribed):
            self._next_seq[msg.msg.sid] = None
            return None
        if isinstance(msg, Ok | Unsubscribed | ErrorMessage | CfbenchmarksIndexList):
            self._control_seq(msg.sid, msg.seq)
            if isinstance(msg, Ok) and msg.sid is not None and msg.market_tickers is not None:
                self._tickers[msg.sid] = set(msg.market_tickers)
            return None
        if isinstance(msg, MarketLifecycle):
            try:
                self.books.apply_lifecycle(msg)
            except BookError:
                self.stats.book_errors += 1
        sid, seq = getattr(msg, "sid", None), getattr(msg, "seq", None)
        if isinstance(sid, int) and isinstance(seq, int):
            self._check_seq(sid, seq)
        return None

    # -- books ------------------------------------------------------------------------------------

    def _on_book(self, msg: OrderbookDelta | OrderbookSnapshot) -> OrderBook | None:
        if msg.sid not in self._next_seq:
            return None  # a frame for a sid we never subscribed (or already dropped): the client ignores it
        ticker = msg.msg.market_ticker
        self._tickers.setdefault(msg.sid, set()).add(ticker)
        snapshot = isinstance(msg, OrderbookSnapshot)
        self._check_seq(msg.sid, msg.seq, repaired=ticker if snapshot else None)
        try:
            if isinstance(msg, OrderbookSnapshot):
                self._checkpoint(msg)
                book = self.books.apply_snapshot(msg, use_yes_price=self.use_yes_price)
            else:
                book = self.books.apply_delta(msg, use_yes_price=self.use_yes_price)
        except BookError:
            self.stats.book_errors += 1  # the book marked itself stale: it waits for a snapshot
            return None
        return None if book.stale else book

    def _checkpoint(self, msg: OrderbookSnapshot) -> None:
        book = self.books.get(msg.msg.market_ticker)
        if book is None or book.stale:
            return
        fresh = OrderBook(book.ticker, book.grid)
        try:
            fresh.apply_snapshot_msg(msg.msg, use_yes_price=self.use_yes_price)
        except BookError:
            return  # the real apply below reports it
        self.stats.snapshot_checks += 1
        if fresh.to_levels() != book.to_levels():
            self.stats.snapshot_mismatches += 1

    # -- sequencing -------------------------------------------------------------------------------

    def _check_seq(self, sid: int, seq: int, repaired: str | None = None) -> None:
        if sid not in self._next_seq:
            return
        expected = self._next_seq[sid]
        self._next_seq[sid] = seq + 1
        if expected is not None and seq != expected:
            self.stats.seq_gaps += 1
            stale = self._tickers.get(sid, set()) - {repaired}
            self.books.mark_stale(sorted(stale), f"seq gap on sid {sid}: expected {expected}, got {seq}")

    def _control_seq(self, sid: int | None, seq: int | None) -> None:
        if sid is None or seq is None or sid not in self._next_seq:
            return
        expected = self._next_seq[sid]
        if expected is None or seq + 1 > expected:
            self._next_seq[sid] = seq + 1

    def _bad_frame(self, data: bytes, exc: ProtocolError) -> None:
        self.stats.bad_frames += 1
        route = peek_route(data)
        if route is not None and route.sid is not None and route.sid in self._tickers:
            if route.seq is not None:
                self._check_seq(route.sid, route.seq)
            self.books.mark_stale(sorted(self._tickers[route.sid]), f"bad frame: {exc}")
        elif route is None or route.type in ("", "orderbook_delta", "orderbook_snapshot"):
            self.books.mark_all_stale(f"unroutable bad frame: {exc}")
