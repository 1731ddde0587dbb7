from __future__ import annotations

import math

from kxbtc.clock import NS_PER_S
from kxbtc.oracle.index_state import IndexState

T0 = 1_800_000_000


def test_samples_per_second_and_settlement_window_sum() -> None:
    state = IndexState(prior_annual_vol=0.5)
    state.track((T0 + 100) * NS_PER_S)
    state.track((T0 + 130) * NS_PER_S)
    for i in range(120):
        state.on_index((T0 + i) * NS_PER_S, 100_000.0 + i)
    close = (T0 + 100) * NS_PER_S
    total, count = state.observed(close)
    # Seconds 41..100 inclusive: values 100_041 .. 100_100 (a print at T0 + i belongs to second T0 + i).
    assert count == 60
    assert total == sum(100_000.0 + i for i in range(41, 101))
    _, part_count = state.observed((T0 + 130) * NS_PER_S)
    assert part_count == 49  # seconds 71..119 seen so far


def test_volatility_blends_from_prior_to_measured() -> None:
    state = IndexState(prior_annual_vol=0.5, min_samples=10)
    assert state.dollar_vol() is None
    state.on_index(T0 * NS_PER_S, 100_000.0)
    prior = state.dollar_vol()
    assert prior is not None and math.isclose(prior, 100_000 * 0.5 / math.sqrt(365 * 24 * 3600))
    for i in range(1, 200):  # a flat index: measured vol goes to zero, the blend follows
        state.on_index((T0 + i) * NS_PER_S, 100_000.0)
    later = state.dollar_vol()
    assert later is not None and later < prior / 10


def test_stale_index_has_no_spot_in_the_view() -> None:
    state = IndexState(stale_after_s=5)
    state.on_index(T0 * NS_PER_S, 100_000.0)
    assert state.view((T0 + 1) * NS_PER_S, []).spot == 100_000.0
    assert state.view((T0 + 10) * NS_PER_S, []).spot is None
