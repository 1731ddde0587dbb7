"""Legs and book sides, and the one conversion between them.

A Kalshi binary has two legs, YES and NO. Orders and fills are quoted on the YES leg: a *bid* buys YES,
an *ask* sells YES, which is the same as buying NO at the complementary price. ``Leg`` says which
contract is held; ``BookSide`` says which side of the YES book an order sits on. Both are ``StrEnum``s,
so they compare equal to the wire's own strings ("yes", "bid").
"""

from __future__ import annotations

from enum import StrEnum

from kxbtc.units import PRICE_SCALE, Price


class Leg(StrEnum):
    YES = "yes"
    NO = "no"

    @property
    def other(self) -> Leg:
        return Leg.NO if self is Leg.YES else Leg.YES


class BookSide(StrEnum):
    BID = "bid"  # buys YES
    ASK = "ask"  # sells YES = buys NO

    @property
    def other(self) -> BookSide:
        return BookSide.ASK if self is BookSide.BID else BookSide.BID


def leg_bought(side: str) -> Leg:
    """The leg an order on ``side`` of the YES book buys: a bid buys YES, an ask buys NO."""
    return Leg.YES if side == BookSide.BID else Leg.NO


def side_buying(leg: str) -> BookSide:
    """The YES-book side that buys ``leg``."""
    return BookSide.BID if leg == Leg.YES else BookSide.ASK


def complement(price: int) -> Price:
    """The other leg's price: a YES price of p is a NO price of 1 - p."""
    return Price(PRICE_SCALE - price)


def leg_price(side: str, yes_price: int) -> Price:
    """What an order on ``side`` at YES price ``yes_price`` pays per contract for the leg it buys."""
    return Price(yes_price) if side == BookSide.BID else complement(yes_price)


def yes_price_to_buy(leg: str, leg_price_: int) -> tuple[BookSide, Price]:
    """The YES-book side and YES price of an order that buys ``leg`` at ``leg_price_``."""
    if leg == Leg.YES:
        return BookSide.BID, Price(leg_price_)
    return BookSide.ASK, complement(leg_price_)
