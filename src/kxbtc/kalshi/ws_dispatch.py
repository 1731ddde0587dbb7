"""Per-channel dispatch of decoded frames: seq checks, book maintenance and resync on gaps or bad
input, command replies, and the handler callbacks."""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable
from typing import Any

from kxbtc.errors import BookError, ProtocolError
from kxbtc.kalshi.ws_core import ORDERBOOK_CHANNEL
from kxbtc.kalshi.ws_errors import SeqGapError, UnknownMessageTypeError, WsCommandError
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
from kxbtc.kalshi.ws_state import Subscription
from kxbtc.kalshi.ws_subscriptions import WsSubscriptions

# Every part of the client logs as ``kxbtc.kalshi.ws``, the module it grew out of.
log = logging.getLogger("kxbtc.kalshi.ws")


#: Consecutive invalid snapshots of one book after which the client stops asking for more.
MAX_BAD_SNAPSHOTS = 3


class WsFrameDispatch(WsSubscriptions):
    """Routes each decoded frame to its handler method; keeps seqs and books consistent."""

    @functools.cached_property
    def _dispatch(self) -> dict[type, Callable[[Any], None]]:
        """The handler of each decoded message type (built on first use, then an instance attribute)."""
        return {
            OrderbookDelta: self._on_delta,
            OrderbookSnapshot: self._on_snapshot,
            Ticker: self._on_ticker,
            Trade: self._on_trade,
            Fill: self._on_fill,
            UserOrder: self._on_user_order,
            MarketPosition: self._on_market_position,
            MarketLifecycle: self._on_market_lifecycle,
            EventLifecycle: self._on_event_lifecycle,
            EventFeeUpdate: self._on_event_lifecycle,
            CfbenchmarksValue: self._on_cfbenchmarks,
            CfbenchmarksIndexList: self._on_indexlist,
            OrderGroupUpdate: self._on_order_group,
            Subscribed: self._on_subscribed,
            Ok: self._on_ok,
            Unsubscribed: self._on_unsubscribed,
            ErrorMessage: self._on_error_frame,
            UnknownMessage: self._on_unknown,
        }

    # -----------------------------------------------------------------------------------------
    # Frames

    def _handle_frame(self, frame: str | bytes) -> None:
        self.stats.frames += 1
        try:
            msg = decode_frame(frame)
        except ProtocolError as exc:
            self._on_bad_frame(frame, exc)
            return
        self._dispatch[type(msg)](msg)

    def _check_seq(self, sid: int, seq: int) -> Subscription | None:
        """The frame's subscription, after checking its seq (a gap starts a resync)."""
        sub = self._by_sid.get(sid)
        if sub is None:
            return None  # a frame for a sid we dropped (unsubscribe in flight): ignore
        self._check_sub_seq(sub, sid, seq)
        return sub

    def _check_sub_seq(self, sub: Subscription, sid: int, seq: int) -> None:
        expected = sub.next_seq
        sub.next_seq = seq + 1
        if expected is not None and seq != expected:
            self.stats.seq_gaps += 1
            self._record(SeqGapError(sid, sub.channel, expected, seq))
            if sub.channel == ORDERBOOK_CHANNEL:
                self._request_snapshots(sub, sub.market_tickers, f"seq gap on sid {sid}")

    def _on_delta(self, msg: OrderbookDelta) -> None:
        # The hot path: keep it to a few lookups and one call into the book.
        sub = self._by_sid.get(msg.sid)
        if sub is None:
            return
        seq = msg.seq
        if sub.next_seq == seq:
            sub.next_seq = seq + 1
        else:
            self._check_sub_seq(sub, msg.sid, seq)
        ticker = msg.msg.market_ticker
        try:
            book = self.books.apply_delta(msg, use_yes_price=sub.use_yes_price)
        except BookError as exc:
            self._book_failed(sub, ticker, exc, snapshot=False)
            return
        if book.stale:
            # Skipped: the book awaits a snapshot. If nobody asked for one yet (a delta before any
            # snapshot, or a book made stale elsewhere), ask now.
            if ticker not in sub.pending_snapshots:
                self._request_snapshots(sub, (ticker,), book.stale_reason or "delta on a stale book")
            return
        try:
            self.handler.on_orderbook(ticker, book, msg)
        except Exception:
            self._handler_failed("on_orderbook")

    def _on_snapshot(self, msg: OrderbookSnapshot) -> None:
        sub = self._by_sid.get(msg.sid)
        if sub is None:
            return
        ticker = msg.msg.market_ticker
        # The snapshot repairs its own book even when it also reveals a gap: do not re-request it.
        sub.pending_snapshots.add(ticker)
        self._check_sub_seq(sub, msg.sid, msg.seq)
        try:
            book = self.books.apply_snapshot(msg, use_yes_price=sub.use_yes_price)
        except BookError as exc:
            self._book_failed(sub, ticker, exc, snapshot=True)
            return
        sub.bad_snapshots.pop(ticker, None)
        self._snapshot_settled(sub, ticker)
        self._emit(self.handler.on_orderbook, ticker, book, msg)

    @staticmethod
    def _snapshot_settled(sub: Subscription, ticker: str) -> None:
        """``ticker``'s snapshot arrived (or will not be asked for again): wake whoever waits for it."""
        sub.pending_snapshots.discard(ticker)
        if not sub.pending_snapshots:
            sub.resync_started = None
        if sub.snapshot_waiters:
            waiting = []
            for wanted, future in sub.snapshot_waiters:
                if future.done():
                    continue
                if wanted & sub.pending_snapshots:
                    waiting.append((wanted, future))
                else:
                    future.set_result(None)
            sub.snapshot_waiters = waiting

    def _book_failed(self, sub: Subscription, ticker: str, exc: BookError, *, snapshot: bool) -> None:
        """The book refused a message and is stale now: ask for a fresh snapshot."""
        self._record(exc)
        sub.pending_snapshots.discard(ticker)  # so that _request_snapshots asks again
        self._emit(self.handler.on_book_stale, ticker, str(exc))
        if snapshot:
            sub.bad_snapshots[ticker] += 1
            if sub.bad_snapshots[ticker] >= MAX_BAD_SNAPSHOTS:
                # Asking again would loop at network speed; the book stays stale (untradeable).
                self._record(ProtocolError(f"{ticker}: {MAX_BAD_SNAPSHOTS} bad snapshots in a row"))
                self._snapshot_settled(sub, ticker)
                return
        self._request_snapshots(sub, (ticker,), str(exc))

    def _on_bad_frame(self, frame: str | bytes, exc: ProtocolError) -> None:
        self._record(exc)
        route = peek_route(frame)
        if route is None or route.sid is None:
            if route is None or route.type in ("", "orderbook_delta", "orderbook_snapshot"):
                # It may have been any book's update: none of them can be trusted until re-snapshotted.
                for book_sub in self._subs:
                    if book_sub.channel == ORDERBOOK_CHANNEL and book_sub.sid is not None:
                        self._request_snapshots(
                            book_sub, book_sub.market_tickers, f"unroutable bad frame: {exc}"
                        )
            return
        sub = self._by_sid.get(route.sid)
        if sub is None:
            return
        if route.seq is not None:
            self._check_sub_seq(sub, route.sid, route.seq)
        if sub.channel == ORDERBOOK_CHANNEL:
            subscribed = sub.market_tickers
            tickers = [route.market_ticker] if route.market_ticker in subscribed else subscribed
            if route.type == "orderbook_snapshot":
                sub.pending_snapshots.difference_update(tickers)  # a bad snapshot must be asked for again
            self._request_snapshots(sub, tickers, f"bad frame: {exc}")

    def _on_unknown(self, msg: UnknownMessage) -> None:
        # A new message type may arrive often: log it once at warning level, count every one.
        first = msg.type not in self._unknown_kinds
        self._unknown_kinds.add(msg.type)
        self._record(UnknownMessageTypeError(msg.type), level=logging.WARNING if first else logging.DEBUG)
        route = peek_route(msg.raw)
        if route is not None and route.sid is not None and route.seq is not None:
            self._check_seq(route.sid, route.seq)

    def _on_ticker(self, msg: Ticker) -> None:
        self._seq_if_any(msg.sid, msg.seq)
        self._emit(self.handler.on_ticker, msg)

    def _on_trade(self, msg: Trade) -> None:
        self._seq_if_any(msg.sid, msg.seq)
        self._emit(self.handler.on_trade, msg)

    def _on_fill(self, msg: Fill) -> None:
        self._seq_if_any(msg.sid, msg.seq)
        self._emit(self.handler.on_fill, msg)

    def _on_user_order(self, msg: UserOrder) -> None:
        self._seq_if_any(msg.sid, msg.seq)
        self._emit(self.handler.on_user_order, msg)

    def _on_market_position(self, msg: MarketPosition) -> None:
        self._seq_if_any(msg.sid, msg.seq)
        self._emit(self.handler.on_market_position, msg)

    def _on_market_lifecycle(self, msg: MarketLifecycle) -> None:
        self._seq_if_any(msg.sid, msg.seq)
        ticker = msg.msg.market_ticker
        was_tradeable = self.books.is_tradeable(ticker)
        try:
            self.books.apply_lifecycle(msg)
        except BookError as exc:
            self._record(exc)
        if was_tradeable and not self.books.is_tradeable(ticker):
            self._emit(self.handler.on_book_stale, ticker, f"market {msg.msg.event_type}")
        self._emit(self.handler.on_lifecycle, msg)

    def _on_event_lifecycle(self, msg: EventLifecycle | EventFeeUpdate) -> None:
        self._seq_if_any(msg.sid, msg.seq)
        self._emit(self.handler.on_lifecycle, msg)

    def _on_cfbenchmarks(self, msg: CfbenchmarksValue) -> None:
        self._check_seq(msg.sid, msg.seq)
        self._emit(self.handler.on_cfbenchmarks, msg)

    def _on_order_group(self, msg: OrderGroupUpdate) -> None:
        self._check_seq(msg.sid, msg.seq)
        self._emit(self.handler.on_order_group, msg)

    def _on_indexlist(self, msg: CfbenchmarksIndexList) -> None:
        self._control_seq(msg.sid, msg.seq)
        self._resolve(msg.id, msg)

    def _seq_if_any(self, sid: int, seq: int | None) -> None:
        if seq is not None:
            self._check_seq(sid, seq)

    def _control_seq(self, sid: int | None, seq: int | None) -> None:
        # Whether a command reply takes a number in the data sequence is unknown (errata Part 2 §2.3):
        # move the expectation forward, never backward, and never call it a gap.
        if sid is None or seq is None:
            return
        sub = self._by_sid.get(sid)
        if sub is not None and (sub.next_seq is None or seq + 1 > sub.next_seq):
            sub.next_seq = seq + 1

    def _on_subscribed(self, msg: Subscribed) -> None:
        pending = self._pending.get(msg.id)
        channel, sid = msg.msg.channel, msg.msg.sid
        sub = pending.waiting.pop(channel, None) if pending is not None else None
        if pending is None or sub is None:
            log.warning("ws: unexpected subscribed ack id=%s channel=%s sid=%s", msg.id, channel, sid)
            return
        existing = self._by_sid.get(sid)
        if existing is not None and existing is not sub:
            # Idempotent re-subscribe: the server added our tickers to a live subscription.
            have = existing.market_tickers
            merged = have + [t for t in sub.market_tickers if t not in have]
            if merged:
                existing.params["market_tickers"] = merged
            with contextlib.suppress(ValueError):
                self._subs.remove(sub)
            sub.sid = sid
            sub.ready.set()
            sub = existing
        else:
            sub.sid = sid
            sub.next_seq = None
            self._by_sid[sid] = sub
            sub.ready.set()
        pending.acked.append(sub)
        if not pending.waiting:
            del self._pending[msg.id]
            if not pending.future.done():
                pending.future.set_result(pending.acked)

    def _on_ok(self, msg: Ok) -> None:
        self._control_seq(msg.sid, msg.seq)
        self._resolve(msg.id, msg)

    def _on_unsubscribed(self, msg: Unsubscribed) -> None:
        self._control_seq(msg.sid, msg.seq)
        self._resolve(msg.id, msg)

    def _on_error_frame(self, msg: ErrorMessage) -> None:
        self._control_seq(msg.sid, msg.seq)
        pending = self._pending.pop(msg.id, None) if msg.id else None
        error = WsCommandError(msg.msg, cmd=pending.cmd if pending else "", sid=msg.sid)
        self._record(error)
        if pending is not None:
            if not pending.future.done():
                pending.future.set_exception(error)
                pending.future.exception()  # retrieved here; the awaiting caller still gets it
            return
        sub = self._by_sid.get(msg.sid) if msg.sid is not None else None
        if sub is not None and error.terminal:
            self._spawn(self._resubscribe(sub))

    def _resolve(self, cmd_id: int, msg: Any) -> None:
        pending = self._pending.pop(cmd_id, None) if cmd_id else None
        if pending is not None and not pending.future.done():
            pending.future.set_result(msg)
