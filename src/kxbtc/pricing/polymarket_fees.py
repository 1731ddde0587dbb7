"""Polymarket taker fees on crypto markets (docs/polymarket.md §7, errata Part 4 §7).

fee = C × rate × p × (1 − p), with ``rate`` read per market from ``feeSchedule.rate`` (0.07 on crypto in
2026; some documents say 0.072, so never hard-code it), rounded to 5 decimal places with a minimum of
0.00001 pUSD on any non-zero fee. Makers pay nothing. Exact rational arithmetic; the result is Money
(1e-6 $), which holds 5 decimal places exactly.

Rounding is half-up to 5 dp: the sources say "rounded to 5 decimal places" without naming the mode.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from kxbtc.units import COUNT_SCALE, MONEY_SCALE, PRICE_SCALE, Money

DEFAULT_CRYPTO_FEE_RATE = Fraction(7, 100)
#: Fees are quoted to 5 dp: one unit is 10 Money (1e-6 $).
_FEE_QUANTUM = MONEY_SCALE // 100_000
MIN_FEE = Money(_FEE_QUANTUM)


def parse_fee_rate(rate: str | int | float | Decimal | Fraction) -> Fraction:
    """A market's ``feeSchedule.rate`` as an exact fraction (via str, so 0.07 is exactly 7/100)."""
    value = rate if isinstance(rate, Fraction) else Fraction(str(rate))
    if not 0 <= value < 1:
        raise ValueError(f"fee rate must be in [0, 1), got {rate!r}")
    return value


def polymarket_fee(
    price: int,
    shares: int,
    *,
    is_taker: bool = True,
    rate: str | int | float | Decimal | Fraction = DEFAULT_CRYPTO_FEE_RATE,
) -> Money:
    """Fee for one fill of ``shares`` (Count, 1e-2) at ``price`` (Price, 1e-4), in Money."""
    if not 0 <= price <= PRICE_SCALE:
        raise ValueError(f"price must be within [0, 1] dollars, got {price} (1e-4 $)")
    if shares < 0:
        raise ValueError("shares must be >= 0")
    fee_rate = parse_fee_rate(rate)
    if not is_taker or fee_rate == 0:
        return Money(0)
    exact = fee_rate * Fraction(shares, COUNT_SCALE) * Fraction(price, PRICE_SCALE)
    exact *= Fraction(PRICE_SCALE - price, PRICE_SCALE)
    if exact == 0:
        return Money(0)
    quanta = exact * (MONEY_SCALE // _FEE_QUANTUM)
    rounded = (quanta.numerator * 2 + quanta.denominator) // (2 * quanta.denominator)  # half-up
    return Money(max(rounded, 1) * _FEE_QUANTUM)


def polymarket_taker_fee(
    price: int, shares: int, rate: str | int | float | Decimal | Fraction = DEFAULT_CRYPTO_FEE_RATE
) -> Money:
    return polymarket_fee(price, shares, is_taker=True, rate=rate)
