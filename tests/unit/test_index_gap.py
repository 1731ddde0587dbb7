"""The estimate's gap to Kalshi's prints, per whole second, over a window: numbers worked by hand."""

from __future__ import annotations

import pytest

from kxbtc.clock import NS_PER_S
from kxbtc.domain.events import IndexTick
from kxbtc.oracle.index_gap import GapSummary, GapTracker

T0 = 1_795_184_000


def kalshi(second: float, value: float) -> IndexTick:
    return IndexTick(int((T0 + second) * NS_PER_S), value, "kalshi")


def estimate(second: float, value: float) -> IndexTick:
    return IndexTick(int((T0 + second) * NS_PER_S), value, "estimate")


def test_no_gap_until_both_sides_print_in_one_second() -> None:
    tracker = GapTracker(window_s=10)
    assert tracker.on_tick(kalshi(0.4, 100.0)) is None
    assert tracker.on_tick(estimate(1.2, 101.0)) is None  # another second
    assert tracker.on_tick(IndexTick(T0 * NS_PER_S, 50.0, "spot+basis")) is None  # neither side
    assert tracker.summary() == GapSummary(10, 0, 0, None, None, None, None)


def test_last_mean_and_max_abs_over_the_seconds_with_both_prints() -> None:
    tracker = GapTracker(window_s=10)
    # Second 0: estimate first, Kalshi later: gap 100.50 - 100.00 = +0.50.
    tracker.on_tick(estimate(0.2, 100.25))
    tracker.on_tick(estimate(0.8, 100.50))  # the last estimate in the second counts
    assert tracker.on_tick(kalshi(0.9, 100.00)) == pytest.approx(0.50)
    # Second 1: Kalshi first; the estimate arrives after it: 99.00 - 100.00 = -1.00.
    tracker.on_tick(kalshi(1.1, 100.00))
    assert tracker.on_tick(estimate(1.6, 99.00)) == pytest.approx(-1.00)
    # Second 2: +0.25, then Kalshi prints again in the same second: 100.25 - 100.50 = -0.25 replaces it.
    tracker.on_tick(kalshi(2.0, 100.00))
    assert tracker.on_tick(estimate(2.3, 100.25)) == pytest.approx(0.25)
    assert tracker.on_tick(kalshi(2.7, 100.50)) == pytest.approx(-0.25)
    s = tracker.summary()
    assert (s.seconds, s.total_seconds, s.last_second) == (3, 3, T0 + 2)
    assert s.last == pytest.approx(-0.25)
    assert s.mean == pytest.approx((0.50 - 1.00 - 0.25) / 3)  # -0.25
    assert s.max_abs == pytest.approx(1.00)


def test_only_the_window_counts() -> None:
    tracker = GapTracker(window_s=3)
    for second, gap in ((0, 4.0), (1, -2.0), (2, 1.0)):
        tracker.on_tick(kalshi(second, 100.0))
        tracker.on_tick(estimate(second, 100.0 + gap))
    assert tracker.summary().max_abs == pytest.approx(4.0)
    # A print at second 3 moves the window to seconds 1..3: second 0's gap of 4 leaves it.
    tracker.on_tick(estimate(3.5, 100.0))
    s = tracker.summary()
    assert (s.seconds, s.total_seconds) == (2, 3)
    assert s.mean == pytest.approx((-2.0 + 1.0) / 2)
    assert s.max_abs == pytest.approx(2.0)
    assert s.last == pytest.approx(1.0) and s.last_second == T0 + 2
    # A late print for a second already out of the window is dropped, not paired.
    assert tracker.on_tick(kalshi(0.5, 90.0)) is None
    # Nothing for 10 s: the statistics empty rather than describe an old estimate.
    tracker.on_tick(kalshi(14.0, 100.0))
    assert tracker.summary() == GapSummary(3, 0, 3, None, None, None, None)


def test_the_window_must_be_positive() -> None:
    with pytest.raises(ValueError, match="window_s"):
        GapTracker(window_s=0)
