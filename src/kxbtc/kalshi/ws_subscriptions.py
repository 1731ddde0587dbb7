"""Subscriptions of the WebSocket client: the ones it keeps alive across reconnects, the commands that
make and change them (subscribe, unsubscribe, add/delete markets, list, raw updates), their acks, and
resubscribing after a reconnect or a failed resync.

Each book subscription's sid and markets are told to the stream (``WsBooks.stream``) as they become
known, so the stream's rules apply to exactly the client's own subscriptions.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine, Iterable, Sequence
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from kxbtc.errors import KxbtcError, NetworkError
from kxbtc.kalshi.ws_books import WsBooks
from kxbtc.kalshi.ws_commands import WsCommands
from kxbtc.kalshi.ws_connection import WsConnection
from kxbtc.kalshi.ws_core import ORDERBOOK_CHANNEL, WsContext, log
from kxbtc.kalshi.ws_errors import WsCommandError
from kxbtc.kalshi.ws_messages import (
    Ok,
    Subscribed,
    SubscriptionInfo,
    encode_list_subscriptions,
    encode_subscribe,
    encode_unsubscribe,
    encode_update_subscription,
    subscribe_params,
)
from kxbtc.kalshi.ws_resync import SnapshotResync
from kxbtc.kalshi.ws_state import PendingCommand, Subscription

#: Rounds of waiting for a late ``subscribed`` (each twice the last) before a subscribe fails.
LATE_ACK_ROUNDS = 3


class WsSubscriptions:
    """The subscriptions the client keeps alive, and the commands that make and change them."""

    def __init__(
        self, ctx: WsContext, conn: WsConnection, commands: WsCommands, books: WsBooks, resync: SnapshotResync
    ) -> None:
        self.ctx = ctx
        self.conn = conn
        self.commands = commands
        self.books = books
        self.resync = resync
        self._subs: list[Subscription] = []
        self._by_sid: dict[int, Subscription] = {}

    @property
    def all(self) -> list[Subscription]:
        return list(self._subs)

    def by_sid(self, sid: int | None) -> Subscription | None:
        return self._by_sid.get(sid) if sid is not None else None

    # -----------------------------------------------------------------------------------------
    # Subscriptions (public)

    async def subscribe(
        self,
        channels: str | Sequence[str],
        *,
        market_tickers: Sequence[str] | None = None,
        use_yes_price: bool | None = None,
        index_ids: Sequence[str] | None = None,
        send_initial_snapshot: bool | None = None,
        skip_ticker_ack: bool | None = None,
        wait: bool = True,
        timeout_s: float | None = None,
    ) -> list[Subscription]:
        """Subscribe (one command, one ``subscribed`` per channel) and wait for every ack.

        The subscriptions are kept across reconnects. ``orderbook_delta`` always sends ``use_yes_price``
        (the client's default unless given). While disconnected the command is sent on the next connect.
        With ``wait=False`` the subscriptions are registered and returned at once. ``timeout_s`` (default
        ``command_timeout``) bounds the whole wait, including a wait for the connection.
        Raises WsCommandError if the server refuses it, NetworkError on timeout.
        """
        chans = [channels] if isinstance(channels, str) else list(channels)
        if ORDERBOOK_CHANNEL in chans and use_yes_price is None:
            use_yes_price = self.ctx.use_yes_price
        if ORDERBOOK_CHANNEL in chans and not market_tickers:
            raise ValueError("orderbook_delta needs market_tickers")
        params = subscribe_params(
            chans,
            market_tickers=market_tickers,
            use_yes_price=use_yes_price,
            index_ids=index_ids,
            send_initial_snapshot=send_initial_snapshot,
            skip_ticker_ack=skip_ticker_ack,
        )
        del params["channels"]
        subs = [Subscription(channel, dict(params)) for channel in chans]
        self._subs.extend(subs)
        for sub in subs:
            if sub.channel == ORDERBOOK_CHANNEL:
                for ticker in sub.market_tickers:
                    self.books.books.book(ticker)
        if timeout_s is None:
            timeout_s = self.ctx.settings.command_timeout
        ws = self.conn.socket
        if not wait:
            if ws is not None and self.conn.connected:
                self.ctx.spawn(self.ctx.send_recorded(self._send_subscribe(ws, subs), "subscribe"))
            return subs
        if ws is not None and self.conn.connected:
            try:
                done = await self.ctx.with_timeout(self._send_subscribe(ws, subs), timeout_s, "subscribe")
            except WsCommandError:
                for sub in subs:
                    with contextlib.suppress(ValueError):
                        self._subs.remove(sub)
                raise
            except NetworkError as exc:
                if exc.code != "ws_disconnected":
                    # No ack in time on a live connection: the command went out and a slow link (or a
                    # busy server) answers late; the ack is still applied when it comes. Wait longer.
                    return await self._await_late_ack(subs, timeout_s)
                # connection lost before the ack: the resubscribe after reconnect completes it
            else:
                return list(done)
        await self.ctx.with_timeout(self._all_ready(subs), timeout_s, "subscribe")
        return [self._canonical(sub) for sub in subs]

    async def _await_late_ack(self, subs: list[Subscription], timeout_s: float) -> list[Subscription]:
        """Wait for a late ``subscribed``, doubling the wait each round (``LATE_ACK_ROUNDS``); a lost
        connection meanwhile resubscribes on reconnect, which this wait also covers; NetworkError at last."""
        round_ = 0
        while True:
            round_ += 1
            wait_s = timeout_s * 2**round_
            log.warning(
                "ws: no subscribed ack for %s within the timeout; waiting %.1f s more (%d/%d)",
                ",".join(s.channel for s in subs),
                wait_s,
                round_,
                LATE_ACK_ROUNDS,
            )
            try:
                await self.ctx.with_timeout(self._all_ready(subs), wait_s, "subscribe")
            except NetworkError:
                if round_ == LATE_ACK_ROUNDS:
                    raise
            else:
                return [self._canonical(sub) for sub in subs]

    async def unsubscribe(
        self, subs: Subscription | Iterable[Subscription], timeout_s: float | None = None
    ) -> None:
        items = [subs] if isinstance(subs, Subscription) else list(subs)
        sids: list[int] = []
        for sub in items:
            with contextlib.suppress(ValueError):
                self._subs.remove(sub)
            if sub.sid is not None:
                sids.append(sub.sid)
                self._by_sid.pop(sub.sid, None)
                self.books.stream.forget(sub.sid)
                sub.sid = None
            if sub.channel == ORDERBOOK_CHANNEL:
                self.books.mark_stale(sub.market_tickers, "unsubscribed")
        ws = self.conn.socket
        if sids and ws is not None:
            await self.ctx.with_timeout(
                self.commands.send(ws, "unsubscribe", encode_unsubscribe, sids),
                self.ctx.settings.command_timeout if timeout_s is None else timeout_s,
                "unsubscribe",
            )

    async def add_markets(
        self, sub: Subscription, tickers: Sequence[str], timeout_s: float | None = None
    ) -> None:
        await self._update_markets(sub, "add_markets", tickers, timeout_s)

    async def delete_markets(
        self, sub: Subscription, tickers: Sequence[str], timeout_s: float | None = None
    ) -> None:
        await self._update_markets(sub, "delete_markets", tickers, timeout_s)

    async def get_snapshot(
        self, sub: Subscription, tickers: Sequence[str], timeout_s: float | None = None
    ) -> None:
        """Rebuild these books from fresh snapshots; returns once the snapshots have arrived.

        The books are stale (``is_tradeable`` False) from the call until their snapshots arrive.
        Raises WsCommandError if the server refuses (the subscription is then made again).
        """
        ws = self.conn.require()
        seconds = self.ctx.settings.command_timeout if timeout_s is None else timeout_s
        fresh = self.resync.prepare(sub, tickers, "snapshot requested")
        if fresh:
            await self.ctx.with_timeout(self.resync.get_snapshot_cmd(ws, sub, fresh), seconds, "get_snapshot")
        await self.ctx.with_timeout(self.resync.arrived(sub, tickers), seconds, "get_snapshot")

    async def list_subscriptions(self, timeout_s: float | None = None) -> list[SubscriptionInfo]:
        ws = self.conn.require()
        ok = await self.ctx.with_timeout(
            self.commands.send(ws, "list_subscriptions", encode_list_subscriptions),
            self.ctx.settings.command_timeout if timeout_s is None else timeout_s,
            "list_subscriptions",
        )
        return list(ok.subscriptions or []) if isinstance(ok, Ok) else []

    async def update_subscription(
        self,
        sub: Subscription,
        action: str,
        *,
        market_tickers: Sequence[str] | None = None,
        index_ids: Sequence[str] | None = None,
        timeout_s: float | None = None,
    ) -> Any:
        """Raw ``update_subscription`` on ``sub``'s current sid; returns the ``ok`` (or indexlist) reply."""
        ws = self.conn.require()
        if sub.sid is None:
            raise NetworkError(f"{sub.channel} subscription has no sid yet", code="ws_not_subscribed")
        return await self.ctx.with_timeout(
            self.commands.send(
                ws,
                "update_subscription",
                encode_update_subscription,
                sub.sid,
                action,
                market_tickers=market_tickers,
                index_ids=index_ids,
                sub=sub,
            ),
            self.ctx.settings.command_timeout if timeout_s is None else timeout_s,
            "update_subscription",
        )

    # -----------------------------------------------------------------------------------------
    # Subscriptions (internal)

    async def _update_markets(
        self, sub: Subscription, action: str, tickers: Sequence[str], timeout_s: float | None
    ) -> None:
        current = sub.market_tickers
        is_book = sub.channel == ORDERBOOK_CHANNEL
        added = [t for t in tickers if t not in current] if action == "add_markets" else []
        new = current + added if action == "add_markets" else [t for t in current if t not in tickers]
        for ticker in added if is_book else ():
            self.books.books.book(ticker)
        # Optimistic: the new markets' snapshots may arrive before the ack is processed.
        self._set_markets(sub, new)
        if is_book and action == "delete_markets":
            self.books.mark_stale(tickers, "unsubscribed")
        if sub.sid is None or not self.conn.connected:
            return  # takes effect with the next (re)subscribe
        if is_book and added:
            self.resync.expect(sub, added)
        try:
            ok = await self.update_subscription(
                sub, action, market_tickers=list(tickers), timeout_s=timeout_s
            )
        except KxbtcError:
            self._set_markets(sub, current)
            sub.pending_snapshots.difference_update(added)
            raise
        acked = ok.market_tickers if isinstance(ok, Ok) else None
        if acked is not None:
            self._set_markets(sub, list(acked))

    def _set_markets(self, sub: Subscription, tickers: list[str]) -> None:
        sub.params["market_tickers"] = tickers
        if sub.sid is not None and sub.channel == ORDERBOOK_CHANNEL:
            self.books.stream.set_markets(sub.sid, tickers)

    def _canonical(self, sub: Subscription) -> Subscription:
        # A re-subscribe the server merged into an existing sid leaves ``sub`` replaced by that one.
        return self._by_sid.get(sub.sid, sub) if sub.sid is not None else sub

    async def _all_ready(self, subs: list[Subscription]) -> None:
        for sub in subs:
            await self._canonical(sub).ready.wait()

    def _send_subscribe(
        self, ws: ClientConnection, subs: list[Subscription]
    ) -> Coroutine[Any, Any, list[Subscription]]:
        """Claim ``subs`` now (so the reconnect path cannot subscribe them twice); send when awaited."""
        cmd_id = self.commands.new_id()
        future: asyncio.Future[list[Subscription]] = asyncio.get_running_loop().create_future()
        self.commands.expect(
            cmd_id, PendingCommand("subscribe", future, waiting={s.channel: s for s in subs})
        )
        params = subs[0].wire_params()
        params["channels"] = [s.channel for s in subs]
        for sub in subs:
            sub.in_flight = True
            if sub.channel == ORDERBOOK_CHANNEL:
                self.resync.expect(sub, sub.market_tickers)

        async def send() -> list[Subscription]:
            try:
                try:
                    await ws.send(encode_subscribe(cmd_id, params).decode())
                except ConnectionClosed as exc:
                    self.commands.done(cmd_id)
                    raise NetworkError("subscribe: connection closed", code="ws_disconnected") from exc
                return await future
            finally:
                for sub in subs:
                    sub.in_flight = False

        return send()

    async def resubscribe_all(self) -> None:
        ws = self.conn.socket
        if ws is None:
            return
        timeout = self.ctx.settings.command_timeout
        results = await asyncio.gather(
            *(
                self.ctx.with_timeout(self._send_subscribe(ws, [sub]), timeout, "resubscribe")
                for sub in list(self._subs)
                if sub.sid is None
                and not sub.in_flight
                and (sub.market_tickers or sub.channel != ORDERBOOK_CHANNEL)
            ),
            return_exceptions=True,
        )
        failures = [r for r in results if isinstance(r, BaseException)]
        for failure in failures:
            if isinstance(failure, KxbtcError):
                self.ctx.record_once(failure)
        if not failures:
            self.conn.healthy()  # a healthy session: the next outage starts its backoff afresh

    async def resubscribe(self, sub: Subscription) -> None:
        """Drop ``sub``'s sid and subscribe again: the new subscription starts with fresh snapshots."""
        ws = self.conn.socket
        if ws is None or sub not in self._subs or sub.in_flight:
            return  # gone, or already being (re)subscribed
        sub.in_flight = True
        self.ctx.stats.resubscribes += 1
        old = sub.sid
        self.books.mark_stale(sub.market_tickers if sub.channel == ORDERBOOK_CHANNEL else (), "resubscribing")
        sub.sid = None
        sub.pending_snapshots.clear()
        sub.resync_started = None
        sub.ready.clear()
        if old is not None:
            self._by_sid.pop(old, None)
            self.books.stream.forget(old)
            try:
                # Unsubscribe first: a subscribe to a live channel would merge into the old sid, no snapshot.
                await self.ctx.with_timeout(
                    self.commands.send(ws, "unsubscribe", encode_unsubscribe, [old]),
                    self.ctx.settings.command_timeout,
                    "unsubscribe",
                )
            except KxbtcError as exc:
                self.ctx.record_once(exc)
        try:
            await self.ctx.with_timeout(
                self._send_subscribe(ws, [sub]), self.ctx.settings.command_timeout, "resubscribe"
            )
        except KxbtcError as exc:
            self.ctx.record_once(exc)

    # -----------------------------------------------------------------------------------------
    # Acks and the connection's end

    def on_subscribed(self, msg: Subscribed) -> None:
        """A ``subscribed`` ack: the subscription has its sid (or was merged into a live one)."""
        pending = self.commands.waiting(msg.id)
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
            self._by_sid[sid] = sub
            sub.ready.set()
        self.books.feed(msg)  # the stream starts the sid afresh
        if channel == ORDERBOOK_CHANNEL:
            self.books.stream.track_book_sid(sid, sub.market_tickers, use_yes_price=sub.use_yes_price)
        pending.acked.append(sub)
        if not pending.waiting:
            self.commands.done(msg.id)
            if not pending.future.done():
                pending.future.set_result(pending.acked)

    def connection_lost(self, lost: NetworkError) -> None:
        """Every subscription waits for the next connection: no sid, nothing in flight, nobody waiting."""
        self._by_sid.clear()
        for sub in self._subs:
            for _, waiter in sub.snapshot_waiters:
                if not waiter.done():
                    waiter.set_exception(lost)
                    waiter.exception()
            sub.snapshot_waiters.clear()
            sub.sid = None
            sub.pending_snapshots.clear()
            sub.resync_started = None
            sub.in_flight = False
            sub.ready.clear()
