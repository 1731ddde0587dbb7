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
import random
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from kxbtc.book.orderbook import OrderBook
from kxbtc.clock import Clock
from kxbtc.errors import (
    AuthError,
    BookError,
    ExchangeError,
    KxbtcError,
    NetworkError,
    ProtocolError,
    RateLimitedError,
    RejectedError,
    ServerError,
)
from kxbtc.kalshi.auth import Signer
from kxbtc.kalshi.books import BookManager
from kxbtc.kalshi.ws_messages import (
    TERMINAL_ERROR_CODES,
    CfbenchmarksIndexList,
    CfbenchmarksValue,
    ErrorBody,
    ErrorMessage,
    EventFeeUpdate,
    EventLifecycle,
    Fill,
    MarketLifecycle,
    MarketPosition,
    Ok,
    OrderbookDelta,
    OrderbookSnapshot,
    OrderGroupUpdate,
    Subscribed,
    SubscriptionInfo,
    Ticker,
    Trade,
    UnknownMessage,
    Unsubscribed,
    UserOrder,
    decode_frame,
    encode_list_subscriptions,
    encode_subscribe,
    encode_unsubscribe,
    encode_update_subscription,
    peek_route,
    subscribe_params,
)

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

DEFAULT_WS_PATH = "/trade-api/ws/v2"
ORDERBOOK_CHANNEL = "orderbook_delta"
#: Consecutive invalid snapshots of one book after which the client stops asking for more.
MAX_BAD_SNAPSHOTS = 3

T = TypeVar("T")


# ---------------------------------------------------------------------------------------------
# Errors


class WsCommandError(ExchangeError):
    """The server answered a command (or a subscription) with an ``error`` frame.

    ``code`` is the exchange's numeric code as a string (``ws_code`` as an int); ``terminal`` codes
    (10, 17, 25) mean the subscription is dead.
    """

    def __init__(self, body: ErrorBody, *, cmd: str = "", sid: int | None = None) -> None:
        where = f"sid {sid}" if sid is not None else ""
        super().__init__(body.msg, code=str(body.code), details=where, method="WS", path=cmd)
        self.ws_code = body.code
        self.sid = sid
        self.market_ticker = body.market_ticker
        self.terminal = body.code in TERMINAL_ERROR_CODES


class SeqGapError(ProtocolError):
    """A frame arrived on a sid with a ``seq`` other than the expected one: messages were lost."""

    def __init__(self, sid: int, channel: str, expected: int, got: int) -> None:
        super().__init__(f"seq gap on sid {sid} ({channel}): expected {expected}, got {got}")
        self.sid = sid
        self.channel = channel
        self.expected = expected
        self.got = got


class UnknownMessageTypeError(ProtocolError):
    """A frame with a ``type`` this client does not handle (skipped)."""

    def __init__(self, kind: str) -> None:
        super().__init__(f"unknown message type {kind!r}")
        self.kind = kind


# ---------------------------------------------------------------------------------------------
# Handlers


class WsHandler:
    """Callbacks for the engine; override what you need. Called from the reader task: do not block."""

    def on_orderbook(self, ticker: str, book: OrderBook, msg: OrderbookSnapshot | OrderbookDelta) -> None:
        """A snapshot or delta was applied to a live book."""

    def on_book_stale(self, ticker: str, reason: str) -> None:
        """A live book became stale: stop trading on it until the next ``on_orderbook`` snapshot."""

    def on_ticker(self, msg: Ticker) -> None: ...

    def on_trade(self, msg: Trade) -> None: ...

    def on_fill(self, msg: Fill) -> None: ...

    def on_user_order(self, msg: UserOrder) -> None: ...

    def on_market_position(self, msg: MarketPosition) -> None: ...

    def on_lifecycle(self, msg: MarketLifecycle | EventLifecycle | EventFeeUpdate) -> None: ...

    def on_cfbenchmarks(self, msg: CfbenchmarksValue) -> None: ...

    def on_order_group(self, msg: OrderGroupUpdate) -> None: ...

    def on_error(self, error: KxbtcError) -> None:
        """A typed error the client survived (bad frame, seq gap, server error frame, disconnect)."""

    def on_connection(self, connected: bool) -> None: ...


class QueueHandler(WsHandler):
    """Puts every event on ``queue`` as ``(kind, payload)``; ``kind`` is the callback name minus ``on_``."""

    def __init__(self, maxsize: int = 0) -> None:
        self.queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue(maxsize)

    def _put(self, kind: str, payload: Any) -> None:
        # A full queue drops the event rather than stalling the reader (and so every book); say so loudly.
        try:
            self.queue.put_nowait((kind, payload))
        except asyncio.QueueFull:
            log.error("ws: event queue full, dropped %s event", kind)

    def on_orderbook(self, ticker: str, book: OrderBook, msg: OrderbookSnapshot | OrderbookDelta) -> None:
        self._put("orderbook", (ticker, book, msg))

    def on_book_stale(self, ticker: str, reason: str) -> None:
        self._put("book_stale", (ticker, reason))

    def on_ticker(self, msg: Ticker) -> None:
        self._put("ticker", msg)

    def on_trade(self, msg: Trade) -> None:
        self._put("trade", msg)

    def on_fill(self, msg: Fill) -> None:
        self._put("fill", msg)

    def on_user_order(self, msg: UserOrder) -> None:
        self._put("user_order", msg)

    def on_market_position(self, msg: MarketPosition) -> None:
        self._put("market_position", msg)

    def on_lifecycle(self, msg: MarketLifecycle | EventLifecycle | EventFeeUpdate) -> None:
        self._put("lifecycle", msg)

    def on_cfbenchmarks(self, msg: CfbenchmarksValue) -> None:
        self._put("cfbenchmarks", msg)

    def on_order_group(self, msg: OrderGroupUpdate) -> None:
        self._put("order_group", msg)

    def on_error(self, error: KxbtcError) -> None:
        self._put("error", error)

    def on_connection(self, connected: bool) -> None:
        self._put("connection", connected)


# ---------------------------------------------------------------------------------------------
# State


@dataclass
class WsStats:
    frames: int = 0
    connects: int = 0
    disconnects: int = 0
    connect_failures: int = 0
    seq_gaps: int = 0
    snapshot_requests: int = 0
    resubscribes: int = 0
    pings_sent: int = 0
    liveness_timeouts: int = 0
    handler_errors: int = 0
    #: Every error the client survived, by class name (ProtocolError, BookError, SeqGapError, ...).
    errors: Counter[str] = field(default_factory=Counter)
    recent_errors: deque[KxbtcError] = field(default_factory=lambda: deque(maxlen=100))


@dataclass(eq=False)
class Subscription:
    """One channel subscription the client keeps alive across reconnects (``sid`` changes on each)."""

    channel: str
    params: dict[str, Any]
    sid: int | None = None
    next_seq: int | None = None
    #: Tickers whose snapshot was requested and has not arrived yet (orderbook only).
    pending_snapshots: set[str] = field(default_factory=set)
    resync_started: float | None = None
    bad_snapshots: Counter[str] = field(default_factory=Counter)
    snapshot_waiters: list[tuple[frozenset[str], asyncio.Future[None]]] = field(default_factory=list)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    use_yes_price: bool = field(init=False, default=False)
    #: A subscribe command for it is on its way (this connection).
    in_flight: bool = False

    @property
    def market_tickers(self) -> list[str]:
        tickers = self.params.get("market_tickers")
        return list(tickers) if tickers else []

    def __post_init__(self) -> None:
        # Fixed for the subscription's life; read on every orderbook frame, so not a property.
        self.use_yes_price = bool(self.params.get("use_yes_price", False))

    def wire_params(self) -> dict[str, Any]:
        return {**self.params, "channels": [self.channel]}


@dataclass(eq=False)
class _Pending:
    cmd: str
    future: asyncio.Future[Any]
    #: For subscribe: channel -> subscription still waiting for its ``subscribed``, and those acked.
    waiting: dict[str, Subscription] = field(default_factory=dict)
    acked: list[Subscription] = field(default_factory=list)
    sub: Subscription | None = None


# ---------------------------------------------------------------------------------------------
# Client


class KalshiWsClient:
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

        self._subs: list[Subscription] = []
        self._by_sid: dict[int, Subscription] = {}
        self._pending: dict[int, _Pending] = {}
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
        self._dispatch: dict[type, Callable[[Any], None]] = {
            OrderbookDelta: self._on_delta,
            OrderbookSnapshot: self._on_snapshot,
            Ticker: self._on_ticker,
            Trade: self._on_trade,
            Fill: self._on_fill,
            UserOrder: self._on_user_order,
            MarketPosition: self._on_market_position,
            MarketLifecycle: self._on_market_lifecycle,
            EventLifecycle: self._on_event_lifecycle,
            EventFeeUpdate: self._on_event_lifecycle,
            CfbenchmarksValue: self._on_cfbenchmarks,
            CfbenchmarksIndexList: self._on_indexlist,
            OrderGroupUpdate: self._on_order_group,
            Subscribed: self._on_subscribed,
            Ok: self._on_ok,
            Unsubscribed: self._on_unsubscribed,
            ErrorMessage: self._on_error_frame,
            UnknownMessage: self._on_unknown,
        }

    # -----------------------------------------------------------------------------------------
    # Lifecycle

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    @property
    def subscriptions(self) -> list[Subscription]:
        return list(self._subs)

    def is_tradeable(self, ticker: str) -> bool:
        return self.connected and self.books.is_tradeable(ticker)

    def start(self) -> asyncio.Task[None]:
        if self._run_task is None or self._run_task.done():
            self._closing = False
            self._run_task = asyncio.create_task(self.run(), name="kalshi-ws")
        return self._run_task

    async def close(self) -> None:
        self._closing = True
        ws = self._ws
        if ws is not None:
            with contextlib.suppress(Exception):
                await ws.close()
        if self._run_task is not None:
            self._run_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._run_task
            self._run_task = None

    async def __aenter__(self) -> KalshiWsClient:
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

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
        cap = min(self._backoff_max, self._backoff_initial * 2.0 ** min(attempt, 30))
        return cap / 2 + self._rng.random() * cap / 2

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
        self._pending[cmd_id] = _Pending("subscribe", future, waiting={s.channel: s for s in subs})
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
        self._pending[cmd_id] = _Pending("update_subscription", reply, sub=sub)
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
        self._pending[cmd_id] = _Pending(cmd, future, sub=sub)
        try:
            await ws.send(encoder(cmd_id, *args, **kwargs).decode())
        except ConnectionClosed as exc:
            self._pending.pop(cmd_id, None)
            raise NetworkError(f"{cmd}: connection closed", code="ws_disconnected") from exc
        return await future

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
    # Frames

    def _handle_frame(self, frame: str | bytes) -> None:
        self.stats.frames += 1
        try:
            msg = decode_frame(frame)
        except ProtocolError as exc:
            self._on_bad_frame(frame, exc)
            return
        self._dispatch[type(msg)](msg)

    def _check_seq(self, sid: int, seq: int) -> Subscription | None:
        """The frame's subscription, after checking its seq (a gap starts a resync)."""
        sub = self._by_sid.get(sid)
        if sub is None:
            return None  # a frame for a sid we dropped (unsubscribe in flight): ignore
        self._check_sub_seq(sub, sid, seq)
        return sub

    def _check_sub_seq(self, sub: Subscription, sid: int, seq: int) -> None:
        expected = sub.next_seq
        sub.next_seq = seq + 1
        if expected is not None and seq != expected:
            self.stats.seq_gaps += 1
            self._record(SeqGapError(sid, sub.channel, expected, seq))
            if sub.channel == ORDERBOOK_CHANNEL:
                self._request_snapshots(sub, sub.market_tickers, f"seq gap on sid {sid}")

    def _on_delta(self, msg: OrderbookDelta) -> None:
        # The hot path: keep it to a few lookups and one call into the book.
        sub = self._by_sid.get(msg.sid)
        if sub is None:
            return
        seq = msg.seq
        if sub.next_seq == seq:
            sub.next_seq = seq + 1
        else:
            self._check_sub_seq(sub, msg.sid, seq)
        ticker = msg.msg.market_ticker
        try:
            book = self.books.apply_delta(msg, use_yes_price=sub.use_yes_price)
        except BookError as exc:
            self._book_failed(sub, ticker, exc, snapshot=False)
            return
        if book.stale:
            # Skipped: the book awaits a snapshot. If nobody asked for one yet (a delta before any
            # snapshot, or a book made stale elsewhere), ask now.
            if ticker not in sub.pending_snapshots:
                self._request_snapshots(sub, (ticker,), book.stale_reason or "delta on a stale book")
            return
        try:
            self.handler.on_orderbook(ticker, book, msg)
        except Exception:
            self._handler_failed("on_orderbook")

    def _on_snapshot(self, msg: OrderbookSnapshot) -> None:
        sub = self._by_sid.get(msg.sid)
        if sub is None:
            return
        ticker = msg.msg.market_ticker
        # The snapshot repairs its own book even when it also reveals a gap: do not re-request it.
        sub.pending_snapshots.add(ticker)
        self._check_sub_seq(sub, msg.sid, msg.seq)
        try:
            book = self.books.apply_snapshot(msg, use_yes_price=sub.use_yes_price)
        except BookError as exc:
            self._book_failed(sub, ticker, exc, snapshot=True)
            return
        sub.bad_snapshots.pop(ticker, None)
        self._snapshot_settled(sub, ticker)
        self._emit(self.handler.on_orderbook, ticker, book, msg)

    @staticmethod
    def _snapshot_settled(sub: Subscription, ticker: str) -> None:
        """``ticker``'s snapshot arrived (or will not be asked for again): wake whoever waits for it."""
        sub.pending_snapshots.discard(ticker)
        if not sub.pending_snapshots:
            sub.resync_started = None
        if sub.snapshot_waiters:
            waiting = []
            for wanted, future in sub.snapshot_waiters:
                if future.done():
                    continue
                if wanted & sub.pending_snapshots:
                    waiting.append((wanted, future))
                else:
                    future.set_result(None)
            sub.snapshot_waiters = waiting

    def _book_failed(self, sub: Subscription, ticker: str, exc: BookError, *, snapshot: bool) -> None:
        """The book refused a message and is stale now: ask for a fresh snapshot."""
        self._record(exc)
        sub.pending_snapshots.discard(ticker)  # so that _request_snapshots asks again
        self._emit(self.handler.on_book_stale, ticker, str(exc))
        if snapshot:
            sub.bad_snapshots[ticker] += 1
            if sub.bad_snapshots[ticker] >= MAX_BAD_SNAPSHOTS:
                # Asking again would loop at network speed; the book stays stale (untradeable).
                self._record(ProtocolError(f"{ticker}: {MAX_BAD_SNAPSHOTS} bad snapshots in a row"))
                self._snapshot_settled(sub, ticker)
                return
        self._request_snapshots(sub, (ticker,), str(exc))

    def _on_bad_frame(self, frame: str | bytes, exc: ProtocolError) -> None:
        self._record(exc)
        route = peek_route(frame)
        if route is None or route.sid is None:
            if route is None or route.type in ("", "orderbook_delta", "orderbook_snapshot"):
                # It may have been any book's update: none of them can be trusted until re-snapshotted.
                for book_sub in self._subs:
                    if book_sub.channel == ORDERBOOK_CHANNEL and book_sub.sid is not None:
                        self._request_snapshots(
                            book_sub, book_sub.market_tickers, f"unroutable bad frame: {exc}"
                        )
            return
        sub = self._by_sid.get(route.sid)
        if sub is None:
            return
        if route.seq is not None:
            self._check_sub_seq(sub, route.sid, route.seq)
        if sub.channel == ORDERBOOK_CHANNEL:
            subscribed = sub.market_tickers
            tickers = [route.market_ticker] if route.market_ticker in subscribed else subscribed
            if route.type == "orderbook_snapshot":
                sub.pending_snapshots.difference_update(tickers)  # a bad snapshot must be asked for again
            self._request_snapshots(sub, tickers, f"bad frame: {exc}")

    def _on_unknown(self, msg: UnknownMessage) -> None:
        # A new message type may arrive often: log it once at warning level, count every one.
        first = msg.type not in self._unknown_kinds
        self._unknown_kinds.add(msg.type)
        self._record(UnknownMessageTypeError(msg.type), level=logging.WARNING if first else logging.DEBUG)
        route = peek_route(msg.raw)
        if route is not None and route.sid is not None and route.seq is not None:
            self._check_seq(route.sid, route.seq)

    def _on_ticker(self, msg: Ticker) -> None:
        self._seq_if_any(msg.sid, msg.seq)
        self._emit(self.handler.on_ticker, msg)

    def _on_trade(self, msg: Trade) -> None:
        self._seq_if_any(msg.sid, msg.seq)
        self._emit(self.handler.on_trade, msg)

    def _on_fill(self, msg: Fill) -> None:
        self._seq_if_any(msg.sid, msg.seq)
        self._emit(self.handler.on_fill, msg)

    def _on_user_order(self, msg: UserOrder) -> None:
        self._seq_if_any(msg.sid, msg.seq)
        self._emit(self.handler.on_user_order, msg)

    def _on_market_position(self, msg: MarketPosition) -> None:
        self._seq_if_any(msg.sid, msg.seq)
        self._emit(self.handler.on_market_position, msg)

    def _on_market_lifecycle(self, msg: MarketLifecycle) -> None:
        self._seq_if_any(msg.sid, msg.seq)
        ticker = msg.msg.market_ticker
        was_tradeable = self.books.is_tradeable(ticker)
        try:
            self.books.apply_lifecycle(msg)
        except BookError as exc:
            self._record(exc)
        if was_tradeable and not self.books.is_tradeable(ticker):
            self._emit(self.handler.on_book_stale, ticker, f"market {msg.msg.event_type}")
        self._emit(self.handler.on_lifecycle, msg)

    def _on_event_lifecycle(self, msg: EventLifecycle | EventFeeUpdate) -> None:
        self._seq_if_any(msg.sid, msg.seq)
        self._emit(self.handler.on_lifecycle, msg)

    def _on_cfbenchmarks(self, msg: CfbenchmarksValue) -> None:
        self._check_seq(msg.sid, msg.seq)
        self._emit(self.handler.on_cfbenchmarks, msg)

    def _on_order_group(self, msg: OrderGroupUpdate) -> None:
        self._check_seq(msg.sid, msg.seq)
        self._emit(self.handler.on_order_group, msg)

    def _on_indexlist(self, msg: CfbenchmarksIndexList) -> None:
        self._control_seq(msg.sid, msg.seq)
        self._resolve(msg.id, msg)

    def _seq_if_any(self, sid: int, seq: int | None) -> None:
        if seq is not None:
            self._check_seq(sid, seq)

    def _control_seq(self, sid: int | None, seq: int | None) -> None:
        # Whether a command reply takes a number in the data sequence is unknown (errata Part 2 §2.3):
        # move the expectation forward, never backward, and never call it a gap.
        if sid is None or seq is None:
            return
        sub = self._by_sid.get(sid)
        if sub is not None and (sub.next_seq is None or seq + 1 > sub.next_seq):
            sub.next_seq = seq + 1

    def _on_subscribed(self, msg: Subscribed) -> None:
        pending = self._pending.get(msg.id)
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
            sub.next_seq = None
            self._by_sid[sid] = sub
            sub.ready.set()
        pending.acked.append(sub)
        if not pending.waiting:
            del self._pending[msg.id]
            if not pending.future.done():
                pending.future.set_result(pending.acked)

    def _on_ok(self, msg: Ok) -> None:
        self._control_seq(msg.sid, msg.seq)
        self._resolve(msg.id, msg)

    def _on_unsubscribed(self, msg: Unsubscribed) -> None:
        self._control_seq(msg.sid, msg.seq)
        self._resolve(msg.id, msg)

    def _on_error_frame(self, msg: ErrorMessage) -> None:
        self._control_seq(msg.sid, msg.seq)
        pending = self._pending.pop(msg.id, None) if msg.id else None
        error = WsCommandError(msg.msg, cmd=pending.cmd if pending else "", sid=msg.sid)
        self._record(error)
        if pending is not None:
            if not pending.future.done():
                pending.future.set_exception(error)
                pending.future.exception()  # retrieved here; the awaiting caller still gets it
            return
        sub = self._by_sid.get(msg.sid) if msg.sid is not None else None
        if sub is not None and error.terminal:
            self._spawn(self._resubscribe(sub))

    def _resolve(self, cmd_id: int, msg: Any) -> None:
        pending = self._pending.pop(cmd_id, None) if cmd_id else None
        if pending is not None and not pending.future.done():
            pending.future.set_result(msg)

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
