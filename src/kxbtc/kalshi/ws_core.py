"""The WebSocket client's state and plumbing: settings, command ids, error recording, handler calls,
background tasks and timeouts on the injected clock."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection

from kxbtc.clock import Clock
from kxbtc.errors import KxbtcError, NetworkError
from kxbtc.kalshi.auth import Signer
from kxbtc.kalshi.books import BookManager
from kxbtc.kalshi.ws_errors import WsCommandError
from kxbtc.kalshi.ws_handlers import WsHandler
from kxbtc.kalshi.ws_state import PendingCommand, Subscription, WsStats

# Every part of the client logs as ``kxbtc.kalshi.ws``, the module it grew out of.
log = logging.getLogger("kxbtc.kalshi.ws")


DEFAULT_WS_PATH = "/trade-api/ws/v2"
ORDERBOOK_CHANNEL = "orderbook_delta"

T = TypeVar("T")


class WsClientCore:
    """State and plumbing shared by the parts of ``KalshiWsClient``; this is its constructor."""

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
    ) -> None:
        if liveness_timeout <= ping_after:
            raise ValueError("liveness_timeout must exceed ping_after (a ping needs time to be answered)")
        self.url = url
        self.path = urlsplit(url).path or DEFAULT_WS_PATH
        self.signer = signer
        self.clock = clock
        self.handler = handler if handler is not None else WsHandler()
        self.books = books if books is not None else BookManager()
        self.use_yes_price = use_yes_price
        self.stats = WsStats()
        self._rng = rng if rng is not None else random.Random()
        self._ping_after = ping_after
        self._liveness_timeout = liveness_timeout
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._open_timeout = open_timeout
        self._command_timeout = command_timeout
        self._resync_timeout = resync_timeout
        self._max_frame_bytes = max_frame_bytes
        #: Sees every received frame, as received, before it is decoded (the recorder writes them down).
        self.frame_tap = frame_tap

        self._subs: list[Subscription] = []
        self._by_sid: dict[int, Subscription] = {}
        self._pending: dict[int, PendingCommand] = {}
        self._next_id = 1
        self._ws: ClientConnection | None = None
        self._connected = asyncio.Event()
        self._closing = False
        self._run_task: asyncio.Task[None] | None = None
        self._session_tasks: set[asyncio.Task[Any]] = set()
        self._last_rx = 0.0
        self._ping_outstanding = False
        self._attempt = 0
        self._unknown_kinds: set[str] = set()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    @property
    def subscriptions(self) -> list[Subscription]:
        return list(self._subs)

    def is_tradeable(self, ticker: str) -> bool:
        return self.connected and self.books.is_tradeable(ticker)

    def _new_id(self) -> int:
        cmd_id = self._next_id
        self._next_id += 1
        return cmd_id

    def _require_ws(self) -> ClientConnection:
        ws = self._ws
        if ws is None or not self.connected:
            raise NetworkError("websocket not connected", code="ws_not_connected")
        return ws

    # -----------------------------------------------------------------------------------------
    # Plumbing

    def _mark_stale(self, tickers: Iterable[str], reason: str) -> None:
        for ticker in self.books.mark_stale(tickers, reason):
            self._emit(self.handler.on_book_stale, ticker, reason)

    def _record_once(self, error: KxbtcError) -> None:
        """Record a command's failure unless it is an error frame, recorded when it arrived."""
        if not isinstance(error, WsCommandError):
            self._record(error)

    def _record(self, error: KxbtcError, level: int = logging.WARNING) -> None:
        self.stats.errors[type(error).__name__] += 1
        self.stats.recent_errors.append(error)
        log.log(level, "ws: %s: %s", type(error).__name__, error)
        self._emit(self.handler.on_error, error)

    def _emit(self, callback: Callable[..., None], *args: Any) -> None:
        try:
            callback(*args)
        except Exception:
            self._handler_failed(getattr(callback, "__name__", repr(callback)))

    def _handler_failed(self, name: str) -> None:
        # Called from an except block: log.exception carries the handler's traceback.
        self.stats.handler_errors += 1
        log.exception("ws: handler %s raised", name)

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._session_tasks.add(task)
        task.add_done_callback(self._session_tasks.discard)

    async def _with_timeout(self, aw: Awaitable[T], seconds: float | None, what: str) -> T:
        """Await ``aw`` with a timeout measured on the injected clock (NetworkError on expiry)."""
        if seconds is None:
            return await aw
        task = asyncio.ensure_future(aw)
        timer = asyncio.ensure_future(self.clock.sleep(seconds))
        try:
            await asyncio.wait({task, timer}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            task.cancel()
            raise
        finally:
            timer.cancel()
        if task.done():
            return task.result()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        raise NetworkError(f"{what} timed out after {seconds}s", code="ws_timeout")
