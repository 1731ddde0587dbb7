from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kxbtc.pricing.fees import FeeSchedule, kalshi_taker_fee
from kxbtc.units import (
    PriceGrid,
    UnitError,
    format_count,
    format_money,
    format_price,
    parse_count,
    parse_money,
    parse_price,
)


def test_wire_strings_round_trip_exactly() -> None:
    assert parse_price("0.5600") == 5600
    assert format_price(5600) == "0.5600"
    assert parse_price("0.56") == 5600
    assert parse_price("0.480") == 4800
    assert parse_price("1.0000") == 10000
    assert parse_count("10.00") == 1000
    assert parse_count("10") == 1000
    assert parse_count("-3.00") == -300
    assert format_count(-300) == "-3.00"
    assert parse_money("0.017500") == 17500
    assert format_money(17500) == "0.017500"
    assert format_money(98_018_600, 4) == "98.0186"


@pytest.mark.parametrize("bad", ["abc", "", "0.5x", "1e-3", " 0.5", "0.56001", "--1", "0.-5", "٣.00"])
def test_bad_price_strings_are_typed_errors(bad: str) -> None:
    with pytest.raises(UnitError):
        parse_price(bad)


def test_numbers_are_not_strings() -> None:
    with pytest.raises(UnitError):
        parse_price(0.56)  # type: ignore[arg-type]


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_count_round_trip(value: int) -> None:
    assert parse_count(format_count(value)) == value


def test_tapered_grid_validate_snap_and_step() -> None:
    grid = PriceGrid.from_wire(
        [
            {"start": "0.0000", "end": "0.1000", "step": "0.0010"},
            {"start": "0.1000", "end": "0.9000", "step": "0.0100"},
            {"start": "0.9000", "end": "1.0000", "step": "0.0010"},
        ]
    )
    assert grid.is_valid(parse_price("0.0950"))
    assert not grid.is_valid(parse_price("0.5150"))
    assert grid.is_valid(parse_price("0.5100"))
    assert grid.next_up(parse_price("0.0990")) == 1000
    assert grid.next_up(parse_price("0.1000")) == 1100
    assert grid.next_down(parse_price("0.1000")) == 990
    assert grid.snap(5150, "down") == 5100
    assert grid.snap(5150, "up") == 5200
    assert grid.next_up(9990) is None
    assert grid.next_down(10) is None
    assert not grid.is_valid(0) and not grid.is_valid(10000)


def test_linear_cent_rejects_subpenny() -> None:
    grid = PriceGrid.linear_cent()
    assert not grid.is_valid(5150)
    assert len(grid.ticks()) == 99


def test_fee_matches_recorded_fills() -> None:
    # fills__after_taker: 1 @ 0.52 -> fee_cost "0.017500"; 1 @ 0.99 -> "0.000700".
    assert kalshi_taker_fee(5200, 100) == parse_money("0.017500")
    assert kalshi_taker_fee(9900, 100) == parse_money("0.000700")
    assert kalshi_taker_fee(5000, 10000) == parse_money("1.750000")
    maker = FeeSchedule.from_wire("quadratic", 1)
    assert maker.fee(5000, 100, is_taker=False) == 0
    assert FeeSchedule.from_wire("quadratic_with_maker_fees", 1).fee(5000, 100, False) == 4400


@given(
    fee_type=st.sampled_from(["quadratic", "quadratic_with_maker_fees", "quadratic_with_combo_maker_fees"]),
    multiplier=st.sampled_from(["1", "0.5", "2", "1.25", "0.1"]),
    price=st.integers(1, 9999),
    count=st.integers(0, 10_000_000),
    is_taker=st.booleans(),
)
def test_fee_is_the_exact_formula_rounded_up_to_a_hundredth_of_a_cent(
    fee_type: str, multiplier: str, price: int, count: int, is_taker: bool
) -> None:
    schedule = FeeSchedule.from_wire(fee_type, multiplier)
    rate = schedule.coefficient(is_taker) * Fraction(multiplier)
    dollars = rate * Fraction(count, 100) * Fraction(price, 10_000) * Fraction(10_000 - price, 10_000)
    ticks = math.ceil(dollars * 10_000)  # $0.0001 steps
    assert schedule.fee(price, count, is_taker) == ticks * 100


def test_people_read_money_prices_counts_and_times_one_way() -> None:
    from kxbtc.units import (
        format_clock,
        format_contracts,
        format_price_usd,
        format_qty,
        format_time,
        format_usd,
        format_usd_exact,
        format_usd_float,
    )

    assert format_usd(-14_700_000) == "-$14.70"  # the sign before the symbol
    assert format_usd(8_599_300) == "$8.60" and format_usd(1_056_127_400) == "$1,056.13"
    assert format_usd(-4_999) == "$0.00"  # rounds to no cents: no "-$0.00"
    assert format_usd_float(-13.055759999999998) == "-$13.06"
    assert format_usd_exact(8_599_300) == "$8.5993" and format_usd_exact(-1) == "-$0.000001"
    assert format_usd_exact(1_500_000) == "$1.50"
    assert format_price_usd(5_600) == "$0.56"  # a whole cent: cents
    assert format_price_usd(150) == "$0.0150"  # the sub-penny grid needs the places
    assert format_price_usd(4_918) == "$0.4918"
    assert format_qty(8_600) == "86" and format_qty(50) == "0.50" and format_qty(109_700) == "1,097"
    assert format_contracts(100) == "1 contract" and format_contracts(-250) == "-2.50 contracts"
    stamp = 1_778_675_331 * 1_000_000_000 + 999_999_999  # 2026-05-13 12:28:51.999... UTC
    assert format_time(stamp) == "2026-05-13 12:28:51Z" and format_clock(stamp) == "12:28:51Z"
