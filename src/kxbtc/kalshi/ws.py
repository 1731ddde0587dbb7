"""Kalshi WebSocket client: signed connection, subscriptions, per-sid sequencing, books, reconnects.

The client keeps the *desired* subscriptions and makes the connection match them: after every
(re)connect it signs a fresh handshake, resubscribes everything, and the books come back from new
snapshots. Between disconnect and snapshot every book is stale and ``is_tradeable`` is False.

Sequencing (kalshi-api.md §7.4, errata Part 2 §2.1-2.4): ``seq`` is per sid. A gap on an orderbook sid
marks every book of that sid stale and asks for fresh snapshots with ``update_subscription``
``get_snapshot``; if that fails or takes longer than ``resync_timeout``, the subscription is dropped and
made again (a new subscription always starts with a snapshot). Whether ``get_snapshot`` is acknowledged
with an ``ok`` is undocumented, so the snapshots' arrival completes it. ``ok``/``unsubscribed`` carry a
seq on their sid too: they move the expected seq forward but never count as a gap.

Bad input never stops the client: a malformed frame, an unknown type, a missing field, a bad price or a
book that would become invalid is logged and counted as a typed error (``stats``, ``on_error``), the
affected book is marked stale and resynced (every book, when a frame is too broken to say whose it
was), and later frames are processed normally.

Liveness: the library's own keepalive is off so that every timeout runs on the injected clock. When no
frame has arrived for ``ping_after`` seconds the client pings; when neither data nor a pong has arrived
for ``liveness_timeout`` seconds it drops the connection and reconnects with jittered exponential backoff.

Handlers are called synchronously from the reader task and must not block; an exception in a handler is
logged and counted, never fatal. ``QueueHandler`` turns the callbacks into an ``asyncio.Queue``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from kxbtc.backoff import equal_jitter
from kxbtc.errors import (
    AuthError,
    ExchangeError,
    KxbtcError,
    NetworkError,
    ProtocolError,
    RateLimitedError,
    RejectedError,
    ServerError,
)
from kxbtc.kalshi.ws_core import DEFAULT_WS_PATH
from kxbtc.kalshi.ws_core import ORDERBOOK_CHANNEL as ORDERBOOK_CHANNEL
from kxbtc.kalshi.ws_dispatch import MAX_BAD_SNAPSHOTS as MAX_BAD_SNAPSHOTS
from kxbtc.kalshi.ws_dispatch import WsFrameDispatch
from kxbtc.kalshi.ws_errors import SeqGapError, UnknownMessageTypeError, WsCommandError
from kxbtc.kalshi.ws_handlers import QueueHandler, WsHandler
from kxbtc.kalshi.ws_state import Subscription, WsStats
from kxbtc.ws_lifecycle import SocketLifecycle

# The client's parts are ws_core, ws_subscriptions and ws_dispatch; its types are in ws_state, ws_handlers
# and ws_errors. All that was defined here stays importable from here (ORDERBOOK_CHANNEL and
# MAX_BAD_SNAPSHOTS through their ``as`` imports above).
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

log = logging.getLogger(__name__)


class KalshiWsClient(SocketLifecycle, WsFrameDispatch):
    """The Kalshi WebSocket client. This class runs the connection: connect, serve, watch liveness,
    reconnect with backoff. The constructor and plumbing are in ``WsClientCore``, subscriptions and
    commands in ``WsSubscriptions``, frame handling in ``WsFrameDispatch``."""

    task_name = "kalshi-ws"

    # -----------------------------------------------------------------------------------------
    # Lifecycle

    async def wait_connected(self, timeout_s: float | None = None) -> None:
        await self._with_timeout(self._connected.wait(), timeout_s, "connect")

    async def run(self) -> None:
        """Connect, serve, reconnect with backoff until ``close()``."""
        while not self._closing:
            try:
                ws = await self._open()
            except KxbtcError as exc:
                self.stats.connect_failures += 1
                self._record(exc)
            else:
                await self._session(ws)
            if self._stopping():
                break
            delay = self.backoff_delay(self._attempt)
            self._attempt += 1
            log.info("ws: reconnecting in %.2fs (attempt %d)", delay, self._attempt)
            await self.clock.sleep(delay)

    def _stopping(self) -> bool:
        return self._closing

    def backoff_delay(self, attempt: int) -> float:
        """Equal-jitter exponential backoff: uniform in [cap/2, cap], cap = initial * 2**attempt."""
        return equal_jitter(attempt, self._backoff_initial, self._backoff_max, self._rng)

    async def _open(self) -> ClientConnection:
        headers = self.signer.headers("GET", self.path)  # signed afresh on every attempt

        async def handshake() -> ClientConnection:
            return await connect(
                self.url,
                additional_headers=headers,
                ping_interval=None,  # liveness runs on the injected clock, see _watchdog
                ping_timeout=None,
                open_timeout=None,
                close_timeout=2,
                max_size=self._max_frame_bytes,
                proxy=None,
            )

        try:
            return await self._with_timeout(handshake(), self._open_timeout, "websocket handshake")
        except InvalidStatus as exc:
            status = exc.response.status_code
            body = exc.response.body.decode("utf-8", "replace") if exc.response.body else ""
            kind: type[ExchangeError]
            if status in (401, 403):
                kind = AuthError
            elif status == 429:
                kind = RateLimitedError
            elif status >= 500:
                kind = ServerError
            else:
                kind = RejectedError
            raise kind(
                "websocket handshake refused", code="ws_handshake", status=status, details=body
            ) from exc
        except KxbtcError:
            raise
        except Exception as exc:  # OSError, InvalidHandshake, InvalidURI, EOFError, TLS errors...
            raise NetworkError(f"websocket connect failed: {exc!r}", code="ws_connect") from exc

    async def _session(self, ws: ClientConnection) -> None:
        self._ws = ws
        self._by_sid.clear()
        self._last_rx = self.clock.monotonic()
        self._ping_outstanding = False
        self.stats.connects += 1
        self._connected.set()
        log.info("ws: connected to %s", self.url)
        self._emit(self.handler.on_connection, True)
        reader = asyncio.create_task(self._read_loop(ws), name="kalshi-ws-reader")
        watchdog = asyncio.create_task(self._watchdog(ws), name="kalshi-ws-watchdog")
        self._spawn(self._resubscribe_all())
        try:
            done, _ = await asyncio.wait({reader, watchdog}, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if not task.cancelled() and (crash := task.exception()) is not None:
                    log.error("ws: %s crashed; reconnecting", task.get_name(), exc_info=crash)
                    self._record(NetworkError(f"{task.get_name()} crashed: {crash!r}", code="ws_internal"))
        finally:
            for task in (reader, watchdog, *self._session_tasks):
                task.cancel()
            for task in (reader, watchdog, *self._session_tasks):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            self._session_tasks.clear()
            with contextlib.suppress(Exception):
                await ws.close()
            self._on_disconnected()

    def _on_disconnected(self) -> None:
        self._ws = None
        self._connected.clear()
        self.stats.disconnects += 1
        lost = NetworkError("websocket connection lost", code="ws_disconnected")
        for pending in self._pending.values():
            if not pending.future.done():
                pending.future.set_exception(lost)
                pending.future.exception()  # retrieved: a caller may have given up already
        self._pending.clear()
        self._by_sid.clear()
        for sub in self._subs:
            for _, waiter in sub.snapshot_waiters:
                if not waiter.done():
                    waiter.set_exception(lost)
                    waiter.exception()
            sub.snapshot_waiters.clear()
            sub.sid = None
            sub.next_seq = None
            sub.pending_snapshots.clear()
            sub.resync_started = None
            sub.in_flight = False
            sub.ready.clear()
        for ticker in self.books.mark_all_stale("disconnected"):
            self._emit(self.handler.on_book_stale, ticker, "disconnected")
        if not self._closing:
            self._record(lost)
        self._emit(self.handler.on_connection, False)

    async def _read_loop(self, ws: ClientConnection) -> None:
        try:
            async for frame in ws:
                self._last_rx = self.clock.monotonic()
                try:
                    if self.frame_tap is not None:
                        self.frame_tap(frame)
                    self._handle_frame(frame)
                except Exception as exc:  # a bug in handling one frame must not take the feed down
                    log.exception("ws: internal error handling a frame")
                    self._record(ProtocolError(f"internal error handling a frame: {exc!r}"))
        except ConnectionClosed:
            pass

    async def _watchdog(self, ws: ClientConnection) -> None:
        tick = min(self._ping_after, self._liveness_timeout - self._ping_after, self._resync_timeout) / 4
        while True:
            await self.clock.sleep(tick)
            now = self.clock.monotonic()
            idle = now - self._last_rx
            if idle >= self._liveness_timeout:
                self.stats.liveness_timeouts += 1
                self._record(
                    NetworkError(f"no data or pong for {idle:.1f}s; reconnecting", code="ws_liveness_timeout")
                )
                ws.transport.abort()  # the peer is gone: a closing handshake would only wait for it
                return
            if idle >= self._ping_after and not self._ping_outstanding:
                await self._ping(ws)
            for sub in self._subs:
                if sub.resync_started is not None and now - sub.resync_started >= self._resync_timeout:
                    self._record(
                        ProtocolError(
                            f"snapshots for {sorted(sub.pending_snapshots)} not received within "
                            f"{self._resync_timeout}s; resubscribing {sub.channel}"
                        )
                    )
                    sub.resync_started = None
                    self._spawn(self._resubscribe(sub))

    async def _ping(self, ws: ClientConnection) -> None:
        try:
            pong = asyncio.ensure_future(await ws.ping())
        except ConnectionClosed:
            return
        self.stats.pings_sent += 1
        self._ping_outstanding = True

        def on_pong(fut: asyncio.Future[float]) -> None:
            self._ping_outstanding = False
            if not fut.cancelled() and fut.exception() is None:
                self._last_rx = self.clock.monotonic()

        pong.add_done_callback(on_pong)
