"""Subscriptions and commands of the WebSocket client: subscribe, unsubscribe, market updates and
snapshot requests, and the reply-matched command plumbing under them; resubscribing after a
reconnect or a failed resync."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from kxbtc.errors import KxbtcError, NetworkError
from kxbtc.kalshi.ws_core import ORDERBOOK_CHANNEL, WsClientCore
from kxbtc.kalshi.ws_errors import WsCommandError
from kxbtc.kalshi.ws_messages import (
    Ok,
    SubscriptionInfo,
    encode_list_subscriptions,
    encode_subscribe,
    encode_unsubscribe,
    encode_update_subscription,
    subscribe_params,
)
from kxbtc.kalshi.ws_state import PendingCommand, Subscription


class WsSubscriptions(WsClientCore):
    """The subscriptions the client keeps alive, and the commands that make and change them."""

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
            use_yes_price = self.use_yes_price
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
                    self.books.book(ticker)
        if timeout_s is None:
            timeout_s = self._command_timeout
        ws = self._ws
        if not wait:
            if ws is not None and self.connected:
                self._spawn(self._send_recorded(self._send_subscribe(ws, subs), "subscribe"))
            return subs
        if ws is not None and self.connected:
            try:
                done = await self._with_timeout(self._send_subscribe(ws, subs), timeout_s, "subscribe")
            except WsCommandError:
                for sub in subs:
                    with contextlib.suppress(ValueError):
                        self._subs.remove(sub)
                raise
            except NetworkError as exc:
                if exc.code != "ws_disconnected":
                    raise  # no ack in time; the subscription stays registered for the next connection
                # connection lost before the ack: the resubscribe after reconnect completes it
            else:
                return list(done)
        await self._with_timeout(self._all_ready(subs), timeout_s, "subscribe")
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
                sub.sid = None
            if sub.channel == ORDERBOOK_CHANNEL:
                self._mark_stale(sub.market_tickers, "unsubscribed")
        ws = self._ws
        if sids and ws is not None:
            await self._with_timeout(
                self._command(ws, "unsubscribe", encode_unsubscribe, sids),
                self._command_timeout if timeout_s is None else timeout_s,
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
        ws = self._require_ws()
        seconds = self._command_timeout if timeout_s is None else timeout_s
        fresh = self._prepare_snapshots(sub, tickers, "snapshot requested")
        if fresh:
            await self._with_timeout(self._get_snapshot_cmd(ws, sub, fresh), seconds, "get_snapshot")
        await self._with_timeout(self._snapshots_arrived(sub, tickers), seconds, "get_snapshot")

    async def list_subscriptions(self, timeout_s: float | None = None) -> list[SubscriptionInfo]:
        ws = self._require_ws()
        ok = await self._with_timeout(
            self._command(ws, "list_subscriptions", encode_list_subscriptions),
            self._command_timeout if timeout_s is None else timeout_s,
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
        ws = self._require_ws()
        if sub.sid is None:
            raise NetworkError(f"{sub.channel} subscription has no sid yet", code="ws_not_subscribed")
        return await self._with_timeout(
            self._command(
                ws,
                "update_subscription",
                encode_update_subscription,
                sub.sid,
                action,
                market_tickers=market_tickers,
                index_ids=index_ids,
                sub=sub,
            ),
            self._command_timeout if timeout_s is None else timeout_s,
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
            self.books.book(ticker)
        # Optimistic: the new markets' snapshots may arrive before the ack is processed.
        sub.params["market_tickers"] = new
        if is_book and action == "delete_markets":
            self._mark_stale(tickers, "unsubscribed")
        if sub.sid is None or not self.connected:
            return  # takes effect with the next (re)subscribe
        if is_book and added:
            self._expect_snapshots(sub, added)
        try:
            ok = await self.update_subscription(
                sub, action, market_tickers=list(tickers), timeout_s=timeout_s
            )
        except KxbtcError:
            sub.params["market_tickers"] = current
            sub.pending_snapshots.difference_update(added)
            raise
        acked = ok.market_tickers if isinstance(ok, Ok) else None
        if acked is not None:
            sub.params["market_tickers"] = list(acked)

    def _expect_snapshots(self, sub: Subscription, tickers: Iterable[str]) -> None:
        """Snapshots the server will send unasked; if they do not come, the watchdog resubscribes."""
        sub.pending_snapshots.update(tickers)
        if sub.resync_started is None:
            sub.resync_started = self.clock.monotonic()

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
        cmd_id = self._new_id()
        future: asyncio.Future[list[Subscription]] = asyncio.get_running_loop().create_future()
        self._pending[cmd_id] = PendingCommand("subscribe", future, waiting={s.channel: s for s in subs})
        params = subs[0].wire_params()
        params["channels"] = [s.channel for s in subs]
        for sub in subs:
            sub.in_flight = True
            if sub.channel == ORDERBOOK_CHANNEL:
                self._expect_snapshots(sub, sub.market_tickers)

        async def send() -> list[Subscription]:
            try:
                try:
                    await ws.send(encode_subscribe(cmd_id, params).decode())
                except ConnectionClosed as exc:
                    self._pending.pop(cmd_id, None)
                    raise NetworkError("subscribe: connection closed", code="ws_disconnected") from exc
                return await future
            finally:
                for sub in subs:
                    sub.in_flight = False

        return send()

    async def _resubscribe_all(self) -> None:
        ws = self._ws
        if ws is None:
            return
        results = await asyncio.gather(
            *(
                self._with_timeout(self._send_subscribe(ws, [sub]), self._command_timeout, "resubscribe")
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
                self._record_once(failure)
        if not failures:
            self._attempt = 0  # a healthy session: the next outage starts its backoff afresh

    async def _resubscribe(self, sub: Subscription) -> None:
        """Drop ``sub``'s sid and subscribe again: the new subscription starts with fresh snapshots."""
        ws = self._ws
        if ws is None or sub not in self._subs or sub.in_flight:
            return  # gone, or already being (re)subscribed
        sub.in_flight = True
        self.stats.resubscribes += 1
        old = sub.sid
        self._mark_stale(sub.market_tickers if sub.channel == ORDERBOOK_CHANNEL else (), "resubscribing")
        sub.sid = None
        sub.next_seq = None
        sub.pending_snapshots.clear()
        sub.resync_started = None
        sub.ready.clear()
        if old is not None:
            self._by_sid.pop(old, None)
            try:
                # Unsubscribe first: a subscribe to a live channel would merge into the old sid, no snapshot.
                await self._with_timeout(
                    self._command(ws, "unsubscribe", encode_unsubscribe, [old]),
                    self._command_timeout,
                    "unsubscribe",
                )
            except KxbtcError as exc:
                self._record_once(exc)
        try:
            await self._with_timeout(self._send_subscribe(ws, [sub]), self._command_timeout, "resubscribe")
        except KxbtcError as exc:
            self._record_once(exc)

    def _request_snapshots(self, sub: Subscription, tickers: Iterable[str], reason: str) -> None:
        """Mark books stale and ask for their snapshots in the background (once per ticker)."""
        fresh = self._prepare_snapshots(sub, tickers, reason)
        ws = self._ws
        if fresh and ws is not None:
            self._spawn(self._send_recorded(self._get_snapshot_cmd(ws, sub, fresh), "get_snapshot"))

    def _prepare_snapshots(self, sub: Subscription, tickers: Iterable[str], reason: str) -> list[str]:
        """Mark the books stale; returns the tickers whose snapshot is not already on its way."""
        subscribed = set(sub.market_tickers)
        wanted = [t for t in tickers if t in subscribed]
        self._mark_stale(wanted, reason)
        if sub.sid is None:
            return []  # the (re)subscribe will bring every snapshot
        fresh = [t for t in wanted if t not in sub.pending_snapshots]
        sub.pending_snapshots.update(fresh)
        if fresh and sub.resync_started is None:
            sub.resync_started = self.clock.monotonic()
        return fresh

    async def _get_snapshot_cmd(self, ws: ClientConnection, sub: Subscription, tickers: list[str]) -> None:
        """Send ``get_snapshot`` and wait for the snapshots; if refused, unsubscribe + subscribe instead.

        Whether the exchange acknowledges ``get_snapshot`` with an ``ok`` is not documented, so
        completion is the arrival of the snapshots; an ``error`` reply still fails it at once.
        """
        sid = sub.sid
        if sid is None:
            return
        self.stats.snapshot_requests += 1
        cmd_id = self._new_id()
        reply: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[cmd_id] = PendingCommand("update_subscription", reply, sub=sub)
        arrived = self._snapshots_arrived(sub, tickers)
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
            self._spawn(self._resubscribe(sub))
            raise
        finally:
            self._pending.pop(cmd_id, None)
            if not arrived.done():
                arrived.cancel()

    def _snapshots_arrived(self, sub: Subscription, tickers: Iterable[str]) -> asyncio.Future[None]:
        """Resolves once none of ``tickers`` awaits a snapshot on ``sub``."""
        wanted = frozenset(tickers)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if wanted & sub.pending_snapshots:
            sub.snapshot_waiters.append((wanted, future))
        else:
            future.set_result(None)
        return future

    async def _send_recorded(self, aw: Awaitable[Any], what: str) -> None:
        """Run a background command; its failure is recorded, never raised into the event loop."""
        try:
            await self._with_timeout(aw, self._command_timeout, what)
        except KxbtcError as exc:
            self._record_once(exc)

    async def _command(
        self,
        ws: ClientConnection,
        cmd: str,
        encoder: Callable[..., bytes],
        *args: Any,
        sub: Subscription | None = None,
        **kwargs: Any,
    ) -> Any:
        cmd_id = self._new_id()
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[cmd_id] = PendingCommand(cmd, future, sub=sub)
        try:
            await ws.send(encoder(cmd_id, *args, **kwargs).decode())
        except ConnectionClosed as exc:
            self._pending.pop(cmd_id, None)
            raise NetworkError(f"{cmd}: connection closed", code="ws_disconnected") from exc
        return await future
