"""Fee-aware Kelly sizing for binary contracts (settlement-and-pricing.md §5, errata Part 3 §4).

Buying one contract that pays $1 at all-in cost c (price plus the per-contract fee) with win probability p:
f* = (p − c) / (1 − c), 0 when p ≤ c. The stake is κ·f* of the bankroll (κ = ``fraction``, default 0.75),
then capped, and the contract count is stake / c rounded down (n = f·W / c_eff, not f·W / price).
YES is bought at the YES ask; NO at the NO ask (1 − best YES bid) with p_no = 1 − p.
"""

from __future__ import annotations

import math
from typing import Literal

import msgspec

from kxbtc.pricing.fees import BTC_DEFAULT_FEES, FeeSchedule
from kxbtc.units import COUNT_SCALE, MONEY_SCALE, PRICE_SCALE, Count, Money, Price, notional

Side = Literal["yes", "no"]

DEFAULT_KELLY_FRACTION = 0.75
WHOLE_CONTRACT = Count(COUNT_SCALE)
#: Count used to measure the per-contract fee: large enough that the $0.0001 rounding is negligible.
_FEE_REFERENCE_COUNT = Count(100 * COUNT_SCALE)


class KellyDecision(msgspec.Struct, frozen=True):  # built per evaluation: in C
    """What to buy. ``side`` is None (and count 0) when neither side has an edge after fees."""

    side: Side | None
    price: Price | None  # the ask paid; None with side
    probability: float  # of the chosen side winning
    all_in_cost: float  # dollars per contract, fee included
    edge: float  # probability − all_in_cost, dollars per contract
    kelly_fraction: float  # full-Kelly f*
    fraction: float  # the bankroll fraction actually staked, after the multiplier and caps
    count: Count
    cost: Money  # notional + fee of ``count`` contracts


NO_TRADE = KellyDecision(None, None, 0.0, 0.0, 0.0, 0.0, 0.0, Count(0), Money(0))


def kelly_fraction(probability: float, cost: float) -> float:
    """Full-Kelly bankroll fraction for a $1 binary bought at all-in ``cost``; 0 without an edge."""
    if not 0.0 <= probability <= 1.0:
        raise ValueError(f"probability must be in [0, 1], got {probability}")
    if cost >= 1.0 or probability <= cost:
        return 0.0
    return (probability - cost) / (1.0 - cost)


def all_in_cost(price: Price, fees: FeeSchedule = BTC_DEFAULT_FEES, *, is_taker: bool = True) -> float:
    """Price plus the per-contract fee, in dollars (fee measured on a 100-contract fill)."""
    key = (price, is_taker)
    cost = fees.memo.get(key)
    if cost is None:
        fee = fees.fee(price, _FEE_REFERENCE_COUNT, is_taker)
        cost = fees.memo[key] = price / PRICE_SCALE + fee / MONEY_SCALE / (_FEE_REFERENCE_COUNT / COUNT_SCALE)
    return cost


def _growth(p: float, c: float, f: float) -> float:
    """Expected log growth of staking fraction f on a binary bought at c that wins with probability p."""
    if f <= 0.0:
        return 0.0
    return p * math.log(1.0 + f * (1.0 - c) / c) + (1.0 - p) * math.log(1.0 - f)


def _size_side(
    side: Side,
    probability: float,
    price: Price,
    bankroll: Money,
    fraction: float,
    max_fraction: float | None,
    max_count: Count | None,
    max_cost: Money | None,
    count_step: Count,
    fees: FeeSchedule,
    is_taker: bool,
) -> KellyDecision:
    if not 0 < price < PRICE_SCALE:
        return NO_TRADE
    c = all_in_cost(price, fees, is_taker=is_taker)
    f_star = kelly_fraction(probability, c)
    f = f_star * fraction
    if max_fraction is not None:
        f = min(f, max_fraction)
    if f <= 0.0:
        return KellyDecision(side, price, probability, c, probability - c, f_star, 0.0, Count(0), Money(0))
    budget = int(f * bankroll)
    if max_cost is not None:
        budget = min(budget, max_cost)
    steps = int(budget / (c * MONEY_SCALE) * COUNT_SCALE) // count_step
    if max_count is not None:
        steps = min(steps, max_count // count_step)
    # The exact fee is rounded per fill; step down until notional + fee fits the budget.
    while steps > 0:
        count = Count(steps * count_step)
        cost = Money(notional(price, count) + fees.fee(price, count, is_taker))
        if cost <= budget:
            return KellyDecision(side, price, probability, c, probability - c, f_star, f, count, cost)
        steps -= 1
    return KellyDecision(side, price, probability, c, probability - c, f_star, f, Count(0), Money(0))


def size_binary(
    p_yes: float,
    yes_ask: Price | None,
    no_ask: Price | None,
    bankroll: Money,
    *,
    fraction: float = DEFAULT_KELLY_FRACTION,
    max_fraction: float | None = None,
    max_count: Count | None = None,
    max_cost: Money | None = None,
    count_step: Count = WHOLE_CONTRACT,
    fees: FeeSchedule = BTC_DEFAULT_FEES,
    is_taker: bool = True,
) -> KellyDecision:
    """The better of buying YES at ``yes_ask`` and NO at ``no_ask`` (either may be None: no offer).

    "Better" is the higher expected log growth at the staked fraction. ``count_step`` is the order size
    granularity (default whole contracts); ``max_*`` are external caps (risk limits, book depth).
    """
    if not 0.0 <= p_yes <= 1.0:
        raise ValueError(f"p_yes must be in [0, 1], got {p_yes}")
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    if bankroll < 0:
        raise ValueError("bankroll must be >= 0")
    if count_step <= 0:
        raise ValueError("count_step must be > 0")
    offers: list[tuple[Side, float, Price | None]] = [("yes", p_yes, yes_ask), ("no", 1.0 - p_yes, no_ask)]
    candidates: list[KellyDecision] = []
    for side, prob, price in offers:
        if price is None:
            continue
        candidates.append(
            _size_side(
                side,
                prob,
                price,
                bankroll,
                fraction,
                max_fraction,
                max_count,
                max_cost,
                count_step,
                fees,
                is_taker,
            )
        )
    trades = [d for d in candidates if d.count > 0]
    if not trades:
        # No side, but keep the nearest side's edge and cost so callers can log why nothing was bought.
        nearest = max(candidates, key=lambda d: d.edge, default=NO_TRADE)
        return msgspec.structs.replace(
            nearest, side=None, price=None, fraction=0.0, count=Count(0), cost=Money(0)
        )
    return max(trades, key=lambda d: _growth(d.probability, d.all_in_cost, d.fraction))
