"""Volatility estimators recover a known volatility from simulated 1-second prices."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kxbtc.pricing.volatility import (
    SECONDS_PER_YEAR,
    EwmaVariance,
    annualise,
    bipower_variation,
    dollar_vol,
    ewma_series,
    parkinson_variance,
    per_second_vol,
    realized_variance,
    two_scale_realized_variance,
)

ANNUAL = 0.6
SIGMA = per_second_vol(ANNUAL)  # log vol per √s


def _gbm_prices(seconds: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    returns = SIGMA * rng.standard_normal(seconds) - 0.5 * SIGMA**2
    return np.asarray(80_000.0 * np.exp(np.concatenate([[0.0], np.cumsum(returns)])))


def test_units_round_trip() -> None:
    assert annualise(per_second_vol(0.5) ** 2) == pytest.approx(0.5)
    assert SECONDS_PER_YEAR == 31_536_000
    # The pricing note's quick scale: 50 % at $80k is about $7.1 per √s.
    assert dollar_vol(80_000, per_second_vol(0.5)) == pytest.approx(7.123, abs=1e-3)


def test_realized_and_ewma_recover_the_true_volatility() -> None:
    prices = _gbm_prices(20_000, seed=1)
    assert math.sqrt(realized_variance(prices)) == pytest.approx(SIGMA, rel=0.03)
    returns = np.diff(np.log(prices))
    ewma = ewma_series(returns**2, half_life=1800, initial=float(returns[0] ** 2))
    assert math.sqrt(ewma[-1]) == pytest.approx(SIGMA, rel=0.1)
    stream = EwmaVariance(half_life=1800)
    for t, p in enumerate(prices.tolist()):
        stream.update(p, float(t))
    assert stream.volatility() == pytest.approx(SIGMA, rel=0.1)


def test_ewma_half_life_means_half_the_weight() -> None:
    # Constant returns a then b: after exactly one half-life the estimate is halfway.
    a, b, half_life = 1e-4, 3e-4, 20
    values = np.array([a**2] * 500 + [b**2] * half_life)
    assert ewma_series(values, half_life, initial=a**2)[-1] == pytest.approx((a**2 + b**2) / 2)
    stream = EwmaVariance(half_life=half_life)
    price, t = 100.0, 0.0
    stream.update(price, t)
    for step in [a] * 500 + [b] * half_life:
        price *= math.exp(step)
        t += 1.0
        stream.update(price, t)
    assert stream.variance == pytest.approx((a**2 + b**2) / 2, rel=1e-3)


def test_streaming_ewma_normalises_irregular_steps() -> None:
    prices = _gbm_prices(20_000, seed=2)
    stream = EwmaVariance(half_life=3600)
    for t in range(0, prices.size, 5):  # every fifth second only
        stream.update(float(prices[t]), float(t))
    assert stream.volatility() == pytest.approx(SIGMA, rel=0.1)
    assert stream.update(float(prices[-1]), 0.0) == stream.variance  # out-of-order print ignored


def test_two_scale_rv_removes_microstructure_noise() -> None:
    prices = _gbm_prices(20_000, seed=3)
    noise = np.random.default_rng(4).normal(0.0, 1e-4, prices.size)  # bid-ask bounce in log price
    noisy = prices * np.exp(noise)
    naive = realized_variance(noisy)
    assert naive > 2 * SIGMA**2  # the noise dominates the naive estimate at 1 s
    assert two_scale_realized_variance(noisy, subgrids=30) == pytest.approx(SIGMA**2, rel=0.15)


def test_bipower_variation_ignores_a_jump() -> None:
    prices = _gbm_prices(20_000, seed=5)
    prices[10_000:] *= 1.02  # one 2 % jump
    assert realized_variance(prices) > 1.5 * SIGMA**2
    assert bipower_variation(prices) == pytest.approx(SIGMA**2, rel=0.05)


def test_parkinson_variance_of_a_bar() -> None:
    assert parkinson_variance([101.0], [99.0])[0] == pytest.approx(
        math.log(101 / 99) ** 2 / (4 * math.log(2))
    )


def test_bad_inputs_raise() -> None:
    with pytest.raises(ValueError):
        realized_variance([100.0])
    with pytest.raises(ValueError):
        realized_variance([100.0, -1.0])
    with pytest.raises(ValueError):
        two_scale_realized_variance([100.0, 101.0, 102.0], subgrids=5)
    with pytest.raises(ValueError):
        EwmaVariance(half_life=0)
