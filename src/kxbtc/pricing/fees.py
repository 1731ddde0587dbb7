"""Kalshi trading fees, exactly as the exchange charges them.

fee = round_up(coefficient * multiplier * C * P * (1 - P)) to $0.0001, per fill (errata item 2).
Taker coefficient 0.07; maker coefficient 0.0175 on ``quadratic_with_maker_fees`` series and 0.035 on
``quadratic_with_combo_maker_fees``; plain ``quadratic`` series charge makers nothing.
Integer arithmetic throughout: Price is 1e-4 $, Count is 1e-2 contracts, the result is Money (1e-6 $).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from kxbtc.units import PRICE_SCALE, Money

TAKER_COEFF = Fraction(7, 100)
MAKER_COEFF = Fraction(175, 10_000)
COMBO_MAKER_COEFF = Fraction(35, 1000)

FEE_TYPES = ("quadratic", "quadratic_with_maker_fees", "quadratic_with_combo_maker_fees", "flat")


@dataclass(frozen=True, slots=True)
class FeeSchedule:
    """A series' fee rule: its ``fee_type`` and ``fee_multiplier`` (or an event's override)."""

    fee_type: str = "quadratic"
    multiplier: Fraction = Fraction(1)
    # coefficient x multiplier as an integer fraction (numerator, denominator x 1e6), taker and maker:
    # fee() runs on the fast path, where Fraction arithmetic costs ~40 us a call and ints ~0.3 us.
    _taker: tuple[int, int] = field(init=False, repr=False, compare=False)
    _maker: tuple[int, int] = field(init=False, repr=False, compare=False)
    #: Results of pure functions of this schedule, per price, filled on demand (``pricing.kelly``'s
    #: ``all_in_cost``, asked twice on every evaluation of a market): a price grid has at most 10,000.
    memo: dict[tuple[int, bool], float] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "memo", {})
        for name, is_taker in (("_taker", True), ("_maker", False)):
            rate = self.coefficient(is_taker) * self.multiplier
            object.__setattr__(self, name, (rate.numerator, rate.denominator * 1_000_000))

    @staticmethod
    def from_wire(fee_type: str, fee_multiplier: float | int | str) -> FeeSchedule:
        if fee_type not in FEE_TYPES:
            raise ValueError(f"unknown fee_type {fee_type!r}")
        # str() first so 0.5 becomes exactly 1/2 rather than the binary float's expansion.
        return FeeSchedule(fee_type, Fraction(str(fee_multiplier)))

    def coefficient(self, is_taker: bool) -> Fraction:
        if is_taker:
            return TAKER_COEFF
        if self.fee_type == "quadratic_with_maker_fees":
            return MAKER_COEFF
        if self.fee_type == "quadratic_with_combo_maker_fees":
            return COMBO_MAKER_COEFF
        return Fraction(0)

    def fee(self, price: int, count: int, is_taker: bool) -> Money:
        """Fee for one fill of ``count`` (1e-2) contracts at YES price ``price`` (1e-4), in Money."""
        rate_num, rate_den = self._taker if is_taker else self._maker
        if rate_num == 0 or count == 0:
            return Money(0)
        # dollars = rate * (count/1e2) * (price/1e4) * ((1e4-price)/1e4); in 1e-4 $ units: / 1e6.
        ticks = -(-(rate_num * count * price * (PRICE_SCALE - price)) // rate_den)  # round up to $0.0001
        return Money(ticks * 100)


#: The BTC series' schedule as recorded in 2026 (taker only, multiplier 1). Read the live one at run time.
BTC_DEFAULT_FEES = FeeSchedule()


def kalshi_taker_fee(price: int, count: int, schedule: FeeSchedule = BTC_DEFAULT_FEES) -> Money:
    return schedule.fee(price, count, is_taker=True)


def kalshi_maker_fee(price: int, count: int, schedule: FeeSchedule = BTC_DEFAULT_FEES) -> Money:
    return schedule.fee(price, count, is_taker=False)
