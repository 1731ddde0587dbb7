"""What every spot feed shares: the L2 book, health state, reconnect backoff and the connection loop.

Prices and sizes from the venues are kept as ``float``: they feed the BRTI estimate and the pricing
model (probabilities, volatility), never a balance we hold, so exact decimal arithmetic buys nothing
here. The settlement tracker converts index values to integer cents where exactness matters.

A venue module supplies only what differs: the subscribe frames and a pure ``parse`` from one text
frame to ``BookUpdate``s. The loop here owns the socket, the book and the health counters.
"""

from __future__ import annotations

import abc
import asyncio
import bisect
import contextlib
import enum
import logging
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import msgspec
import websockets
from websockets.asyncio.client import ClientConnection, connect

from kxbtc.clock import Clock
from kxbtc.errors import KxbtcError, NetworkError, ProtocolError, RejectedError, RetryableError

log = logging.getLogger(__name__)

#: (price, size): one aggregated price level. Size 0 in an update removes the level.
Level = tuple[float, float]


class FeedRejectedError(RejectedError):
    """The venue answered a subscription with an error frame; ``code`` carries its own code or text."""


class ReconnectRequestedError(RetryableError):
    """The venue asked us to reconnect (e.g. Bitstamp's ``bts:request_reconnect`` before maintenance)."""


@dataclass(frozen=True, slots=True)
class BookUpdate:
    """One parsed change to a venue's book. ``snapshot`` replaces the whole book."""

    snapshot: bool
    bids: tuple[Level, ...] = ()
    asks: tuple[Level, ...] = ()
    exchange_ts_ms: int | None = None


@dataclass(frozen=True, slots=True)
class TopOfBook:
    bid: float
    bid_size: float
    ask: float
    ask_size: float

    @property
    def mid(self) -> float:
        return (self.bid + self.ask) / 2.0


@dataclass(frozen=True, slots=True)
class VenueBook:
    """An immutable copy of one venue's book: bids best first (descending), asks best first (ascending).

    ``as_of_ns`` is the clock time of the last message on a live connection: the book is known to be
    current as of then, even when the message was only a heartbeat.
    """

    venue: str
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    as_of_ns: int

    @property
    def top(self) -> TopOfBook | None:
        if not self.bids or not self.asks:
            return None
        return TopOfBook(self.bids[0][0], self.bids[0][1], self.asks[0][0], self.asks[0][1])

    @property
    def mid(self) -> float | None:
        top = self.top
        return None if top is None else top.mid


class _Side:
    """Price -> size, plus the prices kept sorted ascending so the best level is O(1) to read."""

    def __init__(self, best_is_high: bool) -> None:
        self.best_is_high = best_is_high
        self.sizes: dict[float, float] = {}
        self.prices: list[float] = []

    def replace(self, levels: Iterable[Level]) -> None:
        self.sizes = {p: s for p, s in levels if s > 0.0}
        self.prices = sorted(self.sizes)

    def set(self, price: float, size: float) -> None:
        if size <= 0.0:
            if self.sizes.pop(price, None) is not None:
                del self.prices[bisect.bisect_left(self.prices, price)]
            return
        if price not in self.sizes:
            bisect.insort(self.prices, price)
        self.sizes[price] = size

    def best(self) -> float:
        return self.prices[-1] if self.best_is_high else self.prices[0]

    def levels(self, depth: int | None) -> tuple[Level, ...]:
        if self.best_is_high:
            chosen = self.prices[::-1] if depth is None else self.prices[: -depth - 1 : -1]
        else:
            chosen = self.prices if depth is None else self.prices[:depth]
        return tuple((p, self.sizes[p]) for p in chosen)

    def truncate(self, depth: int) -> None:
        if len(self.prices) <= depth:
            return
        if self.best_is_high:
            dropped, self.prices = self.prices[:-depth], self.prices[-depth:]
        else:
            dropped, self.prices = self.prices[depth:], self.prices[:depth]
        for p in dropped:
            del self.sizes[p]


class L2Book:
    """Aggregated price levels of one venue. Sizes are absolute (not deltas); size 0 removes a level."""

    def __init__(self, max_depth: int | None = None) -> None:
        self.max_depth = max_depth
        self._bids = _Side(best_is_high=True)
        self._asks = _Side(best_is_high=False)

    def clear(self) -> None:
        self._bids.replace(())
        self._asks.replace(())

    def apply(self, update: BookUpdate) -> None:
        if update.snapshot:
            self._bids.replace(update.bids)
            self._asks.replace(update.asks)
        else:
            for price, size in update.bids:
                self._bids.set(price, size)
            for price, size in update.asks:
                self._asks.set(price, size)
        if self.max_depth is not None:
            # Venues that stream a fixed depth (Kraken) expect levels pushed past it to be dropped.
            self._bids.truncate(self.max_depth)
            self._asks.truncate(self.max_depth)

    def bids(self, depth: int | None = None) -> tuple[Level, ...]:
        """Best (highest) first."""
        return self._bids.levels(depth)

    def asks(self, depth: int | None = None) -> tuple[Level, ...]:
        """Best (lowest) first."""
        return self._asks.levels(depth)

    def top(self) -> TopOfBook | None:
        if not self._bids.prices or not self._asks.prices:
            return None
        bid, ask = self._bids.best(), self._asks.best()
        return TopOfBook(bid, self._bids.sizes[bid], ask, self._asks.sizes[ask])

    def __len__(self) -> int:
        return len(self._bids.prices) + len(self._asks.prices)


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


def decode_json(raw: str | bytes) -> Any:
    try:
        return msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        raise ProtocolError(f"malformed JSON frame: {exc}") from None


def parse_levels(rows: Iterable[Sequence[Any]]) -> tuple[Level, ...]:
    """``[["price", "size"], ...]`` (strings or numbers) -> levels."""
    return tuple((float(row[0]), float(row[1])) for row in rows)


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
        except (KeyError, TypeError, ValueError, IndexError) as exc:
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
