"""Fee-aware Kelly sizing, and the Polymarket taker fee used to cost cross-venue trades."""

from __future__ import annotations

from fractions import Fraction

import pytest

from kxbtc.pricing.fees import FeeSchedule, kalshi_taker_fee
from kxbtc.pricing.kelly import all_in_cost, kelly_fraction, size_binary
from kxbtc.pricing.polymarket_fees import MIN_FEE, polymarket_fee, polymarket_taker_fee
from kxbtc.units import Count, Money, Price, notional, parse_money, parse_price

DOLLARS_1000 = Money(1000 * 1_000_000)


def test_kelly_fraction_formula_and_no_edge() -> None:
    assert kelly_fraction(0.6, 0.5) == pytest.approx(0.2)
    assert kelly_fraction(0.5, 0.5) == 0.0
    assert kelly_fraction(0.4, 0.5) == 0.0
    assert kelly_fraction(1.0, 0.99) == pytest.approx(1.0)


def test_all_in_cost_includes_the_kalshi_fee() -> None:
    assert all_in_cost(parse_price("0.5000")) == pytest.approx(0.5175)
    assert all_in_cost(parse_price("0.5000"), FeeSchedule(), is_taker=False) == pytest.approx(0.5)


def test_no_edge_buys_nothing() -> None:
    decision = size_binary(0.5, parse_price("0.5000"), parse_price("0.5000"), DOLLARS_1000)
    assert decision.side is None
    assert decision.count == 0
    assert decision.cost == 0
    assert decision.fraction == 0.0


def test_fee_turns_a_small_edge_negative() -> None:
    # 51 % against a 50¢ ask: +1¢ before fees, −0.75¢ after the 1.75¢ taker fee.
    decision = size_binary(0.51, parse_price("0.5000"), None, DOLLARS_1000)
    assert decision.count == 0
    assert decision.side is None
    assert decision.edge == pytest.approx(0.51 - 0.5175)
    # As a maker on a quadratic series (no maker fee) the same edge is worth taking.
    maker = size_binary(0.51, parse_price("0.5000"), None, DOLLARS_1000, is_taker=False)
    assert maker.side == "yes" and maker.count > 0


def test_sizes_yes_with_fraction_and_rounds_down() -> None:
    p, ask = 0.60, parse_price("0.5000")
    decision = size_binary(p, ask, parse_price("0.6000"), DOLLARS_1000)
    c = 0.5175
    f_star = (p - c) / (1 - c)
    assert decision.side == "yes"
    assert decision.price == ask
    assert decision.kelly_fraction == pytest.approx(f_star)
    assert decision.fraction == pytest.approx(0.75 * f_star)
    assert decision.count % 100 == 0  # whole contracts by default
    budget = decision.fraction * DOLLARS_1000
    assert decision.cost == notional(ask, decision.count) + kalshi_taker_fee(ask, decision.count)
    assert decision.cost <= budget
    one_more = Count(decision.count + 100)
    assert notional(ask, one_more) + kalshi_taker_fee(ask, one_more) > budget


def test_picks_no_when_the_model_says_down() -> None:
    # YES bid 0.45 -> NO ask 0.55; the model gives NO 70 %.
    decision = size_binary(0.30, parse_price("0.4700"), parse_price("0.5500"), DOLLARS_1000)
    assert decision.side == "no"
    assert decision.probability == pytest.approx(0.70)
    assert decision.edge == pytest.approx(0.70 - all_in_cost(parse_price("0.5500")))


def test_external_caps_bind() -> None:
    ask = parse_price("0.4000")
    free = size_binary(0.7, ask, None, DOLLARS_1000)
    by_count = size_binary(0.7, ask, None, DOLLARS_1000, max_count=Count(1000))
    assert by_count.count == 1000 < free.count
    by_cost = size_binary(0.7, ask, None, DOLLARS_1000, max_cost=parse_money("20.000000"))
    assert 0 < by_cost.cost <= parse_money("20.000000")
    by_fraction = size_binary(0.7, ask, None, DOLLARS_1000, max_fraction=0.01)
    assert by_fraction.fraction == pytest.approx(0.01)
    assert by_fraction.cost <= 10 * 1_000_000
    # A $3 bankroll stakes about $1.09: 2 whole contracts, or 2.6 where fractional contracts trade.
    whole = size_binary(0.7, ask, None, Money(3_000_000))
    fractional = size_binary(0.7, ask, None, Money(3_000_000), count_step=Count(1))
    assert whole.count == 200
    assert 250 <= fractional.count < 300


def test_bad_inputs_raise() -> None:
    with pytest.raises(ValueError):
        size_binary(1.2, Price(5000), None, DOLLARS_1000)
    with pytest.raises(ValueError):
        size_binary(0.6, Price(5000), None, DOLLARS_1000, fraction=0.0)


# ---------------------------------------------------------------------------------------------
# Polymarket


def test_polymarket_taker_fee_at_fifty_cents() -> None:
    # 100 shares at 0.50 pay 0.07 × 100 × 0.25 = $1.75.
    assert polymarket_taker_fee(parse_price("0.5000"), Count(100 * 100)) == parse_money("1.750000")


def test_polymarket_fee_rounds_to_five_places_with_a_minimum() -> None:
    # 1 share at 0.37: 0.07 × 0.37 × 0.63 = 0.016317 -> 0.01632.
    assert polymarket_taker_fee(parse_price("0.3700"), Count(100)) == parse_money("0.016320")
    # A tiny fill still pays the minimum 0.00001.
    assert polymarket_taker_fee(parse_price("0.9999"), Count(1)) == MIN_FEE == parse_money("0.000010")
    assert polymarket_taker_fee(parse_price("1.0000"), Count(100)) == 0


def test_polymarket_rate_is_per_market_and_makers_pay_nothing() -> None:
    price, shares = parse_price("0.5000"), Count(100 * 100)
    assert polymarket_taker_fee(price, shares, rate="0.072") == parse_money("1.800000")
    assert polymarket_taker_fee(price, shares, rate=Fraction(0)) == 0
    assert polymarket_fee(price, shares, is_taker=False) == 0
    with pytest.raises(ValueError):
        polymarket_taker_fee(price, shares, rate="1.5")
