"""BRTI estimator on constructed books whose answer is worked out by hand."""

from __future__ import annotations

import math

import pytest

from kxbtc.clock import NS_PER_S, ManualClock
from kxbtc.oracle.brti import (
    BrtiEstimator,
    BrtiParams,
    Exclusion,
    Method,
    build_curve,
    dynamic_size_cap,
    utilized_points,
)
from kxbtc.oracle.feeds.book import Level, VenueBook


def book(venue: str, bids: list[Level], asks: list[Level], as_of_ns: int) -> VenueBook:
    return VenueBook(venue, tuple(bids), tuple(asks), as_of_ns)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def constituent_books(now_ns: int) -> list[VenueBook]:
    a = book("a", [(100.0, 1.0), (99.9, 2.0)], [(100.2, 1.0), (100.3, 2.0)], now_ns)
    b = book("b", [(100.1, 1.0), (98.0, 5.0)], [(100.4, 3.0), (102.0, 5.0)], now_ns - 2 * NS_PER_S)
    # Plausible prices and deep, but 30 s old: must not move the answer.
    stale = book("stale", [(100.12, 50.0)], [(100.18, 50.0)], now_ns - 30 * NS_PER_S)
    # Fresh but ~20 % away from the others: an erroneous venue.
    far = book("far", [(120.0, 1.0)], [(120.2, 1.0)], now_ns)
    return [a, b, stale, far]


# Hand computation for books a + b, volume step 1 BTC, D = 0.5 %:
#   consolidated bids 100.1(1) 100.0(1) 99.9(2) 98.0(5); asks 100.2(1) 100.3(2) 100.4(3) 102.0(5)
#   v=1: bid 100.1 ask 100.2 -> mid 100.15, midSV 0.05 %
#   v=2: bid 100.0 ask 100.3 -> mid 100.15
#   v=3: bid  99.9 ask 100.3 -> mid 100.10
#   v=4: bid  99.9 ask 100.4 -> mid 100.15
#   v=5: bid  98.0 ask 100.4 -> mid  99.20, midSV = 100.4/99.2 - 1 = 1.2 % > 0.5 %  => v_T = 4
#   lambda = 1/(0.3*4); weights e^(-k/1.2) = .434598, .188876, .082085, .035674 (sum .741233)
#   BRTI = 100.15 - 0.05 * .082085 / .741233 = 100.144463
HAND_ANSWER = 100.144463


def test_estimate_matches_hand_computation_and_excludes_stale_and_far_books(clock: ManualClock) -> None:
    est = BrtiEstimator(clock, BrtiParams(size_cap=10.0)).estimate(constituent_books(clock.time_ns()))
    assert est is not None
    assert est.method is Method.CURVE
    assert est.raw_value == pytest.approx(HAND_ANSWER, abs=1e-6)
    assert est.value == 100.14
    assert est.utilized_depth == 4.0
    assert est.included == ("a", "b")
    assert est.excluded == {"stale": Exclusion.STALE, "far": Exclusion.OUTLIER}


def test_curve_points_by_hand() -> None:
    bids = [(100.1, 1.0), (100.0, 1.0), (99.9, 2.0), (98.0, 5.0)]
    asks = [(100.2, 1.0), (100.3, 2.0), (100.4, 3.0), (102.0, 5.0)]
    curve = build_curve(bids, asks, 1.0)
    assert curve.volumes == (1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0)
    assert curve.bid_pv[:5] == (100.1, 100.0, 99.9, 99.9, 98.0)
    assert curve.ask_pv[:5] == (100.2, 100.3, 100.3, 100.4, 100.4)
    assert utilized_points(curve, 0.005) == 4


def test_size_cap_limits_one_large_level(clock: ManualClock) -> None:
    now = clock.time_ns()
    books = [book("a", [(100.0, 10.0), (99.0, 10.0)], [(100.2, 1.0), (100.4, 10.0)], now)]
    uncapped = BrtiEstimator(clock, BrtiParams(size_cap=1000.0)).estimate(books)
    capped = BrtiEstimator(clock, BrtiParams(size_cap=2.0)).estimate(books)
    assert uncapped is not None and capped is not None
    # Uncapped: the 10 BTC bid at 100 carries the curve to v_T = 10.
    assert uncapped.utilized_depth == 10.0
    # Capped at 2 BTC: bids 100(2) 99(2), asks 100.2(1) 100.4(2); v=3 mids at 99.7, midSV 0.7 % -> v_T = 2,
    # BRTI = (100.1 e^(-1/0.6) + 100.2 e^(-2/0.6)) / (e^(-1/0.6) + e^(-2/0.6)).
    w1, w2 = math.exp(-1 / 0.6), math.exp(-2 / 0.6)
    assert capped.utilized_depth == 2.0
    assert capped.raw_value == pytest.approx((100.1 * w1 + 100.2 * w2) / (w1 + w2), abs=1e-9)


def test_dynamic_cap_is_winsorized_mean_plus_five_sigma() -> None:
    sizes = [1.0] * 98 + [2.0, 500.0]
    # 1 % winsorization of 100 sizes clips the single 500 to the next value (2.0) and the low tail to 1.0.
    clipped = [1.0] * 98 + [2.0, 2.0]
    mean = sum(clipped) / 100
    std = math.sqrt(sum((x - mean) ** 2 for x in clipped) / 100)
    assert dynamic_size_cap(sizes, 5.0, 0.01) == pytest.approx(mean + 5 * std)


def test_book_wider_than_d_at_the_first_step_uses_that_step_only(clock: ManualClock) -> None:
    now = clock.time_ns()
    wide = [
        book("a", [(99.0, 1.0)], [(101.5, 1.0)], now),
        book("b", [(99.5, 1.0)], [(101.7, 1.0)], now),
        book("c", [(99.2, 1.0)], [(101.2, 1.0)], now),
    ]
    est = BrtiEstimator(clock).estimate(wide)
    assert est is not None
    # v=1: best bid 99.5, best ask 101.2, midSV 0.85 % > D, but v_T is at least one step.
    assert est.method is Method.CURVE and est.utilized_depth == 1.0
    assert est.raw_value == pytest.approx(100.35)


def test_falls_back_to_median_of_mids_without_one_step_of_depth(clock: ManualClock) -> None:
    now = clock.time_ns()
    thin = [
        book("a", [(100.0, 0.4)], [(100.2, 0.4)], now),
        book("b", [(100.1, 0.3)], [(100.5, 0.9)], now),
        book("c", [(99.9, 0.2)], [(100.3, 0.2)], now),
    ]
    est = BrtiEstimator(clock).estimate(thin)  # 0.9 BTC of bids in all: no point at v = 1
    assert est is not None and est.method is Method.MEDIAN_OF_MIDS
    assert est.raw_value == pytest.approx(100.1)  # mids 100.1, 100.3, 100.1
    assert est.utilized_depth == 0.0


def test_crossed_and_one_sided_books_are_erroneous(clock: ManualClock) -> None:
    now = clock.time_ns()
    books = [
        book("ok", [(100.0, 2.0)], [(100.2, 2.0)], now),
        book("crossed", [(100.5, 1.0)], [(100.1, 1.0)], now),
        book("one_sided", [(100.0, 1.0)], [], now),
    ]
    est = BrtiEstimator(clock).estimate([*books, None])
    assert est is not None
    assert est.included == ("ok",)
    assert est.excluded == {"crossed": Exclusion.CROSSED, "one_sided": Exclusion.EMPTY}


def test_all_books_excluded_gives_no_estimate(clock: ManualClock) -> None:
    old = clock.time_ns()
    clock.advance(60)
    assert BrtiEstimator(clock).estimate([book("a", [(100.0, 1.0)], [(100.2, 1.0)], old)]) is None


def test_outlier_needs_half_the_threshold_to_come_back(clock: ManualClock) -> None:
    est = BrtiEstimator(clock, BrtiParams(size_cap=10.0))

    def books(far_mid: float) -> list[VenueBook]:
        now = clock.time_ns()
        return [
            book("a", [(100.0, 1.0)], [(100.2, 1.0)], now),
            book("b", [(100.3, 1.0)], [(100.5, 1.0)], now),
            book("far", [(far_mid - 0.1, 1.0)], [(far_mid + 0.1, 1.0)], now),
        ]

    first = est.estimate(books(120.0))
    assert first is not None and "far" in first.excluded
    # 3.8 % from the median (100.4): inside the 5 % band, but not inside 2.5 %, so still out.
    second = est.estimate(books(104.2))
    assert second is not None and second.excluded == {"far": Exclusion.OUTLIER}
    assert BrtiEstimator(clock).estimate(books(104.2)).excluded == {}  # type: ignore[union-attr]
    third = est.estimate(books(101.5))
    assert third is not None and third.included == ("a", "b", "far")


def test_gap_to_official_value(clock: ManualClock) -> None:
    est = BrtiEstimator(clock, BrtiParams(size_cap=10.0), gap_alpha=0.5)
    now = clock.time_ns()
    first = est.estimate([book("a", [(100.0, 1.0)], [(100.2, 1.0)], now)])
    assert first is not None and first.value == 100.1
    official_ms = now // 1_000_000 + 400
    assert est.record_official(official_ms, 100.05) == pytest.approx(0.05)
    clock.advance(1)
    est.estimate([book("a", [(100.2, 1.0)], [(100.4, 1.0)], clock.time_ns())])
    assert est.record_official(clock.time_ns() // 1_000_000 + 300, 100.4) == pytest.approx(-0.1)
    assert est.gap.count == 2
    assert est.gap.last_gap == pytest.approx(-0.1)
    assert est.gap.ewma_abs_gap == pytest.approx(0.05 + 0.5 * (0.1 - 0.05))
    assert est.gap.max_abs_gap == pytest.approx(0.1)
    # Without an estimate at or shortly before the official tick there is no gap to report.
    assert est.record_official(now // 1_000_000 - 5_000, 100.0) is None
    assert est.record_official(clock.time_ns() // 1_000_000 + 10_000, 100.0) is None
    assert est.gap.count == 2
