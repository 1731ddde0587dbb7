"""Fair value of the 60-sample settlement average against Monte Carlo paths and the contract rules."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner

from kxbtc.cli import cli
from kxbtc.pricing.fair_value import (
    StrikeType,
    average_moments,
    fair_value,
    fair_value_array,
    fair_value_lognormal,
)
from kxbtc.pricing.volatility import dollar_vol, per_second_vol

SPOT = 80_000.0


def _simulate_average(
    rng: np.random.Generator,
    paths: int,
    seconds_to_close: float,
    sigma: float,
    observed_sum: float,
    observed_count: int,
    drift: float = 0.0,
    log_normal: bool = False,
    spot: float = SPOT,
) -> np.ndarray:
    """Explicit paths sampled at the remaining one-second sample times; no variance formula used."""
    m = 60 - observed_count
    offsets = seconds_to_close - np.arange(m - 1, -1, -1, dtype=float)  # offsets of the last m samples
    offsets = np.maximum(offsets, 0.0)
    steps = np.diff(np.concatenate([[0.0], offsets]))
    shocks = rng.standard_normal((paths, m)) * np.sqrt(steps)
    brownian = np.cumsum(shocks, axis=1)
    if log_normal:
        prices = spot * np.exp(sigma * brownian - 0.5 * sigma**2 * offsets)
    else:
        prices = spot + drift * offsets + sigma * brownian
    return np.asarray((observed_sum + prices.sum(axis=1)) / 60)


# (seconds to close, observed count, observed mean − spot): before the window, at its start, inside it
# (partly observed, including a sub-second phase and an observed mean away from spot) and in its last seconds.
SCENARIOS = [
    (900.0, 0, 0.0),
    (300.0, 0, 0.0),
    (60.0, 0, 0.0),
    (45.0, 15, -40.0),
    (30.4, 30, 25.0),
    (10.0, 50, 0.0),
    (2.0, 58, 12.0),
]


@pytest.mark.parametrize(("spot", "annual_vol"), [(80_000.0, 0.3), (30_000.0, 0.9), (120_000.0, 0.6)])
@pytest.mark.parametrize(("seconds_to_close", "observed_count", "observed_offset"), SCENARIOS)
def test_matches_monte_carlo_of_the_discrete_average(
    spot: float, annual_vol: float, seconds_to_close: float, observed_count: int, observed_offset: float
) -> None:
    rng = np.random.default_rng(20260611 + observed_count)
    sigma = dollar_vol(spot, per_second_vol(annual_vol))
    observed_sum = observed_count * (spot + observed_offset)
    averages = _simulate_average(
        rng, 100_000, seconds_to_close, sigma, observed_sum, observed_count, spot=spot
    )
    moments = average_moments(
        spot, seconds_to_close, sigma, observed_sum=observed_sum, observed_count=observed_count
    )
    for k_sd in (-2.0, -1.0, -0.3, 0.0, 0.5, 1.5):
        strike = moments.mean + k_sd * moments.sd
        model = fair_value(
            spot,
            strike,
            seconds_to_close,
            sigma,
            observed_sum=observed_sum,
            observed_count=observed_count,
            settlement_tick=0.0,
        )
        simulated = float(np.mean(averages >= strike))
        assert model == pytest.approx(simulated, abs=0.005), (k_sd, model, simulated)


def test_drift_moves_the_average_like_monte_carlo() -> None:
    rng = np.random.default_rng(7)
    sigma = dollar_vol(SPOT, per_second_vol(0.5))
    averages = _simulate_average(rng, 100_000, 120.0, sigma, 0.0, 0, drift=0.4)
    for strike in (SPOT - 50, SPOT + 20, SPOT + 60, SPOT + 120):
        model = fair_value(SPOT, strike, 120.0, sigma, drift=0.4, settlement_tick=0.0)
        assert model == pytest.approx(float(np.mean(averages >= strike)), abs=0.005)
    assert fair_value(SPOT, SPOT + 20, 120.0, sigma, drift=0.4) > fair_value(SPOT, SPOT + 20, 120.0, sigma)


def test_exact_variance_inside_and_before_the_window() -> None:
    sigma = 3.0
    for remaining in (1, 5, 30, 60):
        sd = average_moments(SPOT, remaining, sigma, observed_count=60 - remaining).sd
        assert sd**2 == pytest.approx(sigma**2 * remaining * (remaining + 1) * (2 * remaining + 1) / 21600)
    for seconds in (60.0, 600.0, 900.0, 3600.0):
        sd = average_moments(SPOT, seconds, sigma).sd
        assert sd**2 == pytest.approx(sigma**2 * (seconds - 39.49722), rel=1e-6)


def test_lognormal_cross_check_agrees_with_abm_and_with_gbm_paths() -> None:
    log_vol = per_second_vol(0.6)
    sigma = dollar_vol(SPOT, log_vol)
    rng = np.random.default_rng(11)
    averages = _simulate_average(rng, 100_000, 600.0, log_vol, 0.0, 0, log_normal=True)
    for strike in (SPOT - 300, SPOT - 50, SPOT, SPOT + 80, SPOT + 400):
        tw = fair_value_lognormal(SPOT, strike, 600.0, log_vol, settlement_tick=0.0)
        assert tw == pytest.approx(float(np.mean(averages >= strike)), abs=0.005)
        assert tw == pytest.approx(fair_value(SPOT, strike, 600.0, sigma, settlement_tick=0.0), abs=0.003)
    # Inside the window with half the samples observed, both models agree too.
    seen = 30 * (SPOT + 10)
    for strike in (SPOT - 10, SPOT + 5, SPOT + 20):
        tw = fair_value_lognormal(SPOT, strike, 30.0, log_vol, observed_sum=seen, observed_count=30)
        assert tw == pytest.approx(
            fair_value(SPOT, strike, 30.0, sigma, observed_sum=seen, observed_count=30), abs=0.002
        )


def test_settlement_rounding_to_the_cent() -> None:
    strike = 81_234.56

    # Fully observed: the average is known, only the rounding decides.
    def settled(average: float, strike_type: StrikeType = "greater_or_equal") -> float:
        return fair_value(
            SPOT, strike, 0.0, 5.0, strike_type=strike_type, observed_sum=60 * average, observed_count=60
        )

    assert settled(strike - 0.004) == 1.0  # rounds up to the strike: ties go to YES
    assert settled(strike - 0.006) == 0.0
    assert settled(strike + 0.004, "greater") == 0.0  # rounds down to the strike: not above it
    assert settled(strike + 0.006, "greater") == 1.0


def test_strike_types_are_consistent() -> None:
    sigma = dollar_vol(SPOT, per_second_vol(0.5))

    def p(strike_type: StrikeType) -> float:
        return fair_value(
            SPOT, SPOT, 40.0, sigma, strike_type=strike_type, observed_sum=20 * (SPOT - 15), observed_count=20
        )

    ge, gt, lt = p("greater_or_equal"), p("greater"), p("less")
    assert gt < ge
    assert lt == pytest.approx(1 - ge)
    # A ladder of inclusive $250 buckets (cap = next floor − 0.01) plus both tails sums to exactly one.
    floors = [SPOT - 1000 + 250 * i for i in range(8)]
    buckets = [fair_value(SPOT, f, 600.0, sigma, strike_type="between", cap=f + 249.99) for f in floors]
    below = fair_value(SPOT, floors[0], 600.0, sigma, strike_type="less")
    above = fair_value(SPOT, floors[-1] + 249.99, 600.0, sigma, strike_type="greater")
    assert sum(buckets) + below + above == pytest.approx(1.0, abs=1e-12)
    with pytest.raises(ValueError, match="cap"):
        fair_value(SPOT, SPOT, 60.0, sigma, strike_type="between")


def test_vectorised_matches_scalar() -> None:
    rng = np.random.default_rng(3)
    n = 400
    spot = rng.uniform(60_000, 100_000, n)
    strike = spot + rng.normal(0, 60, n)
    seconds = rng.choice([0.5, 3.0, 29.7, 59.0, 60.0, 61.0, 300.0, 900.0, 3600.0], n)
    sigma = spot * per_second_vol(rng.uniform(0.2, 1.2, n))
    count = np.where(seconds < 60, rng.integers(0, 60, n), 0)
    obs = count * (spot + rng.normal(0, 20, n))
    drift = rng.normal(0, 0.2, n)
    for tail_df in (None, 5.0):
        vec = fair_value_array(
            spot, strike, seconds, sigma, observed_sum=obs, observed_count=count, drift=drift, tail_df=tail_df
        )
        for i in range(0, n, 7):
            one = fair_value(
                float(spot[i]),
                float(strike[i]),
                float(seconds[i]),
                float(sigma[i]),
                observed_sum=float(obs[i]),
                observed_count=int(count[i]),
                drift=float(drift[i]),
                tail_df=tail_df,
            )
            assert vec[i] == pytest.approx(one, abs=1e-12)
    between = fair_value_array(spot, strike, 300.0, sigma, strike_type="between", cap=strike + 100)
    assert between[0] == pytest.approx(
        fair_value(
            float(spot[0]),
            float(strike[0]),
            300.0,
            float(sigma[0]),
            strike_type="between",
            cap=float(strike[0]) + 100,
        )
    )


def test_scalar_student_t_is_the_ufunc_to_the_bit() -> None:
    """The scalar path calls Student-t's scalar entry point for speed: it must be the same function, so a
    replay's decisions do not move by a rounding."""
    from scipy.special import cython_special, stdtr

    rng = np.random.default_rng(11)
    for df in (2.5, 3.0, 4.0, 6.0, 12.0, 30.0):
        for t in rng.normal(0, 4, 2_000):
            assert cython_special.stdtr(df, float(t)) == float(stdtr(df, float(t)))


def test_student_t_tails_keep_the_variance_and_fatten_the_tails() -> None:
    sigma = 5.0
    at_money = fair_value(SPOT, SPOT, 300.0, sigma, tail_df=4.0, settlement_tick=0.0)
    assert at_money == pytest.approx(0.5)
    sd = average_moments(SPOT, 300.0, sigma).sd
    far = SPOT + 4 * sd
    assert fair_value(SPOT, far, 300.0, sigma, tail_df=4.0) > fair_value(SPOT, far, 300.0, sigma)


def test_unobserved_past_samples_are_valued_at_spot() -> None:
    # 10 s to close but only 40 of 60 samples seen: the 10 late ones are worth spot, with no variance.
    moments = average_moments(SPOT, 10.0, 4.0, observed_sum=40 * SPOT, observed_count=40)
    exact = average_moments(SPOT, 10.0, 4.0, observed_sum=50 * SPOT, observed_count=50)
    assert moments.mean == pytest.approx(SPOT)
    assert moments.sd == pytest.approx(exact.sd)


def test_bad_inputs_raise() -> None:
    with pytest.raises(ValueError):
        fair_value(SPOT, SPOT, 30.0, 5.0, observed_count=61)
    with pytest.raises(ValueError):
        fair_value(SPOT, SPOT, -1.0, 5.0)
    with pytest.raises(ValueError):
        fair_value(SPOT, SPOT, 30.0, 5.0, strike_type="above")  # type: ignore[arg-type]


def test_cli_fairvalue_json_and_vol_units() -> None:
    runner = CliRunner()
    args = ["fairvalue", "--spot", "80000", "--strike", "80050", "--seconds-to-close", "300", "--json"]
    annual = runner.invoke(cli, [*args, "--vol", "0.5"])
    assert annual.exit_code == 0, annual.output
    data = json.loads(annual.output)
    sigma = dollar_vol(80_000, per_second_vol(0.5))
    assert data["probability"] == pytest.approx(fair_value(80_000, 80_050, 300, sigma))
    assert data["inputs"]["dollar_vol_per_sqrt_second"] == pytest.approx(sigma)
    dollar = runner.invoke(cli, [*args, "--vol", str(sigma), "--vol-unit", "dollar"])
    assert json.loads(dollar.output)["probability"] == pytest.approx(data["probability"])
    text = runner.invoke(
        cli, [*args[:-1], "--vol", "0.5", "--observed-sum", str(30 * 80_040), "--observed-count", "30"]
    )
    assert text.exit_code == 0
    assert "P(YES)" in text.output and "annualised log" in text.output
    bad = runner.invoke(cli, [*args, "--vol", "0.5", "--strike-type", "between"])
    assert bad.exit_code == 2
    assert math.isfinite(data["probability_lognormal"])
