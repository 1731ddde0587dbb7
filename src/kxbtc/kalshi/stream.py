"""Kalshi's WebSocket stream as a pure state machine: decoded frames in, domain events out.

No sockets and no clock: the live client, the recorder and every replay feed it the frames they have,
in order, and get the same events. Sequencing follows Kalshi's rules: ``seq`` is per subscription
(sid); a ``subscribed`` starts a sid afresh; ``ok``/``unsubscribed``/``error`` replies move the expected
seq forward and are never a gap; a gap on a book sid makes every book of that sid stale (``BookStale``)
until its next snapshot; a book frame that cannot be read makes its own book stale; a disconnect makes
every book stale. Book levels leave here canonical: YES bids at YES-leg prices and NO bids at NO-leg
prices, whatever ``use_yes_price`` the subscription used.

The live client (``kxbtc.kalshi.ws``) runs every frame it receives through one of these too, so the rules
that decide when a book is stale are the same live and in replay; it tells the stream what it knows of
its own subscriptions (``track_book_sid``, ``set_markets``, ``forget``) and hears of gaps and unreadable
book frames through ``on_notice`` to ask for fresh snapshots.

``accept_unannounced_sids``: recordings made by other tools may lack the ``subscribed`` replies; then
the first frame of an unknown sid starts it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from kxbtc.domain.events import (
    BookDelta,
    BookSnapshot,
    BookStale,
    CoreEvent,
    FillEvent,
    IndexTick,
    MarketDetermined,
    OrderEvent,
)
from kxbtc.domain.orders import Fill as DomainFill
from kxbtc.domain.orders import OrderUpdate
from kxbtc.domain.sides import Leg, complement
from kxbtc.errors import ProtocolError
from kxbtc.kalshi.ws_messages import (
    CfbenchmarksIndexList,
    CfbenchmarksValue,
    ErrorMessage,
    Fill,
    MarketLifecycle,
    Ok,
    OrderbookDelta,
    OrderbookSnapshot,
    Subscribed,
    Ticker,
    UnknownMessage,
    Unsubscribed,
    UserOrder,
    WireLevel,
    peek_route,
)
from kxbtc.units import (
    Count,
    UnitError,
    cached_count,
    cached_price,
    parse_count,
    parse_count_cached,
    parse_money,
    parse_price,
    parse_price_cached,
)

#: The channel whose sids carry books.
ORDERBOOK_CHANNEL = "orderbook_delta"


@dataclass(slots=True)
class StreamStats:
    frames: int = 0
    book_frames: int = 0
    seq_gaps: int = 0
    #: Frames that arrived after a later one of their sid (counted in neither gaps nor books).
    late_frames: int = 0
    bad_frames: int = 0
    disconnects: int = 0
    tickers: int = 0


@dataclass(frozen=True, slots=True)
class SeqGap:
    """Frames were lost on ``sid``: ``expected`` was due and ``got`` arrived. The live client records it
    and resyncs; a replay only counts it (the ``BookStale`` events already say which books it broke)."""

    sid: int
    expected: int
    got: int


@dataclass(frozen=True, slots=True)
class BadBookFrame:
    """A book frame of ``ticker`` whose content could not be read (a bad price, size or side): that book
    alone is stale, since the frame names it and no other book's update was lost."""

    sid: int
    ticker: str
    reason: str
    snapshot: bool


#: What the stream tells an observer besides the domain events (``KalshiStream(on_notice=...)``).
StreamNotice = SeqGap | BadBookFrame

_BOOK_TYPES = ("", "orderbook_delta", "orderbook_snapshot")


class KalshiStream:
    """Sequencing and book frames of one connection. ``on_notice`` hears of every gap and unreadable book
    frame as it is found, for a caller that must act on it (the live client asks for snapshots)."""

    def __init__(
        self,
        *,
        use_yes_price: bool,
        accept_unannounced_sids: bool = False,
        on_notice: Callable[[StreamNotice], None] | None = None,
    ) -> None:
        self.use_yes_price = use_yes_price
        self.accept_unannounced_sids = accept_unannounced_sids
        self.on_notice = on_notice
        self.stats = StreamStats()
        self._next_seq: dict[int, int | None] = {}  # known sids -> expected seq (None: any)
        self._tickers: dict[int, set[str]] = {}  # book sids -> their markets (only book sids are keys)
        self._use_yes: dict[int, bool] = {}  # book sids whose ``use_yes_price`` differs from the default
        self._stale: set[str] = set()

    @property
    def stale_tickers(self) -> frozenset[str]:
        """Markets this stream made stale (a gap, a bad frame, a disconnect) and not yet re-snapshotted."""
        return frozenset(self._stale)

    # -- what the client knows of its own subscriptions -------------------------------------------

    def track_book_sid(self, sid: int, tickers: Iterable[str], *, use_yes_price: bool) -> None:
        """A book sid the caller subscribed, with its markets and price convention. A recording learns
        the markets from the frames and ``ok`` replies; the live client knows them from its commands."""
        self._tickers[sid] = set(tickers)
        if use_yes_price == self.use_yes_price:
            self._use_yes.pop(sid, None)
        else:
            self._use_yes[sid] = use_yes_price

    def set_markets(self, sid: int, tickers: Iterable[str]) -> None:
        """The markets of a book sid after ``add_markets``/``delete_markets``."""
        if sid in self._tickers:
            self._tickers[sid] = set(tickers)

    def forget(self, sid: int) -> None:
        """A sid the caller dropped (unsubscribed): its later frames are ignored and never a gap."""
        self._next_seq.pop(sid, None)
        self._tickers.pop(sid, None)
        self._use_yes.pop(sid, None)

    # -- connection -------------------------------------------------------------------------------

    def disconnected(self, ts_ns: int) -> list[CoreEvent]:
        self.stats.disconnects += 1
        every = sorted({t for tickers in self._tickers.values() for t in tickers})
        self._next_seq.clear()
        self._tickers.clear()
        self._use_yes.clear()
        return self._stale_events(every, "disconnected", ts_ns)

    def bad_frame(self, ts_ns: int, reason: str, frame: str | bytes | None = None) -> list[CoreEvent]:
        """A frame that could not be decoded. Given the frame, its readable routing fields narrow the
        damage: a sid and seq still count in the sequence, a book frame naming its market breaks only that
        book, and a non-book frame breaks none. Without them every book may have missed it."""
        self.stats.bad_frames += 1
        why = f"bad frame: {reason}"
        route = peek_route(frame) if frame is not None else None
        if route is None or route.sid is None:
            if route is None or route.type in _BOOK_TYPES:
                every = sorted({t for tickers in self._tickers.values() for t in tickers})
                return self._stale_events(every, why, ts_ns)
            return []
        sid = route.sid
        if sid not in self._next_seq:
            return []
        out = self._check_seq(sid, route.seq, ts_ns) if route.seq is not None else []
        tickers = self._tickers.get(sid)
        if tickers:
            hit = [route.market_ticker] if route.market_ticker in tickers else sorted(tickers)
            out += self._stale_events(hit, why, ts_ns)
        return out

    # -- frames -----------------------------------------------------------------------------------

    def on_message(self, msg: Any, ts_ns: int) -> list[CoreEvent]:
        """The domain events of one decoded message (``kxbtc.kalshi.ws_messages.decode_frame``)."""
        self.stats.frames += 1
        kind = type(msg)
        if kind is OrderbookDelta or kind is OrderbookSnapshot:
            return self._on_book(msg, ts_ns)
        try:
            return self._on_message(msg, ts_ns)
        except (UnitError, ValueError):  # a field that is not a valid fixed-point string
            self.stats.bad_frames += 1
            return []

    def _on_message(self, msg: Any, ts_ns: int) -> list[CoreEvent]:
        if isinstance(msg, Subscribed):
            self._next_seq[msg.msg.sid] = None
            if msg.msg.channel == ORDERBOOK_CHANNEL:
                self._tickers.setdefault(msg.msg.sid, set())
            return []
        if isinstance(msg, Ok | Unsubscribed | ErrorMessage | CfbenchmarksIndexList):
            self._control_seq(msg.sid, msg.seq)
            if isinstance(msg, Ok) and msg.sid in self._tickers and msg.market_tickers is not None:
                self._tickers[msg.sid] = set(msg.market_tickers)
            return []
        if isinstance(msg, UnknownMessage):
            route = peek_route(msg.raw)
            if route is not None and route.sid is not None and route.seq is not None:
                return self._check_seq(route.sid, route.seq, ts_ns)
            return []
        out: list[CoreEvent] = []
        sid, seq = getattr(msg, "sid", None), getattr(msg, "seq", None)
        if isinstance(sid, int) and isinstance(seq, int):
            out += self._check_seq(sid, seq, ts_ns)
        if isinstance(msg, Ticker):
            self.stats.tickers += 1
        elif isinstance(msg, CfbenchmarksValue):
            try:
                raw = msg.msg.raw()
                out.append(IndexTick(raw.time * 1_000_000, float(raw.value), "kalshi"))
            except (ProtocolError, ValueError):
                self.stats.bad_frames += 1
        elif isinstance(msg, MarketLifecycle):
            body = msg.msg
            if body.event_type == "determined" and body.result in ("yes", "no"):
                out.append(MarketDetermined(body.market_ticker, body.result, ts_ns))
        elif isinstance(msg, Fill):
            out.append(FillEvent(fill_of(msg)))
        elif isinstance(msg, UserOrder):
            out.append(OrderEvent(order_update_of(msg, ts_ns)))
        return out

    def _on_book(self, msg: OrderbookDelta | OrderbookSnapshot, ts_ns: int) -> list[CoreEvent]:
        sid = msg.sid
        next_seq = self._next_seq
        if sid not in next_seq:
            if not self.accept_unannounced_sids:
                return []  # a frame for a sid we never subscribed (or already dropped): ignored
            next_seq[sid] = None
        self.stats.book_frames += 1
        ticker = msg.msg.market_ticker
        tickers = self._tickers.get(sid)
        if tickers is None:
            tickers = self._tickers[sid] = set()
        tickers.add(ticker)
        snapshot = type(msg) is OrderbookSnapshot
        expected, seq = next_seq[sid], msg.seq
        if expected is None or seq == expected:  # in sequence (``_check_seq``'s first case, inlined)
            next_seq[sid] = seq + 1
            out: list[CoreEvent] = []
        elif seq < expected and not snapshot:
            # A delta overtaken by a later one: its book went stale when the later one showed the gap, and
            # what it says is older than the snapshot that will repair it. Dropped (``_check_seq``).
            self.stats.late_frames += 1
            return []
        else:
            out = self._check_seq(sid, seq, ts_ns, repaired=ticker if snapshot else None)
        try:
            out.append(self._book_event(msg, ts_ns))
        except (UnitError, ValueError) as exc:
            reason = f"bad book frame: {exc}"
            self.stats.bad_frames += 1
            out += self._stale_events([ticker], reason, ts_ns)
            if self.on_notice is not None:
                self.on_notice(BadBookFrame(sid, ticker, reason, snapshot))
        return out

    def _book_event(self, msg: OrderbookDelta | OrderbookSnapshot, ts_ns: int) -> BookSnapshot | BookDelta:
        """The frame as a canonical book event; UnitError/ValueError when its content is not readable."""
        use_yes = self._use_yes
        use_yes_price = use_yes.get(msg.sid, self.use_yes_price) if use_yes else self.use_yes_price
        if isinstance(msg, OrderbookSnapshot):
            body = msg.msg
            yes = _levels(body.yes_dollars_fp, flip=False)
            no = _levels(body.no_dollars_fp, flip=use_yes_price)
            self._stale.discard(body.market_ticker)
            return BookSnapshot(body.market_ticker, yes, no, ts_ns)
        d = msg.msg
        if d.side not in ("yes", "no"):
            raise ValueError(f"unknown side {d.side!r}")
        price = cached_price(d.price_dollars)  # ``parse_price_cached``, its hit inlined
        if price is None:
            price = parse_price_cached(d.price_dollars, "price_dollars")
        leg = Leg.YES if d.side == "yes" else Leg.NO
        if leg is Leg.NO and use_yes_price:
            price = complement(price)
        when = d.ts_ms * 1_000_000 if d.ts_ms is not None else ts_ns
        delta = cached_count(d.delta_fp)
        if delta is None:
            delta = parse_count_cached(d.delta_fp, "delta_fp")
        return BookDelta(d.market_ticker, leg, price, delta, when)

    # -- sequencing -------------------------------------------------------------------------------

    def _check_seq(self, sid: int, seq: int, ts_ns: int, repaired: str | None = None) -> list[CoreEvent]:
        if sid not in self._next_seq:
            return []
        expected = self._next_seq[sid]
        if expected is not None and seq < expected and repaired is None:
            # Overtaken by a later frame (a reordering path; Kalshi's one TCP stream never does it): the
            # gap it left was counted when the later one arrived, and moving the expected number back
            # would count every frame after it as a gap again. Its content still counts (a fill is a
            # fill); a late book delta never reaches here (``_on_book`` drops it).
            self.stats.late_frames += 1
            return []
        self._next_seq[sid] = seq + 1
        if expected is None or seq == expected:
            return []
        self.stats.seq_gaps += 1
        if self.on_notice is not None:
            self.on_notice(SeqGap(sid, expected, seq))
        stale = self._tickers.get(sid, set()) - {repaired}
        reason = f"seq gap on sid {sid}: expected {expected}, got {seq}"
        return self._stale_events(sorted(stale), reason, ts_ns)

    def _stale_events(self, tickers: Iterable[str], reason: str, ts_ns: int) -> list[CoreEvent]:
        out: list[CoreEvent] = []
        for ticker in tickers:
            self._stale.add(ticker)
            out.append(BookStale(ticker, reason, ts_ns))
        return out

    def _control_seq(self, sid: int | None, seq: int | None) -> None:
        # Whether a command reply takes a number in the data sequence is unknown (errata Part 2 §2.3):
        # move the expectation forward, never backward, and never call it a gap.
        if sid is None or seq is None or sid not in self._next_seq:
            return
        expected = self._next_seq[sid]
        if expected is None or seq + 1 > expected:
            self._next_seq[sid] = seq + 1


def _levels(levels: list[WireLevel] | None, *, flip: bool) -> tuple[tuple[int, int], ...]:
    out = []
    for price_text, size_text in levels or ():
        price = parse_price_cached(price_text, "level price")
        out.append((complement(price) if flip else price, parse_count_cached(size_text, "level size")))
    return tuple(out)


def fill_of(msg: Fill) -> DomainFill:
    body = msg.msg
    return DomainFill(
        fill_id=body.trade_id,
        order_id=body.order_id,
        ticker=body.market_ticker,
        side=body.book_side,
        yes_price=parse_price(body.yes_price_dollars),
        count=parse_count(body.count_fp),
        fee=parse_money(body.fee_cost),
        is_taker=body.is_taker,
        ts_ns=body.ts_ms * 1_000_000,
    )


def order_update_of(msg: UserOrder, ts_ns: int) -> OrderUpdate:
    body = msg.msg
    return OrderUpdate(
        order_id=body.order_id,
        client_order_id=body.client_order_id or "",
        ticker=body.ticker,
        side=body.book_side,
        yes_price=parse_price(body.yes_price_dollars),
        status=body.status,
        fill_count=parse_count(body.fill_count_fp),
        remaining_count=Count(parse_count(body.remaining_count_fp)),
        ts_ns=ts_ns,
    )
