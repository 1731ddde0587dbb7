"""Resync: bringing stale books back with fresh snapshots, and making sure they come.

A book made stale by the stream (a seq gap, a bad frame) or refused by the book itself gets one
``update_subscription`` ``get_snapshot`` per batch of tickers; tickers whose snapshot is already on its
way are not asked again. Whether the exchange acknowledges ``get_snapshot`` with an ``ok`` is not
documented, so the snapshots' arrival completes it. If the request is refused, or the snapshots do not
arrive within ``resync_timeout``, the subscription is dropped and made again (a new subscription always
starts with snapshots). A book whose snapshots keep being invalid is given up after ``MAX_BAD_SNAPSHOTS``
so that asking again does not loop at network speed; it stays untradeable.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from kxbtc.domain.events import BookStale
from kxbtc.errors import BookError, NetworkError, ProtocolError
from kxbtc.kalshi.ws_books import WsBooks
from kxbtc.kalshi.ws_commands import WsCommands
from kxbtc.kalshi.ws_connection import WsConnection
from kxbtc.kalshi.ws_core import ORDERBOOK_CHANNEL, WsContext
from kxbtc.kalshi.ws_errors import WsCommandError
from kxbtc.kalshi.ws_messages import encode_update_subscription
from kxbtc.kalshi.ws_state import PendingCommand, Subscription

#: Consecutive invalid snapshots of one book after which the client stops asking for more.
MAX_BAD_SNAPSHOTS = 3


class SnapshotResync:
    """Asks for snapshots of stale books and watches that they arrive."""

    def __init__(
        self,
        ctx: WsContext,
        conn: WsConnection,
        commands: WsCommands,
        books: WsBooks,
        resubscribe: Callable[[Subscription], Awaitable[None]],
    ) -> None:
        self.ctx = ctx
        self.conn = conn
        self.commands = commands
        self.books = books
        #: The fallback: drop the subscription and make it again (``WsSubscriptions.resubscribe``).
        self.resubscribe = resubscribe

    # -- asking ------------------------------------------------------------------------------------

    def after_stale(self, subs: Iterable[Subscription], stale: Sequence[BookStale]) -> None:
        """Books the stream made stale: mark them and ask each one's subscription for snapshots."""
        if not stale:
            return
        self.books.apply_stale(stale)
        tickers = [e.ticker for e in stale]
        for sub in subs:
            if sub.channel == ORDERBOOK_CHANNEL and sub.sid is not None:
                self.request(sub, tickers, stale[0].reason)

    def request(self, sub: Subscription, tickers: Iterable[str], reason: str) -> None:
        """Mark books stale and ask for their snapshots in the background (once per ticker)."""
        fresh = self.prepare(sub, tickers, reason)
        ws = self.conn.socket
        if fresh and ws is not None:
            self.ctx.spawn(self.ctx.send_recorded(self.get_snapshot_cmd(ws, sub, fresh), "get_snapshot"))

    def prepare(self, sub: Subscription, tickers: Iterable[str], reason: str) -> list[str]:
        """Mark the books stale; returns the tickers whose snapshot is not already on its way."""
        subscribed = set(sub.market_tickers)
        wanted = [t for t in tickers if t in subscribed]
        self.books.mark_stale(wanted, reason)
        if sub.sid is None:
            return []  # the (re)subscribe will bring every snapshot
        fresh = [t for t in wanted if t not in sub.pending_snapshots]
        self.expect(sub, fresh)
        return fresh

    def expect(self, sub: Subscription, tickers: Iterable[str]) -> None:
        """Snapshots on their way (asked for, or sent unasked after a subscribe): if they do not come
        within ``resync_timeout``, ``check_timeouts`` resubscribes."""
        before = len(sub.pending_snapshots)
        sub.pending_snapshots.update(tickers)
        if len(sub.pending_snapshots) > before and sub.resync_started is None:
            sub.resync_started = self.ctx.clock.monotonic()

    async def get_snapshot_cmd(self, ws: ClientConnection, sub: Subscription, tickers: list[str]) -> None:
        """Send ``get_snapshot`` and wait for the snapshots; if refused, unsubscribe + subscribe instead."""
        sid = sub.sid
        if sid is None:
            return
        self.ctx.stats.snapshot_requests += 1
        cmd_id = self.commands.new_id()
        reply: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.commands.expect(cmd_id, PendingCommand("update_subscription", reply, sub=sub))
        arrived = self.arrived(sub, tickers)
        try:
            try:
                await ws.send(
                    encode_update_subscription(cmd_id, sid, "get_snapshot", market_tickers=tickers).decode()
                )
            except ConnectionClosed as exc:
                raise NetworkError("get_snapshot: connection closed", code="ws_disconnected") from exc
            done, _ = await asyncio.wait({reply, arrived}, return_when=asyncio.FIRST_COMPLETED)
            refused = reply.exception() if reply in done else None
            if refused is not None:
                raise refused
            await arrived
        except WsCommandError:
            self.ctx.spawn(self.resubscribe(sub))
            raise
        finally:
            self.commands.done(cmd_id)
            if not arrived.done():
                arrived.cancel()

    # -- arriving ----------------------------------------------------------------------------------

    def arrived(self, sub: Subscription, tickers: Iterable[str]) -> asyncio.Future[None]:
        """Resolves once none of ``tickers`` awaits a snapshot on ``sub``."""
        wanted = frozenset(tickers)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if wanted & sub.pending_snapshots:
            sub.snapshot_waiters.append((wanted, future))
        else:
            future.set_result(None)
        return future

    @staticmethod
    def settled(sub: Subscription, ticker: str) -> None:
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

    def book_failed(self, sub: Subscription, ticker: str, exc: BookError, *, snapshot: bool) -> None:
        """The book refused a frame (or the frame could not be read): stale now, ask for a snapshot."""
        self.ctx.record(exc)
        self.books.books.mark_stale((ticker,), str(exc))
        sub.pending_snapshots.discard(ticker)  # so that request() asks again
        self.ctx.emit(self.ctx.handler.on_book_stale, ticker, str(exc))
        if snapshot:
            sub.bad_snapshots[ticker] += 1
            if sub.bad_snapshots[ticker] >= MAX_BAD_SNAPSHOTS:
                # Asking again would loop at network speed; the book stays stale (untradeable).
                self.ctx.record(ProtocolError(f"{ticker}: {MAX_BAD_SNAPSHOTS} bad snapshots in a row"))
                self.settled(sub, ticker)
                return
        self.request(sub, (ticker,), str(exc))

    def check_timeouts(self, subs: Iterable[Subscription], now: float) -> None:
        """Snapshots that did not come within ``resync_timeout``: resubscribe their subscription."""
        timeout = self.ctx.settings.resync_timeout
        for sub in subs:
            if sub.resync_started is not None and now - sub.resync_started >= timeout:
                self.ctx.record(
                    ProtocolError(
                        f"snapshots for {sorted(sub.pending_snapshots)} not received within "
                        f"{timeout}s; resubscribing {sub.channel}"
                    )
                )
                sub.resync_started = None
                self.ctx.spawn(self.resubscribe(sub))
