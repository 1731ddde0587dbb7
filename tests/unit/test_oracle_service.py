"""The oracle object: official and estimated prints into settlement windows, and the index it reports."""

from __future__ import annotations

from pathlib import Path

import pytest

from kxbtc.clock import NS_PER_S, ManualClock
from kxbtc.oracle.service import Oracle
from kxbtc.oracle.settlement import IndexSample, StrikeRule

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "feeds" / "kalshi_cfbenchmarks_value.jsonl"
CLOSE = 1_795_184_100


def frames() -> list[str]:
    return [line for line in FIXTURE.read_text().splitlines() if line.strip()]


def test_official_values_settle_a_tracked_market() -> None:
    clock = ManualClock(start_ns=(CLOSE - 63) * NS_PER_S)
    oracle = Oracle(clock)
    tracker = oracle.track(
        "KXBTC15M-26NOV200915-15", CLOSE, StrikeRule.from_market("greater_or_equal", "91233.72")
    )
    assert oracle.track("KXBTC15M-26NOV200915-15", CLOSE) is tracker
    for frame in frames():
        oracle.cfb_handler(frame)
    assert tracker.complete and tracker.official == 60
    assert oracle.final_minute_mismatches == 0  # Kalshi's running mean matched ours at every tick
    assert tracker.settlement_cents == 9_123_372 and tracker.outcome() is True
    last = oracle.last_official
    assert last is not None and last.second == CLOSE + 1
    clock.set_ns(last.time_ms * 1_000_000 + NS_PER_S)
    assert oracle.current_index() == last.value  # fresh official value wins
    clock.advance(5)
    assert oracle.current_index() is None  # stale official, and no estimate yet


def test_a_window_that_disagrees_with_kalshi_is_counted() -> None:
    oracle = Oracle(ManualClock())
    tracker = oracle.track("m", CLOSE)
    tracker.record(IndexSample(CLOSE - 59, 1))  # a wrong print before Kalshi's first window tick
    for frame in frames()[:5]:
        oracle.cfb_handler(frame)
    assert oracle.final_minute_mismatches == 2  # the two ticks inside the window disagree


@pytest.mark.parametrize("key", ["a", "b"])
def test_untrack_forgets_a_market(key: str) -> None:
    oracle = Oracle(ManualClock())
    oracle.track(key, CLOSE)
    assert oracle.untrack(key) is not None and oracle.untrack(key) is None
