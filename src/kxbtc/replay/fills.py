"""How an order fills against a recorded book.

Takers (fill-or-kill, immediate-or-cancel): only the displayed liquidity on the opposite side, best
price first, up to the limit and never beyond the displayed size; fill-or-kill takes nothing unless the
whole count is there. Each level taken is one fill at that level's price with the exchange's taker fee.
What an order takes is not removed from the books recorded after it: the recording cannot know how the
market would have reacted.
"""

from __future__ import annotations

from dataclasses import dataclass

from kxbtc.book.orderbook import OrderBook
from kxbtc.domain.sides import BookSide
from kxbtc.pricing.fees import FeeSchedule
from kxbtc.units import Count, Money, Price

FILL_OR_KILL = "fill_or_kill"
IMMEDIATE_OR_CANCEL = "immediate_or_cancel"
GOOD_TILL_CANCELED = "good_till_canceled"


@dataclass(frozen=True, slots=True)
class TakerFill:
    price: Price  # YES price of the level taken
    count: Count
    fee: Money


def take(
    book: OrderBook, side: str, limit: int, count: int, time_in_force: str, fees: FeeSchedule
) -> list[TakerFill]:
    """The fills of a taker order on ``book``: a bid buys YES up to ``limit``, an ask sells YES (buys
    NO) down to ``limit``; YES prices throughout."""
    levels = book.yes_asks() if side == BookSide.BID else book.yes_bids()
    fills: list[TakerFill] = []
    left = count
    for price, size in levels:
        if left <= 0 or (price > limit if side == BookSide.BID else price < limit):
            break
        taken = min(left, size)
        fills.append(TakerFill(Price(price), Count(taken), fees.fee(price, taken, is_taker=True)))
        left -= taken
    if left > 0 and time_in_force == FILL_OR_KILL:
        return []
    return fills
