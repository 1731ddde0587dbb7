"""Quote management: a quoting strategy says what it wants resting, the core works out what to send.

A strategy that declares itself a quoter (``Strategy.quoter``) returns, on each evaluation of a market,
the full set of good-till-canceled quotes it wants there, at most one per book side. The core keeps at
most one resting quote per (strategy, market, book side), so a quoter cannot pile orders up by
repeating itself on every book update:

- the same price as the quote already there: nothing is sent (the quote keeps its place in the queue,
  the one thing a passive order has that a new one lacks);
- a different price: the old quote is cancelled and the new one placed;
- a side no longer wanted (the market moved into the final-minute freeze, the position limit was
  reached): the old quote is cancelled.

A quote is ours from the moment it is sent. Until the venue has answered it has no order id and cannot
be cancelled, so its side is left alone (the market takes no new order then anyway). A quote leaves the
book when it is cancelled here (its fills, if it traded first, still book as usual) or when the venue says
it is finished (filled, cancelled, rejected).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from kxbtc.core.commands import CancelOrders, OrderRef, OutgoingOrder
from kxbtc.domain.orders import OrderAck
from kxbtc.risk.resting import FINISHED
from kxbtc.strategy.base import Decision, Strategy

#: (strategy, market, book side)
QuoteKey = tuple[str, str, str]


@dataclass(slots=True)
class Quote:
    client_order_id: str
    price: int  # YES price
    order_id: str | None = None  # None until the venue has answered


class QuoteBook:
    def __init__(self, quoters: Iterable[str]) -> None:
        self.quoters = frozenset(quoters)
        self._quotes: dict[QuoteKey, Quote] = {}
        self._by_client_id: dict[str, QuoteKey] = {}
        self._by_order_id: dict[str, QuoteKey] = {}
        self._cancels: list[CancelOrders] = []

    def manage(self, strategy: Strategy, tickers: Iterable[str], decisions: list[Decision]) -> list[Decision]:
        """The decisions to send for what ``strategy`` just returned on ``tickers`` (the markets it was
        asked about): all of them for a strategy that does not quote; for a quoter only the quotes to
        place, the ones to cancel kept for ``take_cancels``."""
        if not strategy.quoter:
            return decisions
        name = strategy.name
        wanted = {(name, d.intent.ticker, d.intent.side): d for d in decisions}
        asked = set(tickers) | {d.intent.ticker for d in decisions}
        place: list[Decision] = []
        cancel: list[OrderRef] = []
        held = [k for k in self._quotes if k[0] == name and k[1] in asked]
        for key in sorted(set(held) | set(wanted)):
            quote, decision = self._quotes.get(key), wanted.get(key)
            if quote is not None:
                if quote.order_id is None:
                    continue  # unanswered: neither cancellable nor to be doubled
                if decision is not None and decision.intent.price == quote.price:
                    continue  # already there, with its place in the queue
                cancel.append(OrderRef(quote.order_id, key[1], quote.client_order_id))
                self._drop(key)
            if decision is not None:
                place.append(decision)
        if cancel:
            self._cancels.append(CancelOrders(tuple(cancel), f"{name}: quote moved or withdrawn"))
        return place

    def take_cancels(self) -> list[CancelOrders]:
        """The cancels decided since the last call: sent before the orders that replace them."""
        out, self._cancels = self._cancels, []
        return out

    def sent(self, orders: Iterable[OutgoingOrder]) -> None:
        """Orders the core just sent: those of a quoter are its quotes from now on."""
        for out in orders:
            intent = out.order.intent
            if intent.strategy in self.quoters:
                key = (intent.strategy, intent.ticker, intent.side)
                self._quotes[key] = Quote(out.client_order_id, intent.price)
                self._by_client_id[out.client_order_id] = key

    def acknowledged(self, ack: OrderAck) -> None:
        key = self._by_client_id.get(ack.client_order_id)
        if key is None:
            return
        if ack.status == "resting" and ack.order_id:
            self._quotes[key].order_id = ack.order_id
            self._by_order_id[ack.order_id] = key
        else:  # filled at once, refused or lost: nothing rests (a lost one is found by reconciliation)
            self._drop(key)

    def updated(self, order_id: str, status: str, remaining: int) -> None:
        """The venue's word on one order: a finished quote frees its side."""
        key = self._by_order_id.get(order_id)
        if key is not None and (status in FINISHED or remaining <= 0):
            self._drop(key)

    def resting(self, strategy: str, ticker: str) -> dict[str, int]:
        """The prices of ``strategy``'s quotes on ``ticker``, by book side."""
        return {k[2]: q.price for k, q in self._quotes.items() if k[0] == strategy and k[1] == ticker}

    def _drop(self, key: QuoteKey) -> None:
        quote = self._quotes.pop(key, None)
        if quote is not None:
            self._by_client_id.pop(quote.client_order_id, None)
            if quote.order_id is not None:
                self._by_order_id.pop(quote.order_id, None)
