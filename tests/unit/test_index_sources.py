"""Each index source turns its own input into labelled ``IndexTick``s and hands them to its sink."""

from __future__ import annotations

from index_fakes import FixedBookFeed

from kxbtc.clock import NS_PER_S, ManualClock
from kxbtc.domain.events import IndexTick
from kxbtc.oracle.estimate_source import EstimatedIndex
from kxbtc.oracle.index_source import IndexSource, KalshiPrints, RecordedSpotTicks
from kxbtc.oracle.spot_basis import BasisEstimator

T0 = 1_795_184_000


def collect(source: IndexSource) -> list[IndexTick]:
    got: list[IndexTick] = []
    source.attach(got.append)
    return got


def test_kalshi_prints_are_labelled_and_broken_values_dropped() -> None:
    prints = KalshiPrints()
    got = collect(prints)
    prints.on_value(T0 * 1000 + 250, 91_234.56)
    prints.on_value(T0 * 1000 + 500, 0.0)
    prints.on_value(T0 * 1000 + 750, float("nan"))
    prints.on_tick(IndexTick((T0 + 1) * NS_PER_S, 91_235.0, "whatever the stream said"))
    assert got == [
        IndexTick(T0 * NS_PER_S + 250_000_000, 91_234.56, "kalshi"),
        IndexTick((T0 + 1) * NS_PER_S, 91_235.0, "kalshi"),
    ]
    assert prints.emitted == 2


def test_recorded_spot_ticks_carry_the_basis_known_at_their_instant() -> None:
    basis = BasisEstimator(min_seconds=1, delay_s=0)
    close_ns = (T0 + 60) * NS_PER_S
    basis.watch("M", close_ns, settlement=100.0)
    spot = RecordedSpotTicks(basis)
    got = collect(spot)
    spot.on_spot((T0 + 30) * NS_PER_S, 98.0)  # inside M's final minute; no basis known yet
    basis.release("M")  # M settled at 100 against a spot mean of 98: basis +2
    spot.on_spot((T0 + 90) * NS_PER_S, 97.0)
    assert got == [
        IndexTick((T0 + 30) * NS_PER_S, 98.0, "spot+basis"),
        IndexTick((T0 + 90) * NS_PER_S, 99.0, "spot+basis"),
    ]


def test_the_estimate_makes_a_tick_from_the_feeds_books() -> None:
    clock = ManualClock(start_ns=T0 * NS_PER_S)
    feed = FixedBookFeed(clock, None)
    source = EstimatedIndex(clock, [feed])
    got = collect(source)
    assert source.step() is None  # no book yet: no estimate, nothing handed on
    feed.mid = 91_230.0
    clock.advance(0.2)
    tick = source.step()
    # A symmetric book: every point of the mid curve is the mid itself.
    assert tick == IndexTick(T0 * NS_PER_S + 200_000_000, 91_230.0, "estimate")
    assert got == [tick]
    assert [h.venue for h in source.health()] == ["fixed"]
