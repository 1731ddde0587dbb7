"""The exchange's event stream, which the WebSocket server turns into channel messages.

Every state change the exchange makes is published once, in order, to every subscribed queue. Events hold
exchange objects (copied where the object is mutable) and the WS server renders them with ``wire``.
A queue that falls ``maxlen`` events behind is marked ``overflowed`` (the server answers with error 25,
"subscription buffer overflow") and stops receiving.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from typing import Literal

from kxbtc.sim.accounts import Fill, PositionState, Trade
from kxbtc.sim.markets import Event, Market
from kxbtc.sim.matching import Order
from kxbtc.units import PRICE_SCALE, Count, Price


@dataclass(frozen=True, slots=True)
class BookDelta:
    """A resting-size change at one level. ``side`` is the wire's market side: ``yes`` = YES bids, ``no`` =
    NO bids (YES asks). ``yes_price`` is the YES-leg price of the level (what ``use_yes_price: true``
    shows); ``no_price`` the NO-leg price (REST and ``use_yes_price: false``). ``user_id``,
    ``client_order_id`` and ``subaccount`` name the resting order whose size changed (also when a taker
    filled it), so the server can show them to that order's owner only."""

    ticker: str
    market_id: str
    side: Literal["yes", "no"]
    yes_price: Price
    delta: Count
    ts_ns: int
    user_id: str
    client_order_id: str | None
    subaccount: int

    @property
    def no_price(self) -> Price:
        return Price(PRICE_SCALE - self.yes_price)

    def price_for(self, use_yes_price: bool) -> Price:
        return self.yes_price if self.side == "yes" or use_yes_price else self.no_price


@dataclass(frozen=True, slots=True)
class TradeEvent:
    trade: Trade
    market_id: str


@dataclass(frozen=True, slots=True)
class FillEvent:
    """A fill of ``fill.user_id``'s order (one per side of each execution)."""

    fill: Fill


@dataclass(frozen=True, slots=True)
class OrderUpdate:
    """A user order changed (created, filled, canceled, amended, decreased, expired); ``order`` is a copy."""

    order: Order
    ts_ns: int


@dataclass(frozen=True, slots=True)
class PositionUpdate:
    user_id: str
    subaccount: int
    position: PositionState  # a copy
    ts_ns: int


@dataclass(frozen=True, slots=True)
class TickerUpdate:
    """Top of book, last price, volume or open interest of ``market`` changed."""

    market: Market
    yes_bid: Price
    yes_ask: Price
    yes_bid_size: Count
    yes_ask_size: Count
    last_trade_size: Count
    ts_ns: int


LifecycleType = Literal[
    "created", "activated", "deactivated", "close_date_updated", "determined", "settled", "metadata_updated"
]


@dataclass(frozen=True, slots=True)
class LifecycleEvent:
    """A ``market_lifecycle_v2`` message: ``market`` is the live object (render it at once)."""

    event_type: LifecycleType
    market: Market
    ts_ns: int


@dataclass(frozen=True, slots=True)
class EventCreated:
    """An ``event_lifecycle`` message."""

    event: Event
    ts_ns: int


@dataclass(frozen=True, slots=True)
class IndexTick:
    """One published second of the simulated BRTI, with the sums behind its two averages.

    ``trailing_*``: the values of the previous 60 seconds (the spec's ``avg_60s_data`` excludes the current
    tick). ``window_*``: the values already observed in the quarter hour's settlement window
    ``(close - 60 s, close]`` (``last_60s_windowed_average_15min``); ``window_size`` is 0 outside it.
    """

    ts_ns: int
    value_cents: int
    trailing_sum_cents: int
    trailing_size: int
    window_close_ns: int
    window_sum_cents: int
    window_size: int


ExchangeEvent = (
    BookDelta
    | TradeEvent
    | FillEvent
    | OrderUpdate
    | PositionUpdate
    | TickerUpdate
    | LifecycleEvent
    | EventCreated
    | IndexTick
)


class EventQueue:
    """One subscriber's queue. ``get`` waits; ``drain`` takes everything pending without waiting."""

    def __init__(self, maxlen: int = 200_000) -> None:
        self.maxlen = maxlen
        self.overflowed = False
        self._items: deque[ExchangeEvent] = deque()
        self._ready = asyncio.Event()

    def put(self, event: ExchangeEvent) -> None:
        if self.overflowed:
            return
        if len(self._items) >= self.maxlen:
            self.overflowed = True
            self._items.clear()
            self._ready.set()
            return
        self._items.append(event)
        self._ready.set()

    def __len__(self) -> int:
        return len(self._items)

    def get_nowait(self) -> ExchangeEvent | None:
        if not self._items:
            self._ready.clear()
            return None
        return self._items.popleft()

    def drain(self) -> list[ExchangeEvent]:
        items = list(self._items)
        self._items.clear()
        self._ready.clear()
        return items

    async def get(self) -> ExchangeEvent:
        """Wait for the next event. Raises ``OverflowError`` once the queue has overflowed."""
        while True:
            if self.overflowed:
                raise OverflowError("subscriber fell too far behind the exchange")
            item = self.get_nowait()
            if item is not None:
                return item
            await self._ready.wait()


class EventBus:
    def __init__(self) -> None:
        self._queues: list[EventQueue] = []

    def subscribe(self, maxlen: int = 200_000) -> EventQueue:
        queue = EventQueue(maxlen)
        self._queues.append(queue)
        return queue

    def unsubscribe(self, queue: EventQueue) -> None:
        if queue in self._queues:
            self._queues.remove(queue)

    @property
    def has_subscribers(self) -> bool:
        return bool(self._queues)

    def publish(self, event: ExchangeEvent) -> None:
        for queue in self._queues:
            queue.put(event)
