"""Kalshi's WebSocket stream as a pure state machine: decoded frames in, domain events out.

No sockets and no clock: the live client, the recorder and every replay feed it the frames they have,
in order, and get the same events. Sequencing follows Kalshi's rules: ``seq`` is per subscription
(sid); a ``subscribed`` starts a sid afresh; ``ok``/``unsubscribed``/``error`` replies move the expected
seq forward and are never a gap; a gap on a book sid makes every book of that sid stale (``BookStale``)
until its next snapshot; a disconnect makes every book stale. Book levels leave here canonical: YES bids
at YES-leg prices and NO bids at NO-leg prices, whatever ``use_yes_price`` the subscription used.

``accept_unannounced_sids``: recordings made by other tools may lack the ``subscribed`` replies; then
the first frame of an unknown sid starts it.
"""

from __future__ import annotations

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
    Unsubscribed,
    UserOrder,
    WireLevel,
)
from kxbtc.units import (
    Count,
    UnitError,
    parse_count,
    parse_count_cached,
    parse_money,
    parse_price,
    parse_price_cached,
)


@dataclass(slots=True)
class StreamStats:
    frames: int = 0
    book_frames: int = 0
    seq_gaps: int = 0
    bad_frames: int = 0
    disconnects: int = 0
    tickers: int = 0


class KalshiStream:
    def __init__(self, *, use_yes_price: bool, accept_unannounced_sids: bool = False) -> None:
        self.use_yes_price = use_yes_price
        self.accept_unannounced_sids = accept_unannounced_sids
        self.stats = StreamStats()
        self._next_seq: dict[int, int | None] = {}  # known sids -> expected seq (None: any)
        self._tickers: dict[int, set[str]] = {}  # book sid -> its markets

    # -- connection -------------------------------------------------------------------------------

    def disconnected(self, ts_ns: int) -> list[CoreEvent]:
        self.stats.disconnects += 1
        stale: list[CoreEvent] = [
            BookStale(t, "disconnected", ts_ns) for tickers in self._tickers.values() for t in sorted(tickers)
        ]
        self._next_seq.clear()
        self._tickers.clear()
        return stale

    def bad_frame(self, ts_ns: int, reason: str) -> list[CoreEvent]:
        """A frame that could not be decoded: every book may have missed it."""
        self.stats.bad_frames += 1
        return [
            BookStale(t, f"bad frame: {reason}", ts_ns)
            for tickers in self._tickers.values()
            for t in sorted(tickers)
        ]

    # -- frames -----------------------------------------------------------------------------------

    def on_message(self, msg: Any, ts_ns: int) -> list[CoreEvent]:
        """The domain events of one decoded message (``kxbtc.kalshi.ws_messages.decode_frame``)."""
        self.stats.frames += 1
        try:
            return self._on_message(msg, ts_ns)
        except (UnitError, ValueError) as exc:  # a field that is not a valid fixed-point string
            if isinstance(msg, OrderbookDelta | OrderbookSnapshot):
                return self._gap(msg.sid, ts_ns, f"bad book frame: {exc}")
            self.stats.bad_frames += 1
            return []

    def _on_message(self, msg: Any, ts_ns: int) -> list[CoreEvent]:
        if isinstance(msg, OrderbookDelta | OrderbookSnapshot):
            return self._on_book(msg, ts_ns)
        if isinstance(msg, Subscribed):
            self._next_seq[msg.msg.sid] = None
            return []
        if isinstance(msg, Ok | Unsubscribed | ErrorMessage | CfbenchmarksIndexList):
            self._control_seq(msg.sid, msg.seq)
            if isinstance(msg, Ok) and msg.sid is not None and msg.market_tickers is not None:
                self._tickers[msg.sid] = set(msg.market_tickers)
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
        if msg.sid not in self._next_seq:
            if not self.accept_unannounced_sids:
                return []  # a frame for a sid we never subscribed (or already dropped): ignored
            self._next_seq[msg.sid] = None
        self.stats.book_frames += 1
        ticker = msg.msg.market_ticker
        self._tickers.setdefault(msg.sid, set()).add(ticker)
        if isinstance(msg, OrderbookSnapshot):
            out = self._check_seq(msg.sid, msg.seq, ts_ns, repaired=ticker)
            body = msg.msg
            yes = _levels(body.yes_dollars_fp, flip=False)
            no = _levels(body.no_dollars_fp, flip=self.use_yes_price)
            out.append(BookSnapshot(ticker, yes, no, ts_ns))
            return out
        out = self._check_seq(msg.sid, msg.seq, ts_ns)
        d = msg.msg
        if d.side not in ("yes", "no"):
            return [*out, *self._gap(msg.sid, ts_ns, f"unknown side {d.side!r}")]
        price = parse_price_cached(d.price_dollars, "price_dollars")
        leg = Leg.YES if d.side == "yes" else Leg.NO
        if leg is Leg.NO and self.use_yes_price:
            price = complement(price)
        when = d.ts_ms * 1_000_000 if d.ts_ms is not None else ts_ns
        out.append(BookDelta(ticker, leg, price, parse_count_cached(d.delta_fp, "delta_fp"), when))
        return out

    # -- sequencing -------------------------------------------------------------------------------

    def _check_seq(self, sid: int, seq: int, ts_ns: int, repaired: str | None = None) -> list[CoreEvent]:
        if sid not in self._next_seq:
            return []
        expected = self._next_seq[sid]
        self._next_seq[sid] = seq + 1
        if expected is None or seq == expected:
            return []
        self.stats.seq_gaps += 1
        stale = self._tickers.get(sid, set()) - {repaired}
        reason = f"seq gap on sid {sid}: expected {expected}, got {seq}"
        return [BookStale(t, reason, ts_ns) for t in sorted(stale)]

    def _gap(self, sid: int, ts_ns: int, reason: str) -> list[CoreEvent]:
        self.stats.bad_frames += 1
        return [BookStale(t, reason, ts_ns) for t in sorted(self._tickers.get(sid, ()))]

    def _control_seq(self, sid: int | None, seq: int | None) -> None:
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
