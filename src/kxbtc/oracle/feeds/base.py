"""The connection loop every spot feed shares: socket, reconnect backoff, health state and the book.

A venue module supplies only what differs: the subscribe frames and a pure ``parse`` from one text
frame to ``BookUpdate``s (helpers in ``kxbtc.oracle.feeds.frames``). The loop here owns the socket, the
book (``kxbtc.oracle.feeds.book``) and the health counters.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import enum
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import websockets
from websockets.asyncio.client import ClientConnection, connect

from kxbtc.clock import Clock
from kxbtc.errors import KxbtcError, NetworkError, ProtocolError
from kxbtc.oracle.feeds.book import BookUpdate, L2Book, TopOfBook, VenueBook

log = logging.getLogger(__name__)


#: What a parser raises on a frame of an unexpected shape (a list where an object was due: AttributeError),
#: turned into a ProtocolError so the feed reconnects instead of its task dying.
_SHAPE_ERRORS = (KeyError, TypeError, ValueError, IndexError, AttributeError)


class FeedState(enum.Enum):
    CONNECTING = "connecting"  # dialing, or connected and waiting for the first book
    LIVE = "live"  # book current: a message arrived within ``stale_after_s``
    STALE = "stale"  # connected, but silent for longer than ``stale_after_s``
    DOWN = "down"  # disconnected, waiting out the backoff (or stopped)


@dataclass(frozen=True, slots=True)
class FeedHealth:
    venue: str
    state: FeedState
    last_message_age_s: float | None
    messages: int
    errors: int
    reconnects: int
    last_error: str


@dataclass
class Backoff:
    """Exponential reconnect delay with jitter: ``initial_s * factor**n``, capped, scaled by U(1-jitter, 1).

    Jitter keeps many clients from reconnecting in lockstep after a venue-wide drop.
    """

    initial_s: float = 0.5
    max_s: float = 30.0
    factor: float = 2.0
    jitter: float = 0.5
    rng: random.Random = field(default_factory=random.Random)
    attempts: int = 0

    def next_delay(self) -> float:
        base = min(self.max_s, self.initial_s * self.factor**self.attempts)
        self.attempts += 1
        return base * (1.0 - self.jitter * self.rng.random())

    def reset(self) -> None:
        self.attempts = 0


class SpotFeed(abc.ABC):
    """One venue's book over one websocket, reconnecting forever until ``stop()``.

    Time for ages and backoff comes from the injected clock; the socket's own timeouts (open, idle)
    are real time because the network is.
    """

    venue: ClassVar[str]
    default_url: ClassVar[str]
    default_symbol: ClassVar[str]
    #: Levels kept per side, for venues that stream a fixed depth; ``None`` keeps everything sent.
    max_depth: ClassVar[int | None] = None

    def __init__(
        self,
        clock: Clock,
        *,
        url: str | None = None,
        symbol: str | None = None,
        stale_after_s: float = 5.0,
        idle_timeout_s: float = 30.0,
        open_timeout_s: float = 10.0,
        backoff: Backoff | None = None,
        on_top: Callable[[str, TopOfBook], None] | None = None,
        on_state: Callable[[FeedState], None] | None = None,
    ) -> None:
        self.clock = clock
        self.url = url or self.default_url
        self.symbol = symbol or self.default_symbol
        self.stale_after_s = stale_after_s
        self.idle_timeout_s = idle_timeout_s
        self.open_timeout_s = open_timeout_s
        self.backoff = backoff or Backoff()
        self.on_top = on_top
        self.on_state = on_state
        self.book = L2Book(self.max_depth)
        self._state = FeedState.DOWN
        self._has_book = False
        self._last_message_mono: float | None = None
        self._last_message_ns = 0
        self._messages = 0
        self._errors = 0
        self._reconnects = 0
        self._last_error = ""
        self._stopping = False
        self._stop_event = asyncio.Event()
        self._ws: ClientConnection | None = None
        self._close_task: asyncio.Task[None] | None = None

    # -- venue specifics -------------------------------------------------------------------------

    @abc.abstractmethod
    def subscribe_messages(self) -> list[str]:
        """Text frames to send right after connecting."""

    @abc.abstractmethod
    def parse(self, raw: str | bytes) -> list[BookUpdate]:
        """One frame -> book updates ([] for acks and heartbeats). Raises ProtocolError or
        FeedRejectedError."""

    def on_connected(self) -> None:  # noqa: B027 - an optional hook, not an abstract one
        """Reset per-connection parser state (sequence numbers)."""

    def after_apply(self) -> None:  # noqa: B027 - an optional hook, not an abstract one
        """Check the book once a frame's updates are applied (checksums); raise ProtocolError to resync."""

    # -- public state ----------------------------------------------------------------------------

    def health(self) -> FeedHealth:
        age = None if self._last_message_mono is None else self.clock.monotonic() - self._last_message_mono
        state = self._state
        if state is FeedState.LIVE and age is not None and age > self.stale_after_s:
            state = FeedState.STALE
        return FeedHealth(
            venue=self.venue,
            state=state,
            last_message_age_s=age,
            messages=self._messages,
            errors=self._errors,
            reconnects=self._reconnects,
            last_error=self._last_error,
        )

    def snapshot(self, depth: int | None = None) -> VenueBook | None:
        """The current book, or None while disconnected or before the first snapshot."""
        if not self._has_book or self._state in (FeedState.DOWN, FeedState.CONNECTING):
            return None
        return VenueBook(self.venue, self.book.bids(depth), self.book.asks(depth), self._last_message_ns)

    # -- connection loop -------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask ``run()`` to return: closes the socket, or cuts short a backoff wait."""
        self._stopping = True
        self._stop_event.set()
        if self._ws is not None:
            # Closing the socket ends the pending recv; the loop then sees the flag and exits. The task
            # is kept so it is not garbage-collected mid-close.
            self._close_task = asyncio.get_running_loop().create_task(self._ws.close())

    def stopping(self) -> bool:
        return self._stopping

    async def run(self) -> None:
        """Connect, subscribe, stream; on any failure go DOWN, back off, reconnect. Returns on stop();
        cancelling it also leaves the feed DOWN."""
        first = True
        try:
            while not self.stopping():
                if not first:
                    self._reconnects += 1
                first = False
                try:
                    await self._session()
                except (KxbtcError, OSError, TimeoutError, websockets.exceptions.WebSocketException) as exc:
                    self._record_error(exc)
                finally:
                    self._ws = None
                    self._drop_book()
                if self.stopping():
                    break
                self._set_state(FeedState.DOWN)
                await self._backoff_wait(self.backoff.next_delay())
        finally:
            self._set_state(FeedState.DOWN)

    async def _backoff_wait(self, delay_s: float) -> None:
        sleep = asyncio.ensure_future(self.clock.sleep(delay_s))
        stop = asyncio.ensure_future(self._stop_event.wait())
        try:
            await asyncio.wait((sleep, stop), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for fut in (sleep, stop):
                fut.cancel()

    async def _session(self) -> None:
        self._set_state(FeedState.CONNECTING)
        self.on_connected()
        async with connect(
            self.url, open_timeout=self.open_timeout_s, max_size=2**25, close_timeout=2.0
        ) as ws:
            self._ws = ws
            for frame in self.subscribe_messages():
                await ws.send(frame)
            while not self.stopping():
                try:
                    raw = await asyncio.wait_for(ws.recv(), self.idle_timeout_s)
                except TimeoutError:
                    raise NetworkError(f"{self.venue}: no message for {self.idle_timeout_s:.0f}s") from None
                except websockets.exceptions.ConnectionClosed as exc:
                    if self.stopping():
                        return
                    raise NetworkError(f"{self.venue}: connection closed ({exc})") from None
                self._on_frame(raw)

    def _on_frame(self, raw: str | bytes) -> None:
        try:
            updates = self.parse(raw)
        except _SHAPE_ERRORS as exc:
            raise ProtocolError(f"{self.venue}: unexpected frame shape: {exc!r}") from None
        self._messages += 1
        self._last_message_mono = self.clock.monotonic()
        self._last_message_ns = self.clock.time_ns()
        for update in updates:
            self.book.apply(update)
            if update.snapshot:
                self._has_book = True
        if updates:
            self.after_apply()
        if self._has_book:
            if self._state is not FeedState.LIVE:
                self.backoff.reset()
                self._set_state(FeedState.LIVE)
            # Only the top goes out per frame: a full sorted copy of a deep book is for 1 Hz consumers
            # (the BRTI estimate), who call snapshot() themselves.
            if updates and self.on_top is not None:
                top = self.book.top()
                if top is not None:
                    self.on_top(self.venue, top)

    def _drop_book(self) -> None:
        # A book from a dead connection is unknowable: the next session starts from a new snapshot.
        self.book.clear()
        self._has_book = False

    def _record_error(self, exc: BaseException) -> None:
        self._errors += 1
        self._last_error = f"{type(exc).__name__}: {exc}"
        if not self._stopping:
            log.warning("%s feed error, will reconnect: %s", self.venue, self._last_error)

    def _set_state(self, state: FeedState) -> None:
        if state is self._state:
            return
        self._state = state
        if self.on_state is not None:
            self.on_state(state)


async def cancel_quietly(task: asyncio.Task[Any]) -> None:
    """Cancel a feed task and wait for it, for shutdown paths and tests."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
