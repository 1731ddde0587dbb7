"""Resting (maker) orders against recorded books: where each one stands in its level's queue, and when
the recorded market would have filled it.

The recording shows sizes per price level, never who traded or cancelled, so every rule takes the side
that costs us where the recording cannot tell (in the spirit of hftbacktest's risk-averse queue model):

- **Join the back.** A good-till-canceled remainder rests at its limit on its side of the YES book once
  it reaches the market (after the latency, like a taker). Everything displayed at that level at that
  instant is ahead of it (``ahead``); size added later is behind it and never moves it.
- **Advance only as size disappears.** A smaller level could be trades or cancels, and a cancel could
  have been anywhere in the queue; assume what is left is all still ahead of us:
  ``ahead = min(ahead, level size now)``. Growth of the level changes nothing.
- **Fill only when traded through.** A YES bid at P fills when the recorded YES asks reach P or below
  (a seller who would have hit it); a YES ask at P (a NO bid) when the recorded YES bids reach P or
  above. Newly shown opposite size goes first to the displayed bids better than ours (a momentarily
  crossed book: Kalshi shows a crossing order's add before the removals it causes), then to what is
  still ahead at our level, then to us, and never beyond the size shown: opposite size already counted
  (present on arrival, which the order's taker part took, or seen on an earlier look) is not counted
  again, and when it shrinks, what is left is assumed to be the part already counted.
- Partial fills; each fill at the order's own price with the maker fee
  (``FeeSchedule.fee(price, count, is_taker=False)``).
- The book is looked at after every recorded change, momentarily crossed states included (the only
  place the recording shows a trade's size); a stale book is not looked at.
- Deterministic: orders are kept and looked at in arrival order; nothing here reads a clock or a random
  source.

Cancels (the core's ``CancelOrders`` and ``CancelAll``, the market's close) are the driver's to schedule;
``cancel`` removes an order at once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from kxbtc.book.orderbook import OrderBook
from kxbtc.domain.sides import BookSide
from kxbtc.pricing.fees import FeeSchedule
from kxbtc.units import Count, Money, Price


@dataclass(slots=True)
class RestingQuote:
    """One resting order of ours and its place in the queue (sizes in ``Count``)."""

    order_id: str
    client_order_id: str
    ticker: str
    side: str  # BookSide: a bid buys YES, an ask buys NO
    price: Price  # YES price
    remaining: int
    filled: int  # so far, taker part included
    ahead: int  # displayed size at our level still ahead of us
    counted: int  # opposite size through our price already accounted for
    fees: FeeSchedule


@dataclass(frozen=True, slots=True)
class MakerFill:
    order: RestingQuote  # a copy of the order just after this fill (``remaining``, ``filled``)
    count: Count
    fee: Money


def level_size(book: OrderBook, side: str, price: int) -> int:
    """Displayed size at our own level: the YES bids at ``price`` for a bid, the YES asks for an ask."""
    return book.yes_bid_size_at(price) if side == BookSide.BID else book.yes_ask_size_at(price)


def better_size(book: OrderBook, side: str, price: int) -> int:
    """Displayed size on our side at prices better than ours: it trades before our level does."""
    total = 0
    if side == BookSide.BID:
        for bid, size in book.yes_bids():
            if bid <= price:
                break
            total += size
    else:
        for ask, size in book.yes_asks():
            if ask >= price:
                break
            total += size
    return total


def through_size(book: OrderBook, side: str, price: int) -> int:
    """Displayed opposite size at or through our price: what would trade with an order resting there."""
    total = 0
    if side == BookSide.BID:
        for ask, size in book.yes_asks():
            if ask > price:
                break
            total += size
    else:
        for bid, size in book.yes_bids():
            if bid < price:
                break
            total += size
    return total


class QueueModel:
    """Our resting orders, by order id in arrival order."""

    def __init__(self) -> None:
        self._orders: dict[str, RestingQuote] = {}
        self._count_by_ticker: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._orders)

    def has_orders(self, ticker: str) -> bool:
        return ticker in self._count_by_ticker

    def orders(self) -> list[RestingQuote]:
        return list(self._orders.values())

    def join(
        self,
        order_id: str,
        client_order_id: str,
        ticker: str,
        side: str,
        price: Price,
        remaining: int,
        filled: int,
        fees: FeeSchedule,
        book: OrderBook,
    ) -> RestingQuote:
        """Rest ``remaining`` at the back of its level on ``book`` as it is now (the arrival instant)."""
        quote = RestingQuote(
            order_id,
            client_order_id,
            ticker,
            side,
            price,
            remaining,
            filled,
            ahead=level_size(book, side, price),
            counted=through_size(book, side, price),
            fees=fees,
        )
        self._orders[order_id] = quote
        self._count_by_ticker[ticker] = self._count_by_ticker.get(ticker, 0) + 1
        return quote

    def on_book(self, ticker: str, book: OrderBook) -> list[MakerFill]:
        """Move the queues of ``ticker``'s orders to the book as it is now; the fills that produces."""
        fills: list[MakerFill] = []
        for quote in [q for q in self._orders.values() if q.ticker == ticker]:
            quote.ahead = min(quote.ahead, level_size(book, quote.side, quote.price))
            shown = through_size(book, quote.side, quote.price)
            fresh = max(0, shown - min(quote.counted, shown))
            quote.counted = shown
            if fresh <= 0:
                continue
            fresh -= min(fresh, better_size(book, quote.side, quote.price))
            past_ahead = min(fresh, quote.ahead)
            quote.ahead -= past_ahead
            count = min(quote.remaining, fresh - past_ahead)
            if count <= 0:
                continue
            quote.remaining -= count
            quote.filled += count
            fee = quote.fees.fee(quote.price, count, is_taker=False)
            fills.append(MakerFill(replace(quote), Count(count), fee))
            if quote.remaining == 0:
                self._remove(quote)
        return fills

    def cancel(self, order_id: str) -> RestingQuote | None:
        """Remove an order (cancelled, or its market closed); None when it is no longer resting."""
        quote = self._orders.get(order_id)
        if quote is not None:
            self._remove(quote)
        return quote

    def _remove(self, quote: RestingQuote) -> None:
        del self._orders[quote.order_id]
        left = self._count_by_ticker[quote.ticker] - 1
        if left:
            self._count_by_ticker[quote.ticker] = left
        else:
            del self._count_by_ticker[quote.ticker]
