"""Kalshi WebSocket client: signed connection, subscriptions, per-sid sequencing, books, reconnects.

The client keeps the *desired* subscriptions and makes the connection match them: after every
(re)connect it signs a fresh handshake, resubscribes everything, and the books come back from new
snapshots. Between disconnect and snapshot every book is stale and ``is_tradeable`` is False.

Sequencing and the book rules are ``kxbtc.kalshi.stream.KalshiStream``'s, the state machine the replay
and the scoring run on recorded frames (kalshi-api.md §7.4, errata Part 2 §2.1-2.4): ``seq`` is per sid;
``ok``/``unsubscribed`` carry a seq on their sid too and move the expected seq forward but never count
as a gap. A gap on an orderbook sid marks every book of that sid stale and asks for fresh snapshots with
``update_subscription`` ``get_snapshot``; if that fails or takes longer than ``resync_timeout``, the
subscription is dropped and made again (a new subscription always starts with a snapshot).

Handlers are called synchronously from the reader task and must not block; an exception in a handler is
logged and counted, never fatal. ``QueueHandler`` turns the callbacks into an ``asyncio.Queue``.

This class is a facade over parts with one job each, all sharing one ``WsContext`` (``ws_core``):

- ``WsConnection`` (``ws_connection``): handshake, read loop, liveness pings, reconnect with backoff;
- ``WsCommands`` (``ws_commands``): command ids and matching replies to them;
- ``WsSubscriptions`` (``ws_subscriptions``): the subscriptions kept alive and the commands on them;
- ``SnapshotResync`` (``ws_resync``): asking for snapshots of stale books and watching that they come;
- ``WsBooks`` (``ws_books``): the books and the ``KalshiStream`` that keeps them;
- ``WsDispatch`` (``ws_dispatch``): each frame through the stream to its part and the handler.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, Self
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection

from kxbtc.clock import Clock
from kxbtc.errors import NetworkError
from kxbtc.kalshi.auth import Signer
from kxbtc.kalshi.books import BookManager
from kxbtc.kalshi.stream import KalshiStream, StreamNotice
from kxbtc.kalshi.ws_books import WsBooks
from kxbtc.kalshi.ws_commands import WsCommands
from kxbtc.kalshi.ws_connection import WsConnection
from kxbtc.kalshi.ws_core import DEFAULT_WS_PATH, WsContext, WsSettings
from kxbtc.kalshi.ws_core import ORDERBOOK_CHANNEL as ORDERBOOK_CHANNEL
from kxbtc.kalshi.ws_dispatch import WsDispatch
from kxbtc.kalshi.ws_errors import SeqGapError, UnknownMessageTypeError, WsCommandError
from kxbtc.kalshi.ws_handlers import QueueHandler, WsHandler
from kxbtc.kalshi.ws_messages import SubscriptionInfo
from kxbtc.kalshi.ws_resync import MAX_BAD_SNAPSHOTS as MAX_BAD_SNAPSHOTS
from kxbtc.kalshi.ws_resync import SnapshotResync
from kxbtc.kalshi.ws_state import Subscription, WsStats
from kxbtc.kalshi.ws_subscriptions import WsSubscriptions

# All that was defined here before the client was split into parts stays importable from here
# (ORDERBOOK_CHANNEL and MAX_BAD_SNAPSHOTS through their ``as`` imports above).
__all__ = [
    "DEFAULT_WS_PATH",
    "KalshiWsClient",
    "QueueHandler",
    "SeqGapError",
    "Subscription",
    "UnknownMessageTypeError",
    "WsCommandError",
    "WsHandler",
    "WsStats",
]


class KalshiWsClient:
    """The Kalshi WebSocket client: builds its parts, wires them together, and forwards the public API."""

    def __init__(
        self,
        url: str,
        signer: Signer,
        clock: Clock,
        *,
        handler: WsHandler | None = None,
        books: BookManager | None = None,
        use_yes_price: bool = True,
        rng: random.Random | None = None,
        ping_after: float = 10.0,
        liveness_timeout: float = 25.0,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        open_timeout: float = 10.0,
        command_timeout: float = 10.0,
        resync_timeout: float = 10.0,
        max_frame_bytes: int = 2**22,
        frame_tap: Callable[[str | bytes], None] | None = None,
        on_clock_rejected: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        settings = WsSettings(
            ping_after=ping_after,
            liveness_timeout=liveness_timeout,
            backoff_initial=backoff_initial,
            backoff_max=backoff_max,
            open_timeout=open_timeout,
            command_timeout=command_timeout,
            resync_timeout=resync_timeout,
            max_frame_bytes=max_frame_bytes,
        )
        ctx = WsContext(
            clock,
            handler if handler is not None else WsHandler(),
            settings,
            rng if rng is not None else random.Random(),
            use_yes_price,
        )
        self._ctx = ctx
        self.url = url
        self.path = urlsplit(url).path or DEFAULT_WS_PATH
        self.signer = signer
        self.clock = clock
        self.use_yes_price = use_yes_price
        #: Sees every received frame, as received, before it is decoded (the recorder writes them down).
        self.frame_tap = frame_tap
        self.books = books if books is not None else BookManager()
        self._conn = WsConnection(ctx, url, self.path, signer, self)
        #: A handshake refused with ``header_timestamp_expired`` re-syncs the clock before the reconnect.
        self._conn.on_clock_rejected = on_clock_rejected
        self._commands = WsCommands(ctx)
        self._books = WsBooks(ctx, self.books, self._notice)
        self._resync = SnapshotResync(ctx, self._conn, self._commands, self._books, self._resubscribe)
        self._subs = WsSubscriptions(ctx, self._conn, self._commands, self._books, self._resync)
        self._dispatch = WsDispatch(ctx, self._books, self._commands, self._subs, self._resync)

    # -- state -------------------------------------------------------------------------------------

    @property
    def handler(self) -> WsHandler:
        return self._ctx.handler

    @handler.setter
    def handler(self, handler: WsHandler) -> None:
        self._ctx.handler = handler

    @property
    def stats(self) -> WsStats:
        return self._ctx.stats

    @property
    def stream(self) -> KalshiStream:
        """The stream state machine this client's books are kept by (its stats, its stale markets)."""
        return self._books.stream

    @property
    def _rng(self) -> random.Random:
        return self._ctx.rng

    @_rng.setter
    def _rng(self, rng: random.Random) -> None:
        self._ctx.rng = rng

    @property
    def connected(self) -> bool:
        return self._conn.connected

    @property
    def subscriptions(self) -> list[Subscription]:
        return self._subs.all

    def is_tradeable(self, ticker: str) -> bool:
        return self.connected and self.books.is_tradeable(ticker)

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> asyncio.Task[None]:
        return self._conn.start()

    async def close(self) -> None:
        await self._conn.close()

    async def run(self) -> None:
        """Connect, serve, reconnect with backoff until ``close()``."""
        await self._conn.run()

    async def wait_connected(self, timeout_s: float | None = None) -> None:
        await self._conn.wait_connected(timeout_s)

    def backoff_delay(self, attempt: int) -> float:
        return self._conn.backoff_delay(attempt)

    async def __aenter__(self) -> Self:
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- subscriptions -----------------------------------------------------------------------------

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
        """Subscribe and wait for every ack (``WsSubscriptions.subscribe``)."""
        return await self._subs.subscribe(
            channels,
            market_tickers=market_tickers,
            use_yes_price=use_yes_price,
            index_ids=index_ids,
            send_initial_snapshot=send_initial_snapshot,
            skip_ticker_ack=skip_ticker_ack,
            wait=wait,
            timeout_s=timeout_s,
        )

    async def unsubscribe(
        self, subs: Subscription | Iterable[Subscription], timeout_s: float | None = None
    ) -> None:
        await self._subs.unsubscribe(subs, timeout_s)

    async def add_markets(
        self, sub: Subscription, tickers: Sequence[str], timeout_s: float | None = None
    ) -> None:
        await self._subs.add_markets(sub, tickers, timeout_s)

    async def delete_markets(
        self, sub: Subscription, tickers: Sequence[str], timeout_s: float | None = None
    ) -> None:
        await self._subs.delete_markets(sub, tickers, timeout_s)

    async def get_snapshot(
        self, sub: Subscription, tickers: Sequence[str], timeout_s: float | None = None
    ) -> None:
        """Rebuild these books from fresh snapshots; returns once the snapshots have arrived."""
        await self._subs.get_snapshot(sub, tickers, timeout_s)

    async def list_subscriptions(self, timeout_s: float | None = None) -> list[SubscriptionInfo]:
        return await self._subs.list_subscriptions(timeout_s)

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
        return await self._subs.update_subscription(
            sub, action, market_tickers=market_tickers, index_ids=index_ids, timeout_s=timeout_s
        )

    # -- the connection's hooks (``ws_connection.ConnectionHooks``) ----------------------------------

    def connection_opened(self, ws: ClientConnection) -> None:
        self._ctx.emit(self.handler.on_connection, True)
        self._ctx.spawn(self._subs.resubscribe_all())

    def frame_received(self, frame: str | bytes) -> None:
        if self.frame_tap is not None:
            self.frame_tap(frame)
        self._dispatch.handle_frame(frame)

    def connection_lost(self, closing: bool) -> None:
        lost = NetworkError("websocket connection lost", code="ws_disconnected")
        self._commands.fail_all(lost)
        self._subs.connection_lost(lost)
        self._books.disconnected()
        if not closing:
            self._ctx.record(lost)
        self._ctx.emit(self.handler.on_connection, False)

    def watchdog_tick(self, now: float) -> None:
        self._resync.check_timeouts(self._subs.all, now)

    def batch_started(self) -> None:
        self._ctx.emit(self.handler.on_batch_start)

    def batch_ended(self) -> None:
        self._ctx.emit(self.handler.on_batch_end)

    # -- wiring between parts ----------------------------------------------------------------------

    def _notice(self, notice: StreamNotice) -> None:
        self._dispatch.on_notice(notice)

    async def _resubscribe(self, sub: Subscription) -> None:
        await self._subs.resubscribe(sub)
