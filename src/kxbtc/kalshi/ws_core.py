"""What every part of the WebSocket client shares: its settings, the handler, the counters, and the
plumbing for recording errors, calling the handler, running background tasks and timing out on the
injected clock.

The parts (``ws_connection``, ``ws_commands``, ``ws_subscriptions``, ``ws_resync``, ``ws_books``,
``ws_dispatch``) each hold this one context rather than each other's internals, so that an error is
counted once, a handler bug is contained the same way everywhere, and every timeout runs on one clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from kxbtc.clock import Clock
from kxbtc.errors import KxbtcError, NetworkError
from kxbtc.kalshi.stream import ORDERBOOK_CHANNEL as ORDERBOOK_CHANNEL
from kxbtc.kalshi.ws_errors import WsCommandError
from kxbtc.kalshi.ws_handlers import WsHandler
from kxbtc.kalshi.ws_state import WsStats

# Every part of the client logs as ``kxbtc.kalshi.ws``, the module it grew out of.
log = logging.getLogger("kxbtc.kalshi.ws")

DEFAULT_WS_PATH = "/trade-api/ws/v2"

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class WsSettings:
    """The client's timings, in seconds of the injected clock."""

    ping_after: float = 10.0
    liveness_timeout: float = 25.0
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    open_timeout: float = 10.0
    command_timeout: float = 10.0
    resync_timeout: float = 10.0
    max_frame_bytes: int = 2**22

    def __post_init__(self) -> None:
        if self.liveness_timeout <= self.ping_after:
            raise ValueError("liveness_timeout must exceed ping_after (a ping needs time to be answered)")


class WsContext:
    """Settings, handler, counters and plumbing shared by the client's parts."""

    def __init__(
        self, clock: Clock, handler: WsHandler, settings: WsSettings, rng: random.Random, use_yes_price: bool
    ) -> None:
        self.clock = clock
        #: Replaceable at any time (the engine installs itself after building the client).
        self.handler = handler
        self.settings = settings
        self.rng = rng
        #: The default ``use_yes_price`` of book subscriptions (and of the stream).
        self.use_yes_price = use_yes_price
        self.stats = WsStats()
        #: Tasks of the current connection, cancelled when it ends.
        self.session_tasks: set[asyncio.Task[Any]] = set()

    def record(self, error: KxbtcError, level: int = logging.WARNING) -> None:
        """Count, log and report an error the client survived."""
        self.stats.errors[type(error).__name__] += 1
        self.stats.recent_errors.append(error)
        log.log(level, "ws: %s: %s", type(error).__name__, error)
        self.emit(self.handler.on_error, error)

    def record_once(self, error: KxbtcError) -> None:
        """Record a command's failure unless it is an error frame, recorded when it arrived."""
        if not isinstance(error, WsCommandError):
            self.record(error)

    def emit(self, callback: Callable[..., None], *args: Any) -> None:
        """Call a handler callback; its exception is logged and counted, never raised into the reader."""
        try:
            callback(*args)
        except Exception:
            self.handler_failed(getattr(callback, "__name__", repr(callback)))

    def handler_failed(self, name: str) -> None:
        # Called from an except block: log.exception carries the handler's traceback.
        self.stats.handler_errors += 1
        log.exception("ws: handler %s raised", name)

    def spawn(self, coro: Awaitable[Any]) -> None:
        """Run ``coro`` as a task of the current connection."""
        task = asyncio.ensure_future(coro)
        self.session_tasks.add(task)
        task.add_done_callback(self.session_tasks.discard)

    async def with_timeout(self, aw: Awaitable[T], seconds: float | None, what: str) -> T:
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

    async def send_recorded(self, aw: Awaitable[Any], what: str) -> None:
        """Run a background command; its failure is recorded, never raised into the event loop."""
        try:
            await self.with_timeout(aw, self.settings.command_timeout, what)
        except KxbtcError as exc:
            self.record_once(exc)
