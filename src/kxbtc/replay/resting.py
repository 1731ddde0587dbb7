"""The replay's resting orders seen from the venue's side: a good-till-canceled remainder joins the queue
model (``queue.QueueModel``), the recorded books move it, and what happens to it goes back to the core
one ``latency`` later as the venue's fill and user-orders messages would: each maker ``Fill``, then an
``OrderUpdate`` (remaining, status). Cancels (the core's ``CancelOrders`` and ``CancelAll``, the market's
close) take effect
when they reach the market and are answered one ``latency`` later; until then the order can still fill.

The runner owns the clock and the event queue; this class is handed a way to schedule an action and a
way to answer the core.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import replace

from kxbtc.book.orderbook import OrderBook
from kxbtc.clock import Clock
from kxbtc.core.books import BookSource
from kxbtc.core.commands import OutgoingOrder
from kxbtc.domain.events import FillEvent, OrderEvent
from kxbtc.domain.orders import Fill, OrderUpdate
from kxbtc.pricing.fees import FeeSchedule
from kxbtc.replay.queue import MakerFill, QueueModel, RestingQuote
from kxbtc.units import Count

Schedule = Callable[[int, Callable[[], None]], None]
Answer = Callable[[FillEvent | OrderEvent], None]


class RestingOrders:
    def __init__(
        self,
        clock: Clock,
        books: BookSource,
        latency_ns: int,
        schedule: Schedule,
        answer: Answer,
        fill_ids: Iterator[int],
    ) -> None:
        self.clock = clock
        self.books = books
        self.latency_ns = latency_ns
        self._schedule = schedule
        self._answer = answer
        self.queue = QueueModel()
        self.fill_ids = fill_ids  # shared with the taker fills: one numbering per run
        self.rested = 0
        self.maker_fills: Counter[str] = Counter()  # by market
        self.canceled: Counter[str] = Counter()  # by reason

    def rest(
        self,
        out: OutgoingOrder,
        order_id: str,
        remaining: int,
        filled: int,
        fees: FeeSchedule,
        book: OrderBook,
        close_ns: int,
    ) -> None:
        """A remainder reached the market now: it joins its level's queue until filled, cancelled or the
        market closes."""
        intent = out.order.intent
        self.queue.join(
            order_id,
            out.client_order_id,
            intent.ticker,
            intent.side,
            intent.price,
            remaining,
            filled,
            fees,
            book,
        )
        self.rested += 1
        self._schedule(max(close_ns, self.clock.time_ns()), lambda: self.cancel(order_id, "market_closed"))

    def book_changed(self, ticker: str) -> None:
        """Move the queues of ``ticker``'s orders to its recorded book as it is after this event. Every
        event counts, a momentarily crossed book included: a crossing order's add, shown before the
        removals it causes, is the one place the recording shows a trade and its size."""
        if not self.queue.has_orders(ticker):
            return
        book = self.books.get(ticker)
        if book is None or book.stale:
            return
        now = self.clock.time_ns()
        for fill in self.queue.on_book(ticker, book):
            self.maker_fills[ticker] += 1
            self._later([self._fill_event(fill, now)], fill.order, now)

    def cancel(self, order_id: str, reason: str) -> None:
        quote = self.queue.cancel(order_id)
        if quote is None:  # filled or cancelled already
            return
        self.canceled[reason] += 1
        self._later([], replace(quote, remaining=0), self.clock.time_ns(), status="canceled")

    def cancel_all(self) -> None:
        for quote in self.queue.orders():
            self.cancel(quote.order_id, "cancel_all")

    def _fill_event(self, fill: MakerFill, now: int) -> FillEvent:
        quote = fill.order
        return FillEvent(
            Fill(
                f"replay-fill-{next(self.fill_ids)}",
                quote.order_id,
                quote.ticker,
                quote.side,
                quote.price,
                fill.count,
                fill.fee,
                False,
                now,
                "replay",
            )
        )

    def _later(self, fills: list[FillEvent], quote: RestingQuote, at_ns: int, status: str = "") -> None:
        """Fills, then the order's update, reach the core one latency after ``at_ns``."""
        update = OrderUpdate(
            quote.order_id,
            quote.client_order_id,
            quote.ticker,
            quote.side,
            quote.price,
            status or ("resting" if quote.remaining else "executed"),
            Count(quote.filled),
            Count(quote.remaining),
            at_ns,
        )

        def deliver() -> None:
            for fill in fills:
                self._answer(fill)
            self._answer(OrderEvent(update))

        self._schedule(at_ns + self.latency_ns, deliver)
