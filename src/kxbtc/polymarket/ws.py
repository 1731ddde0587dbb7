"""Polymarket market-channel WebSocket client: subscriptions, local books, heartbeat, reconnects.

The client keeps the *desired* set of token ids and makes the connection match it. After every
(re)connect it sends ``{"assets_ids": [...], "type": "market", "custom_feature_enabled": true}``; the
venue answers with a ``book`` snapshot per token (the initial dump, a JSON array), and later changes
arrive as ``price_change`` items. Tokens added or removed while connected use the ``operation``
``subscribe``/``unsubscribe`` update frame (errata Part 4 §5.2). Between a disconnect and the next
snapshot every book is stale and ``is_tradeable`` is False.

Heartbeat (docs §5): the client sends the text ``PING`` every ``ping_interval`` seconds and the venue
answers ``PONG``. The library's own keepalive is off so that every timer runs on the injected clock: when
nothing at all (data or PONG) has arrived for ``liveness_timeout`` seconds the connection is dropped and
made again with jittered exponential backoff.

Frames are applied to the books in ``kxbtc.polymarket.ws_frames``; the handler interface and the
counters are in ``kxbtc.polymarket.ws_handlers``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Iterable

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from kxbtc.backoff import equal_jitter
from kxbtc.clock import Clock
from kxbtc.errors import KxbtcError, NetworkError, ProtocolError, RejectedError
from kxbtc.polymarket.book import PolyBook
from kxbtc.polymarket.messages import subscribe_message, update_message
from kxbtc.polymarket.ws_frames import PolyFrames
from kxbtc.polymarket.ws_handlers import PolyWsHandler, PolyWsStats
from kxbtc.ws_lifecycle import SocketLifecycle

__all__ = ["PING", "PolymarketWsClient"]

log = logging.getLogger(__name__)

PING = "PING"
AWAITING_SNAPSHOT = "awaiting snapshot"


class PolymarketWsClient(PolyFrames, SocketLifecycle):
    task_name = "poly-ws"

    def __init__(
        self,
        url: str,
        clock: Clock,
        *,
        handler: PolyWsHandler | None = None,
        rng: random.Random | None = None,
        ping_interval: float = 10.0,
        liveness_timeout: float = 30.0,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        open_timeout: float = 10.0,
        custom_features: bool = True,
        max_frame_bytes: int = 2**22,
    ) -> None:
        if liveness_timeout <= ping_interval:
            raise ValueError("liveness_timeout must exceed ping_interval (a PING needs time to be answered)")
        self.url = url
        self.clock = clock
        self.handler = handler if handler is not None else PolyWsHandler()
        self.stats = PolyWsStats()
        self.books: dict[str, PolyBook] = {}
        self._rng = rng if rng is not None else random.Random()
        self._ping_interval = ping_interval
        self._liveness_timeout = liveness_timeout
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._open_timeout = open_timeout
        self._custom_features = custom_features
        self._max_frame_bytes = max_frame_bytes
        self._assets: list[str] = []
        self._ws: ClientConnection | None = None
        self._subscribed_on_this_connection = False
        self._connected = asyncio.Event()
        self._closing = False
        self._run_task: asyncio.Task[None] | None = None
        self._last_rx = 0.0
        self._attempt = 0
        self._resyncing: set[str] = set()
        self._tasks: set[asyncio.Future[None]] = set()

    # -----------------------------------------------------------------------------------------
    # Lifecycle

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    @property
    def assets(self) -> list[str]:
        return list(self._assets)

    def is_tradeable(self, asset_id: str) -> bool:
        book = self.books.get(asset_id)
        return self.connected and book is not None and book.is_tradeable()

    async def run(self) -> None:
        """Connect, serve, reconnect with backoff until ``close()``."""
        while not self._closing:
            try:
                ws = await self._open()
            except KxbtcError as exc:
                self.stats.connect_failures += 1
                self._record(exc)
            else:
                began = self.clock.monotonic()
                await self._session(ws)
                if self.clock.monotonic() - began >= self._liveness_timeout:
                    self._attempt = 0  # a connection that lived a while starts the backoff afresh
            if self._stopping():
                break
            delay = self.backoff_delay(self._attempt)
            self._attempt += 1
            log.info("poly ws: reconnecting in %.2fs (attempt %d)", delay, self._attempt)
            await self.clock.sleep(delay)

    def _stopping(self) -> bool:
        return self._closing

    def backoff_delay(self, attempt: int) -> float:
        """Equal-jitter exponential backoff: uniform in [cap/2, cap], cap = initial * 2**attempt."""
        return equal_jitter(attempt, self._backoff_initial, self._backoff_max, self._rng)

    # -----------------------------------------------------------------------------------------
    # Subscriptions

    async def subscribe(self, asset_ids: Iterable[str]) -> None:
        """Add tokens; kept across reconnects. Sent now when connected, else on the next connect."""
        new = [a for a in asset_ids if a not in self._assets]
        if not new:
            return
        self._assets.extend(new)
        for asset in new:
            self.books[asset] = PolyBook(asset)
            self.books[asset].mark_stale(AWAITING_SNAPSHOT)
        ws = self._ws
        if ws is not None and self.connected:
            if self._subscribed_on_this_connection:
                await self._send(ws, update_message(new, "subscribe", custom_features=self._custom_features))
            else:
                await self._send_initial(ws)

    async def unsubscribe(self, asset_ids: Iterable[str]) -> None:
        gone = [a for a in asset_ids if a in self._assets]
        if not gone:
            return
        self._assets = [a for a in self._assets if a not in gone]
        for asset in gone:
            self.books.pop(asset, None)
            self._resyncing.discard(asset)
        ws = self._ws
        if ws is not None and self.connected and self._subscribed_on_this_connection:
            await self._send(ws, update_message(gone, "unsubscribe", custom_features=self._custom_features))

    # -----------------------------------------------------------------------------------------
    # Connection

    async def _open(self) -> ClientConnection:
        async def handshake() -> ClientConnection:
            return await connect(
                self.url,
                ping_interval=None,  # the venue's heartbeat is a text PING on the injected clock
                ping_timeout=None,
                open_timeout=None,
                close_timeout=2,
                max_size=self._max_frame_bytes,
                proxy=None,
            )

        task = asyncio.ensure_future(handshake())
        timer = asyncio.ensure_future(self.clock.sleep(self._open_timeout))
        try:
            await asyncio.wait({task, timer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            timer.cancel()
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
            raise NetworkError(
                f"websocket handshake timed out after {self._open_timeout}s", code="ws_timeout"
            )
        try:
            return task.result()
        except InvalidStatus as exc:
            status = exc.response.status_code
            kind = NetworkError if status >= 500 or status == 429 else RejectedError
            raise kind("websocket handshake refused", code="ws_handshake", status=status) from exc
        except Exception as exc:  # OSError, InvalidHandshake, InvalidURI, TLS errors...
            raise NetworkError(f"websocket connect failed: {exc!r}", code="ws_connect") from exc

    async def _session(self, ws: ClientConnection) -> None:
        self._ws = ws
        self._subscribed_on_this_connection = False
        self._resyncing.clear()
        self._last_rx = self.clock.monotonic()
        self.stats.connects += 1
        self._connected.set()
        log.info("poly ws: connected to %s", self.url)
        self._emit(self.handler.on_connection, True)
        reader = asyncio.create_task(self._read_loop(ws), name="poly-ws-reader")
        heartbeat = asyncio.create_task(self._heartbeat(ws), name="poly-ws-heartbeat")
        try:
            if self._assets:
                await self._send_initial(ws)
            done, _ = await asyncio.wait({reader, heartbeat}, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if not task.cancelled() and (crash := task.exception()) is not None:
                    log.error("poly ws: %s crashed; reconnecting", task.get_name(), exc_info=crash)
                    self._record(NetworkError(f"{task.get_name()} crashed: {crash!r}", code="ws_internal"))
        finally:
            for task in (reader, heartbeat):
                task.cancel()
            for task in (reader, heartbeat):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            with contextlib.suppress(Exception):
                await ws.close()
            self._on_disconnected()

    def _on_disconnected(self) -> None:
        self._ws = None
        self._connected.clear()
        self.stats.disconnects += 1
        for asset, book in self.books.items():
            was_live = not book.stale
            book.mark_stale("disconnected")
            if was_live:
                self._emit(self.handler.on_book_stale, asset, "disconnected")
        if not self._closing:
            self._record(NetworkError("websocket connection lost", code="ws_disconnected"))
        self._emit(self.handler.on_connection, False)

    async def _send_initial(self, ws: ClientConnection) -> None:
        self._subscribed_on_this_connection = True
        await self._send(ws, subscribe_message(list(self._assets), custom_features=self._custom_features))

    async def _send(self, ws: ClientConnection, text: str) -> None:
        # On a closed connection the reader sees the close and the session ends; the next one resubscribes.
        with contextlib.suppress(ConnectionClosed):
            await ws.send(text)

    async def _read_loop(self, ws: ClientConnection) -> None:
        try:
            async for frame in ws:
                self._last_rx = self.clock.monotonic()
                try:
                    self._handle_frame(frame)
                except Exception as exc:  # a bug in handling one frame must not take the feed down
                    log.exception("poly ws: internal error handling a frame")
                    self._record(ProtocolError(f"internal error handling a frame: {exc!r}"))
        except ConnectionClosed:
            pass

    async def _heartbeat(self, ws: ClientConnection) -> None:
        tick = self._ping_interval / 5
        next_ping = self.clock.monotonic() + self._ping_interval
        while True:
            await self.clock.sleep(tick)
            now = self.clock.monotonic()
            idle = now - self._last_rx
            if idle >= self._liveness_timeout:
                self.stats.liveness_timeouts += 1
                self._record(NetworkError(f"nothing received for {idle:.1f}s", code="ws_liveness_timeout"))
                ws.transport.abort()  # the peer is gone: a closing handshake would only wait for it
                return
            if now >= next_ping:
                next_ping = now + self._ping_interval
                self.stats.pings_sent += 1
                await self._send(ws, PING)
