"""Our orders resting on the exchange, and what they could still cost.

A resting order is a promise to trade later at a price we no longer control: until it is gone, the
risk gate must count it as if it could fill in full, on the per-strike cap and on the loss budgets.
The book is driven by the exchange's own word only: the create acknowledgement, ``user_orders``
updates, and the REST list of resting orders at each reconciliation (which replaces everything,
repairing anything a dropped message left behind).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from kxbtc.domain.sides import leg_price
from kxbtc.pricing.fees import BTC_DEFAULT_FEES, FeeSchedule
from kxbtc.units import Count, Money, Price, notional

#: Order states in which nothing more can fill.
FINISHED = frozenset({"canceled", "cancelled", "executed", "expired", "rejected"})


@dataclass(frozen=True, slots=True)
class RestingOrder:
    order_id: str
    ticker: str
    side: str  # "bid" buys YES, "ask" buys NO
    price: Price  # YES-leg limit price
    remaining: Count
    fees: FeeSchedule = BTC_DEFAULT_FEES

    @property
    def worst_case(self) -> Money:
        """Cash lost if the rest fills and the contracts expire worthless, taker fee included."""
        leg = leg_price(self.side, self.price)
        return Money(notional(leg, self.remaining) + self.fees.fee(self.price, self.remaining, True))


class RestingBook:
    """Live resting orders of ours by order id; finished ids are remembered (with their market) so a late
    acknowledgement cannot bring a cancelled order back, until the exchange's full list replaces them or
    their market is forgotten."""

    def __init__(self) -> None:
        self._orders: dict[str, RestingOrder] = {}
        self._finished: dict[str, str] = {}  # order id -> ticker

    def update(self, order: RestingOrder, status: str) -> None:
        """Record the exchange's latest word on one order (acknowledgement or ``user_orders``)."""
        if status in FINISHED or order.remaining <= 0:
            self._orders.pop(order.order_id, None)
            self._finished[order.order_id] = order.ticker
        elif order.order_id not in self._finished:
            self._orders[order.order_id] = order

    def replace(self, orders: Iterable[RestingOrder]) -> None:
        """The exchange's full list of our resting orders: it supersedes everything known so far."""
        self._orders = {o.order_id: o for o in orders if o.remaining > 0}
        self._finished.clear()

    def forget(self, ticker: str) -> None:
        """The market closed a while ago: no answer about its orders can still be on the way."""
        self._finished = {o: t for o, t in self._finished.items() if t != ticker}

    def worst_case(self, ticker: str | None = None) -> Money:
        """Worst case of every resting order, or of those on one market."""
        return Money(sum(o.worst_case for o in self._orders.values() if ticker is None or o.ticker == ticker))

    def __len__(self) -> int:
        return len(self._orders)

    def __contains__(self, order_id: object) -> bool:
        return order_id in self._orders
