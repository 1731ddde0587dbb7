"""One market's order book and its matching engine (YES leg, price-time priority).

Bids are YES bids; asks are YES asks, which the wire shows as NO bids at ``1 - price``. An incoming
order is first *planned* against the book without touching it (so the exchange can check the taker's
collateral against the exact fills and fees), then the plan is applied.

Self-trade prevention:
- ``taker_at_cross``: the incoming order stops at its first own resting order; fills already made stand
  and the remainder is canceled.
- ``maker``: the own resting order is canceled and matching continues behind it.
"""

from __future__ import annotations

import bisect
import contextlib
from collections import deque
from dataclasses import dataclass, field
from typing import Literal

from kxbtc.units import Count, Money, Price

BookSide = Literal["bid", "ask"]
TimeInForce = Literal["good_till_canceled", "immediate_or_cancel", "fill_or_kill"]
StpType = Literal["taker_at_cross", "maker"]
OrderStatus = Literal["resting", "canceled", "executed"]

TIME_IN_FORCE: tuple[str, ...] = ("good_till_canceled", "immediate_or_cancel", "fill_or_kill")
STP_TYPES: tuple[str, ...] = ("taker_at_cross", "maker")

ZERO_COUNT = Count(0)
ZERO_MONEY = Money(0)


@dataclass(slots=True, eq=False)
class Order:
    """An order as the exchange holds it. Prices are YES-leg; counts in 1e-2 contracts."""

    order_id: str
    user_id: str
    subaccount: int
    ticker: str
    event_ticker: str
    side: BookSide
    price: Price
    initial_count: Count
    time_in_force: str
    self_trade_prevention_type: str | None
    created_ns: int
    seq: int
    exchange_index: int = 2
    client_order_id: str | None = None
    post_only: bool = False
    reduce_only: bool = False
    expiration_ts: int | None = None
    cancel_order_on_pause: bool = False
    order_group_id: str | None = None
    remaining: Count = ZERO_COUNT
    fill_count: Count = ZERO_COUNT
    status: OrderStatus = "resting"
    last_update_ns: int = 0
    last_update_reason: str | None = None
    taker_fill_cost: Money = ZERO_MONEY
    maker_fill_cost: Money = ZERO_MONEY
    taker_fees: Money = ZERO_MONEY
    maker_fees: Money = ZERO_MONEY
    #: Set by the liquidity module for synthetic counterparties (never a real API user).
    internal: bool = False

    @property
    def is_live(self) -> bool:
        return self.status == "resting" and self.remaining > 0


@dataclass(frozen=True, slots=True)
class PlannedFill:
    maker: Order
    price: Price
    count: Count


@dataclass(slots=True)
class MatchPlan:
    """What an incoming order would do, computed without changing the book."""

    fills: list[PlannedFill] = field(default_factory=list)
    #: Own resting orders that STP ``maker`` cancels (whole remaining), in encounter order.
    stp_cancels: list[Order] = field(default_factory=list)
    #: ``taker_at_cross`` stopped the order at an own resting order.
    stp_stopped: bool = False
    #: The incoming order would cross the book (relevant to post_only).
    crosses: bool = False

    @property
    def filled(self) -> Count:
        return Count(sum(f.count for f in self.fills))


@dataclass(frozen=True, slots=True)
class LevelChange:
    """A change of resting size at one YES price on one book side (signed ``delta``)."""

    side: BookSide
    price: Price
    delta: Count
    order: Order


class _Side:
    """One side of the book: price -> FIFO queue of orders, plus the sorted list of prices."""

    __slots__ = ("_ascending", "levels", "prices", "sizes")

    def __init__(self, ascending: bool) -> None:
        self._ascending = ascending  # asks: best = lowest
        self.levels: dict[int, deque[Order]] = {}
        self.sizes: dict[int, int] = {}
        self.prices: list[int] = []  # always ascending

    def best(self) -> int | None:
        if not self.prices:
            return None
        return self.prices[0] if self._ascending else self.prices[-1]

    def iter_prices_best_first(self) -> list[int]:
        return list(self.prices) if self._ascending else self.prices[::-1]

    def add(self, order: Order) -> None:
        queue = self.levels.get(order.price)
        if queue is None:
            queue = self.levels[order.price] = deque()
            self.sizes[order.price] = 0
            bisect.insort(self.prices, order.price)
        queue.append(order)
        self.sizes[order.price] += order.remaining

    def reduce(self, order: Order, by: int) -> None:
        """Lower the level size by ``by``; drops the order from its queue once it is no longer live."""
        price = order.price
        self.sizes[price] -= by
        if not order.is_live or order.remaining == 0:
            queue = self.levels[price]
            with contextlib.suppress(ValueError):
                queue.remove(order)
            if not queue:
                del self.levels[price]
                del self.sizes[price]
                idx = bisect.bisect_left(self.prices, price)
                del self.prices[idx]


class OrderBook:
    """The resting orders of one market."""

    def __init__(self, ticker: str) -> None:
        self.ticker = ticker
        self.bids = _Side(ascending=False)
        self.asks = _Side(ascending=True)

    def _side(self, side: BookSide) -> _Side:
        return self.bids if side == "bid" else self.asks

    def best_bid(self) -> Price | None:
        p = self.bids.best()
        return None if p is None else Price(p)

    def best_ask(self) -> Price | None:
        p = self.asks.best()
        return None if p is None else Price(p)

    def size_at(self, side: BookSide, price: int) -> Count:
        return Count(self._side(side).sizes.get(price, 0))

    def levels(self, side: BookSide) -> list[tuple[Price, Count]]:
        """Aggregated levels, best first."""
        s = self._side(side)
        return [(Price(p), Count(s.sizes[p])) for p in s.iter_prices_best_first()]

    def orders_at(self, side: BookSide, price: int) -> list[Order]:
        return list(self._side(side).levels.get(price, ()))

    def is_crossed(self) -> bool:
        bid, ask = self.bids.best(), self.asks.best()
        return bid is not None and ask is not None and bid >= ask

    def crosses(self, side: BookSide, price: int) -> bool:
        if side == "bid":
            ask = self.asks.best()
            return ask is not None and price >= ask
        bid = self.bids.best()
        return bid is not None and price <= bid

    # ------------------------------------------------------------------------------------------
    # matching

    def plan(self, taker: Order, count: int, stp: str | None) -> MatchPlan:
        """Walk the opposite side best-first as ``taker`` (limit ``taker.price``) for ``count``."""
        plan = MatchPlan()
        opposite = self.asks if taker.side == "bid" else self.bids
        left = count
        for price in opposite.iter_prices_best_first():
            if taker.side == "bid" and price > taker.price:
                break
            if taker.side == "ask" and price < taker.price:
                break
            plan.crosses = True
            for maker in opposite.levels[price]:
                if left <= 0:
                    break
                if maker.user_id == taker.user_id and maker.subaccount == taker.subaccount:
                    if stp == "maker":
                        plan.stp_cancels.append(maker)
                        continue
                    plan.stp_stopped = True
                    return plan
                take = min(left, maker.remaining)
                plan.fills.append(PlannedFill(maker, Price(price), Count(take)))
                left -= take
            if left <= 0:
                break
        return plan

    def rest(self, order: Order) -> LevelChange:
        self._side(order.side).add(order)
        return LevelChange(order.side, order.price, order.remaining, order)

    def take_from(self, maker: Order, count: int) -> LevelChange:
        """Remove ``count`` of a resting order's size (fill, cancel or decrease): caller updates it first."""
        self._side(maker.side).reduce(maker, count)
        return LevelChange(maker.side, maker.price, Count(-count), maker)

    def remove(self, order: Order) -> LevelChange:
        """Take a still-live order off the book whole (amend re-entry); the order is not modified."""
        side = self._side(order.side)
        side.sizes[order.price] -= order.remaining
        queue = side.levels[order.price]
        queue.remove(order)
        if not queue:
            del side.levels[order.price]
            del side.sizes[order.price]
            del side.prices[bisect.bisect_left(side.prices, order.price)]
        return LevelChange(order.side, order.price, Count(-order.remaining), order)

    def resting_orders(self) -> list[Order]:
        out: list[Order] = []
        for s in (self.bids, self.asks):
            for queue in s.levels.values():
                out.extend(queue)
        return out

    def queue_ahead(self, order: Order) -> Count:
        """Contracts ahead of ``order`` at its price level (price-time priority)."""
        queue = self._side(order.side).levels.get(order.price, ())
        ahead = 0
        for o in queue:
            if o is order:
                return Count(ahead)
            ahead += o.remaining
        return Count(0)
