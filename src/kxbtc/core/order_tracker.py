"""Our orders between decision and ledger: what is in flight, what filled but is not booked yet, and
what rests on the venue.

Until an order is answered its market takes no new order, and its worst case counts against the loss
budgets (``pending_risk``). An acknowledged fill whose fill message has not arrived yet still counts
(``awaiting``), and its market takes no new order until the fill is booked: the position (and so the
per-strike cap) is out of date until then. A fill may beat its acknowledgement; it is remembered so the
acknowledgement does not count it again. Resting orders could fill in full at any moment, so their worst
case counts too (``resting``). An order whose outcome is unknown (its answer lost) may have executed:
its market takes no new order, and its worst case still counts, until a reconciliation has booked every
fill the exchange has (``all_booked``); an order decided on the position before it could open exposure
where the strategy meant to close it.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable

from kxbtc.core.commands import OutgoingOrder
from kxbtc.domain.orders import OrderAck, client_order_id
from kxbtc.domain.sides import BookSide
from kxbtc.pricing.fees import FeeSchedule
from kxbtc.risk.resting import RestingBook, RestingOrder
from kxbtc.units import PRICE_SCALE, Count, Price


class OrderTracker:
    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self._seq = itertools.count(1)
        self.in_flight: dict[str, OutgoingOrder] = {}  # client_order_id -> order, until answered
        self.in_flight_tickers: set[str] = set()
        self.pending_risk = 0  # worst case of orders sent but unanswered, or filled but unbooked
        self._awaiting: dict[str, tuple[int, int, str]] = {}  # order id -> (count, risk, ticker) unbooked
        self._filled_before_ack: dict[str, int] = {}
        self._unresolved: set[str] = set()  # markets with an order of unknown outcome
        self.resting = RestingBook()
        self.sent = 0

    def next_id(self, strategy: str, ticker: str) -> str:
        return client_order_id(self.run_id, strategy, ticker, next(self._seq))

    def blocked(self, ticker: str) -> bool:
        """No new order on a market with an order unanswered or a fill not yet booked."""
        if ticker in self.in_flight_tickers or ticker in self._unresolved:
            return True
        return bool(self._awaiting) and any(t == ticker for _, _, t in self._awaiting.values())

    def sending(self, orders: Iterable[OutgoingOrder]) -> None:
        for out in orders:
            self.in_flight[out.client_order_id] = out
            self.in_flight_tickers.add(out.order.intent.ticker)
            self.pending_risk += out.order.worst_case_loss
            self.sent += 1

    def acknowledged(self, ack: OrderAck, fees: FeeSchedule) -> OutgoingOrder | None:
        """Book one answer; the order it answers (None for an answer we did not expect)."""
        out = self.in_flight.pop(ack.client_order_id, None)
        if out is None:
            return None
        order = out.order
        ticker = order.intent.ticker
        if ack.status == "unknown":
            self._unresolved.add(ticker)  # its worst case stays in pending_risk until all_booked
        else:
            self.pending_risk -= order.worst_case_loss
        if not any(o.order.intent.ticker == ticker for o in self.in_flight.values()):
            self.in_flight_tickers.discard(ticker)
        if ack.order_id and ack.status == "resting":
            intent = order.intent
            self.resting.update(
                RestingOrder(ack.order_id, ticker, intent.side, intent.price, ack.remaining_count, fees),
                "resting",
            )
        if ack.order_id and ack.fill_count > 0 and order.count > 0:
            unseen = ack.fill_count - self._filled_before_ack.pop(ack.order_id, 0)
            if unseen > 0:
                risk = order.worst_case_loss * unseen // order.count
                self._awaiting[ack.order_id] = (unseen, risk, ticker)
                self.pending_risk += risk
        return out

    def fill_booked(self, order_id: str, count: int) -> None:
        waiting = self._awaiting.pop(order_id, None)
        if waiting is None:
            # The fill beat the acknowledgement: remember it so the ack does not count it again.
            self._filled_before_ack[order_id] = self._filled_before_ack.get(order_id, 0) + count
            return
        unseen, risk, ticker = waiting
        released = risk if count >= unseen else risk * count // unseen
        self.pending_risk -= released
        if count < unseen:
            self._awaiting[order_id] = (unseen - count, risk - released, ticker)

    def quiet(self) -> bool:
        return not self.in_flight

    def all_booked(self) -> None:
        """A reconciliation found every venue fill in the ledger: nothing is pending any more."""
        self._awaiting.clear()
        self._filled_before_ack.clear()
        self._unresolved.clear()
        self.pending_risk = sum(o.order.worst_case_loss for o in self.in_flight.values())

    def resting_update(
        self,
        order_id: str,
        ticker: str,
        side: str | None,
        yes_price: int,
        remaining: Count,
        status: str,
        fees: FeeSchedule,
    ) -> None:
        self.resting.update(resting_order(order_id, ticker, side, yes_price, remaining, fees), status)


def resting_order(
    order_id: str, ticker: str, side: str | None, yes_price: int, remaining: Count, fees: FeeSchedule
) -> RestingOrder:
    if side is None:  # an order without its book side: count the costlier leg
        side = BookSide.BID if yes_price * 2 >= PRICE_SCALE else BookSide.ASK
    return RestingOrder(order_id, ticker, str(side), Price(yes_price), remaining, fees)
