"""The WebSocket client's connection: a signed handshake, the read loop, liveness, and reconnecting with
jittered exponential backoff until closed.

It knows nothing of subscriptions or books: what a new connection, a frame, a lost connection or a
watchdog tick means is the business of ``ConnectionHooks`` (the client facade wires them to its parts).

Liveness: the library's own keepalive is off so that every timeout runs on the injected clock. When no
frame has arrived for ``ping_after`` seconds the connection pings; when neither data nor a pong has
arrived for ``liveness_timeout`` seconds it drops the socket and reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Protocol

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
from kxbtc.kalshi.auth import Signer
from kxbtc.kalshi.ws_core import WsContext, log
from kxbtc.latency import forget, frame_received
from kxbtc.ws_lifecycle import SocketLifecycle


class ConnectionHooks(Protocol):
    def connection_opened(self, ws: ClientConnection) -> None:
        """A new connection is up (called before its first frame is read)."""

    def frame_received(self, frame: str | bytes) -> None:
        """One frame, as received; an exception is contained and recorded."""

    def connection_lost(self, closing: bool) -> None:
        """The connection is gone (``closing``: by our own ``close()``)."""

    def watchdog_tick(self, now: float) -> None:
        """Called every watchdog period while connected (the resync timeouts run on it)."""

    def batch_started(self) -> None:
        """Frames follow that were received together (see ``WsConnection._read_loop``)."""

    def batch_ended(self) -> None:
        """The batch's last frame was handled; an exception is contained and recorded."""


def message_buffered(ws: ClientConnection) -> bool:
    """A whole message is already received (its last frame is queued), so ``recv`` would not wait.

    Reads the websockets library's frame queue (``recv_messages.frames``, version 15): with another
    layout it answers False and every frame is a batch of its own, as before."""
    queue = getattr(getattr(getattr(ws, "recv_messages", None), "frames", None), "queue", None)
    if not queue:
        return False
    return any(getattr(frame, "fin", False) for frame in queue)


class WsConnection(SocketLifecycle):
    """Connect, serve, watch liveness, reconnect with backoff until ``close()``."""

    task_name = "kalshi-ws"

    def __init__(self, ctx: WsContext, url: str, path: str, signer: Signer, hooks: ConnectionHooks) -> None:
        self.ctx = ctx
        self.url = url
        self.path = path
        self.signer = signer
        self.hooks = hooks
        self._ws: ClientConnection | None = None
        self._connected = asyncio.Event()
        self._closing = False
        self._run_task: asyncio.Task[None] | None = None
        self._last_rx = 0.0
        self._ping_outstanding = False
        #: Reconnect attempts since the last healthy session (``healthy()`` resets it).
        self.attempt = 0
        self.on_clock_rejected: Callable[[], Awaitable[None]] | None = None

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    @property
    def socket(self) -> ClientConnection | None:
        """The live socket, or None between connections."""
        return self._ws

    def require(self) -> ClientConnection:
        ws = self._ws
        if ws is None or not self.connected:
            raise NetworkError("websocket not connected", code="ws_not_connected")
        return ws

    def healthy(self) -> None:
        """The session is established (everything resubscribed): the next outage backs off afresh."""
        self.attempt = 0

    async def wait_connected(self, timeout_s: float | None = None) -> None:
        await self.ctx.with_timeout(self._connected.wait(), timeout_s, "connect")

    def backoff_delay(self, attempt: int) -> float:
        """Equal-jitter exponential backoff: uniform in [cap/2, cap], cap = initial * 2**attempt."""
        s = self.ctx.settings
        return equal_jitter(attempt, s.backoff_initial, s.backoff_max, self.ctx.rng)

    async def run(self) -> None:
        """Connect, serve, reconnect with backoff until ``close()``."""
        while not self._closing:
            try:
                ws = await self._open()
            except KxbtcError as exc:
                self.ctx.stats.connect_failures += 1
                self.ctx.record(exc)
                await self._resync_if_clock_rejected(exc)
            else:
                await self._session(ws)
            if self._stopping():
                break
            delay = self.backoff_delay(self.attempt)
            self.attempt += 1
            log.info("ws: reconnecting in %.2fs (attempt %d)", delay, self.attempt)
            await self.ctx.clock.sleep(delay)

    async def _resync_if_clock_rejected(self, exc: KxbtcError) -> None:
        """A handshake refused for its timestamp (the local clock stepped): measure the clock now rather
        than reconnecting with the same bad clock until the scheduled re-sync."""
        if self.on_clock_rejected is None or not isinstance(exc, AuthError):
            return
        if "header_timestamp_expired" not in (exc.details or ""):
            return
        try:
            await self.on_clock_rejected()
        except KxbtcError as failure:
            log.error("ws: clock re-sync after a refused handshake failed: %s", failure)

    def _stopping(self) -> bool:
        # A method, not the attribute: ``close()`` sets it while ``run()`` awaits.
        return self._closing

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
                max_size=self.ctx.settings.max_frame_bytes,
                proxy=None,
            )

        try:
            return await self.ctx.with_timeout(
                handshake(), self.ctx.settings.open_timeout, "websocket handshake"
            )
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
        ctx = self.ctx
        self._ws = ws
        self._last_rx = ctx.clock.monotonic()
        self._ping_outstanding = False
        ctx.stats.connects += 1
        self._connected.set()
        log.info("ws: connected to %s", self.url)
        self.hooks.connection_opened(ws)
        reader = asyncio.create_task(self._read_loop(ws), name="kalshi-ws-reader")
        watchdog = asyncio.create_task(self._watchdog(ws), name="kalshi-ws-watchdog")
        try:
            done, _ = await asyncio.wait({reader, watchdog}, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if not task.cancelled() and (crash := task.exception()) is not None:
                    log.error("ws: %s crashed; reconnecting", task.get_name(), exc_info=crash)
                    ctx.record(NetworkError(f"{task.get_name()} crashed: {crash!r}", code="ws_internal"))
        finally:
            children = (reader, watchdog, *ctx.session_tasks)
            for task in children:
                task.cancel()
            try:
                # wait() leaves the children's outcomes alone but raises a cancel aimed at this task: awaiting
                # each child under a suppress swallowed such a cancel, and run() then reconnected forever.
                await asyncio.wait(children)
            finally:
                for task in children:
                    if task.done() and not task.cancelled():
                        task.exception()  # retrieved here: a crash was logged above
                ctx.session_tasks.clear()
                with contextlib.suppress(Exception):
                    await ws.close()
                self._ws = None
                self._connected.clear()
                ctx.stats.disconnects += 1
                self.hooks.connection_lost(self._closing)

    async def _read_loop(self, ws: ClientConnection) -> None:
        """Read a frame, then every whole message the connection has already received, as one batch:
        the handler hears ``batch_started``, each frame, ``batch_ended``, and evaluates each changed
        market once at the end (with an order, written before this loop reads on)."""
        try:
            while True:
                frame = await ws.recv()
                self._last_rx = self.ctx.clock.monotonic()
                self.hooks.batch_started()
                try:
                    self._handle(frame)
                    while message_buffered(ws):
                        # Returns without suspending: the message is already here.
                        self._handle(await ws.recv())
                finally:
                    self.hooks.batch_ended()
                    forget()  # the batch is handled: later orders are not its
        except ConnectionClosed:
            pass

    def _handle(self, frame: str | bytes) -> None:
        frame_received()  # tick-to-wire measurement (kxbtc.latency), when installed
        try:
            self.hooks.frame_received(frame)
        except Exception as exc:  # a bug in handling one frame must not take the feed down
            log.exception("ws: internal error handling a frame")
            self.ctx.record(ProtocolError(f"internal error handling a frame: {exc!r}"))

    async def _watchdog(self, ws: ClientConnection) -> None:
        s = self.ctx.settings
        tick = min(s.ping_after, s.liveness_timeout - s.ping_after, s.resync_timeout) / 4
        while True:
            await self.ctx.clock.sleep(tick)
            now = self.ctx.clock.monotonic()
            idle = now - self._last_rx
            if idle >= s.liveness_timeout:
                self.ctx.stats.liveness_timeouts += 1
                self.ctx.record(
                    NetworkError(f"no data or pong for {idle:.1f}s; reconnecting", code="ws_liveness_timeout")
                )
                ws.transport.abort()  # the peer is gone: a closing handshake would only wait for it
                return
            if idle >= s.ping_after and not self._ping_outstanding:
                await self._ping(ws)
            self.hooks.watchdog_tick(now)

    async def _ping(self, ws: ClientConnection) -> None:
        try:
            pong = asyncio.ensure_future(await ws.ping())
        except ConnectionClosed:
            return
        self.ctx.stats.pings_sent += 1
        self._ping_outstanding = True

        def on_pong(fut: asyncio.Future[float]) -> None:
            self._ping_outstanding = False
            if not fut.cancelled() and fut.exception() is None:
                self._last_rx = self.ctx.clock.monotonic()

        pong.add_done_callback(on_pong)
