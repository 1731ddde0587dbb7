"""Settlement-window tracker and per-second index sampler."""

from __future__ import annotations

import random

import pytest

from kxbtc.clock import NS_PER_S
from kxbtc.oracle.settlement import (
    IndexSample,
    IndexSampler,
    SettlementTracker,
    StrikeRule,
    StrikeType,
    WindowSample,
)

CLOSE = 1_795_184_100  # 2026-11-20 14:15:00 UTC
FIRST = CLOSE - 59


def at_least(dollars: str) -> StrikeRule:
    return StrikeRule.from_market("greater_or_equal", dollars)


def feed(tracker: SettlementTracker, seconds: range, cents: int) -> None:
    for s in seconds:
        assert tracker.record(IndexSample(s, cents))


def test_window_is_the_sixty_seconds_ending_at_close() -> None:
    t = SettlementTracker(CLOSE)
    assert not t.record(IndexSample(CLOSE - 60, 1))  # the start boundary is excluded
    assert not t.record(IndexSample(CLOSE + 1, 1))
    assert t.in_window(FIRST) and t.in_window(CLOSE)
    feed(t, range(FIRST, CLOSE + 1), 9_000_000)
    assert t.complete and t.count == 60 and t.observed == 60
    assert t.settlement_cents == 9_000_000


def test_running_sum_average_and_required_average_for_at_least() -> None:
    t = SettlementTracker(CLOSE, at_least("100.10"))
    feed(t, range(FIRST, FIRST + 30), 10_000)
    assert (t.count, t.remaining, t.total_cents) == (30, 30, 300_000)
    assert t.running_average == pytest.approx(100.00)
    # Rounded average >= 100.10 iff raw average >= 100.095: (60 * 10009.5 - 300000) / 30 = 10019 cents.
    need = t.required_average()
    assert need is not None
    assert need.remaining == 30
    assert need.low == pytest.approx(100.19) and need.low_inclusive and need.high is None
    assert need.contains(100.19) and not need.contains(100.1899)
    assert t.outcome() is None


@pytest.mark.parametrize(("rest_cents", "wins"), [(10_019, True), (10_018, False)])
def test_tie_at_the_strike_after_rounding_goes_to_yes(rest_cents: int, wins: bool) -> None:
    t = SettlementTracker(CLOSE, at_least("100.10"))
    feed(t, range(FIRST, FIRST + 30), 10_000)
    feed(t, range(FIRST + 30, CLOSE + 1), rest_cents)
    # 10019: average 10009.5 cents rounds half up to 100.10 = strike -> YES. 10018: 100.09 -> NO.
    assert t.settlement_cents == (10_010 if wins else 10_009)
    assert t.outcome() is wins
    assert t.required_average() is None


def test_strict_greater_and_unrounded_comparison() -> None:
    t = SettlementTracker(CLOSE)
    feed(t, range(FIRST, CLOSE), 10_000)
    t.record(IndexSample(CLOSE, 10_030))  # average 10000.5 cents
    assert t.settlement_cents == 10_001
    assert t.outcome(StrikeRule.from_market("greater", "100.00")) is True  # 100.01 > 100.00
    assert t.outcome(at_least("100.01")) is True
    unrounded = SettlementTracker(CLOSE, round_to_cent=False)
    feed(unrounded, range(FIRST, CLOSE), 10_000)
    unrounded.record(IndexSample(CLOSE, 10_030))
    assert unrounded.outcome(at_least("100.01")) is False
    assert unrounded.outcome(StrikeRule.from_market("greater", "100.00")) is True


def test_between_is_inclusive_and_gives_a_range() -> None:
    rule = StrikeRule.from_market("between", "100.00", "100.24")
    t = SettlementTracker(CLOSE, rule)
    feed(t, range(FIRST, FIRST + 45), 10_010)
    need = t.required_average()
    assert need is not None
    # 60 * 9999.5 = 599970 and 60 * 10024.5 = 601470 cents; minus 450450 observed; over 15 seconds.
    assert need.low == pytest.approx(99.68) and need.low_inclusive
    assert need.high == pytest.approx(100.68) and not need.high_inclusive
    assert need.contains(99.68) and need.contains(100.0)
    assert not need.contains(100.68) and not need.contains(99.67)
    feed(t, range(FIRST + 45, CLOSE + 1), 10_068)  # average 10024.5 -> rounds to 100.25, outside
    assert t.outcome() is False


@pytest.mark.parametrize(
    ("strike_type", "cap", "wins"),
    [
        ("less", "100.01", False),
        ("less", "100.02", True),
        ("less_or_equal", "100.01", True),
        ("less_or_equal", "100.00", False),
    ],
)
def test_below_strikes_compare_the_rounded_average(strike_type: str, cap: str, wins: bool) -> None:
    t = SettlementTracker(CLOSE, StrikeRule.from_market(strike_type, None, cap))
    feed(t, range(FIRST, CLOSE), 10_000)
    t.record(IndexSample(CLOSE, 10_030))  # average 10000.5 cents -> settles at 100.01
    assert t.outcome() is wins


def test_strike_rule_from_market_fields() -> None:
    assert at_least("63485.16") == StrikeRule(StrikeType.GREATER_OR_EQUAL, 6_348_516)
    assert StrikeRule.from_market("greater", 62599.99).floor_cents == 6_259_999
    assert StrikeRule.from_market("less", None, "70000").cap_cents == 7_000_000
    with pytest.raises(ValueError):
        StrikeRule.from_market("between", "1.00")
    with pytest.raises(ValueError):
        StrikeRule.from_market("sideways", "1.00")


def test_missing_seconds_carry_the_last_value_forward() -> None:
    t = SettlementTracker(CLOSE)
    t.record(IndexSample(FIRST, 100))
    t.record(IndexSample(FIRST + 4, 200))
    assert [s.cents for s in t.samples] == [100, 100, 100, 100, 200]
    assert [s.filled for s in t.samples] == [False, True, True, True, False]
    assert (t.count, t.observed, t.total_cents) == (5, 2, 600)
    t.record(IndexSample(FIRST + 2, 150))  # late arrival replaces a filled second
    assert [s.cents for s in t.samples] == [100, 100, 150, 150, 200]
    t.finalize()  # after close: the last print runs through the close second
    assert t.complete and t.observed == 3
    assert t.samples[-1] == WindowSample(CLOSE, 200, filled=True)


def test_leading_gap_uses_the_print_before_the_window_else_the_first_print() -> None:
    with_prior = SettlementTracker(CLOSE)
    with_prior.record(IndexSample(FIRST - 5, 90))
    with_prior.record(IndexSample(FIRST + 2, 120))
    assert [s.cents for s in with_prior.samples] == [90, 90, 120]
    without = SettlementTracker(CLOSE)
    without.record(IndexSample(FIRST + 2, 120))
    assert [s.cents for s in without.samples] == [120, 120, 120]


def test_duplicate_second_keeps_the_first_print() -> None:
    t = SettlementTracker(CLOSE)
    assert t.record(IndexSample(FIRST, 100))
    assert not t.record(IndexSample(FIRST, 999))
    assert t.duplicates == 1 and t.total_cents == 100


def test_official_print_replaces_an_estimate_but_never_the_reverse() -> None:
    t = SettlementTracker(CLOSE)
    assert t.record(IndexSample(FIRST, 100, official=False))
    assert t.record(IndexSample(FIRST, 101))  # Kalshi's value arrives after our estimate
    assert not t.record(IndexSample(FIRST, 102, official=False))
    assert t.record(IndexSample(FIRST + 1, 103, official=False))
    assert [(x.cents, x.official) for x in t.samples] == [(101, True), (103, False)]
    assert (t.observed, t.official, t.duplicates) == (2, 1, 1)


def test_result_does_not_depend_on_arrival_order() -> None:
    rng = random.Random(3)
    prints = [IndexSample(s, 9_000_000 + rng.randint(-500, 500)) for s in range(FIRST, CLOSE + 1) if s % 7]
    in_order, shuffled = SettlementTracker(CLOSE), SettlementTracker(CLOSE)
    for p in prints:
        in_order.record(p)
    for p in rng.sample(prints, len(prints)):
        shuffled.record(p)
    in_order.finalize()
    shuffled.finalize()
    assert in_order.samples == shuffled.samples
    assert in_order.settlement_cents == shuffled.settlement_cents


# -- sampler -------------------------------------------------------------------------------------


def ns(seconds: float) -> int:
    return round(seconds * NS_PER_S)


def test_sampler_takes_the_value_as_of_each_whole_second() -> None:
    s = IndexSampler(max_carry_s=5.0)
    t0 = 1_795_184_000
    out: list[IndexSample] = []
    for ts, value in [(0.3, 1.0), (0.8, 2.0), (1.2, 3.0), (2.0, 4.0), (2.5, 5.0)]:
        out += s.add(ns(t0 + ts), value)
    # Second 1 -> the 0.8 estimate; second 2 -> the estimate exactly at 2.000 (at-or-before rule).
    assert out == [IndexSample(t0 + 1, 200, official=False), IndexSample(t0 + 2, 400, official=False)]
    # Nothing new until 10.0: seconds 3..7 carry the 2.5 estimate (within 5 s), 8 and 9 get no print.
    out = s.add(ns(t0 + 10.0), 6.0)
    assert [x.second - t0 for x in out] == [3, 4, 5, 6, 7]
    assert {x.cents for x in out} == {500}
    assert s.flush(ns(t0 + 10.0)) == [IndexSample(t0 + 10, 600, official=False)]
    assert s.flush(ns(t0 + 10.5)) == []
    assert s.add(ns(t0 + 9.0), 7.0) == []  # out of order: ignored


def test_sampler_feeds_tracker_to_a_settlement() -> None:
    sampler, tracker = IndexSampler(), SettlementTracker(CLOSE, at_least("91000.00"))
    for k in range(0, 700):  # an estimate every 100 ms from close-65 s to close+5 s
        ts = ns(CLOSE - 65 + k * 0.1)
        for sample in sampler.add(ts, 91_000.0 + (k % 10) * 0.01):
            tracker.record(sample)
    assert tracker.complete and tracker.observed == 60
    # Each whole second's as-of estimate is the one at x.000 exactly, where k % 10 == 0.
    assert tracker.settlement_cents == 9_100_000
    assert tracker.outcome() is True
