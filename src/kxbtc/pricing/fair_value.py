"""Fair value of Kalshi BTC contracts that settle on a 60-sample average of the index.

The settlement value is A = (1/60) Σ S(t_i), t_i = close − 60 + i seconds (i = 1…60), i.e. the window
(close − 60 s, close], rounded to $0.01. Under arithmetic Brownian motion dS = μ dt + σ$ dW the average is
exactly normal, with (settlement-and-pricing.md §4.1, checked in errata Part 3 §1):

    E[A]   = (Σ_obs + Σ_{i unobserved} (P + μ d_i)) / N
    Var[A] = σ$² / N² · Σ_i Σ_j min(d_i, d_j)           (d_i = t_i − now, unobserved samples only)

σ$ is a *dollar* volatility per √second (spot × log vol, errata item 4). The unobserved samples are the last
``60 − observed_count`` sample times; one whose time has passed but has not been seen yet is valued at spot
(offset clamped to 0), which is what a lagging feed delivers.

Rounding: YES on ``greater_or_equal`` means round(A) ≥ K, i.e. A ≥ K − tick/2 (half-up), on ``greater``
A ≥ K + tick/2; ``between`` is inclusive at both ends (errata Part 3 G2).

``tail_df`` swaps the normal for a Student-t with the same variance: a variance mixture that stands for
volatility-of-volatility and jumps, which the calibration on real candles supports.

The lognormal (Turnbull–Wakeman/Levy moment matching) version is a cross-check, not the main model.
"""

from __future__ import annotations

import math
from typing import Literal, get_args

import msgspec
import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import cython_special, ndtr, stdtr

N_SAMPLES = 60
SETTLEMENT_TICK = 0.01

StrikeType = Literal["greater", "greater_or_equal", "less", "less_or_equal", "between"]
STRIKE_TYPES: tuple[str, ...] = get_args(StrikeType)

FloatArray = NDArray[np.float64]


class AverageMoments(msgspec.Struct, frozen=True):  # built per evaluation: in C
    """Mean and standard deviation of the settlement average, in dollars."""

    mean: float
    sd: float


def _check_strike_type(strike_type: str, cap: object) -> None:
    if strike_type not in STRIKE_TYPES:
        raise ValueError(f"unknown strike_type {strike_type!r}; expected one of {', '.join(STRIKE_TYPES)}")
    if strike_type == "between" and cap is None:
        raise ValueError("strike_type 'between' needs a cap")


def _remaining_offsets(seconds_to_close: float, observed_count: int) -> tuple[int, float, int]:
    """(unobserved samples m, first positive offset a, samples with a positive offset m')."""
    if not 0 <= observed_count <= N_SAMPLES:
        raise ValueError(f"observed_count must be in 0..{N_SAMPLES}, got {observed_count}")
    if seconds_to_close < 0:
        raise ValueError(f"seconds_to_close must be >= 0, got {seconds_to_close}")
    m = N_SAMPLES - observed_count
    first = seconds_to_close - m + 1  # offset of the earliest unobserved sample
    clamped = min(m, math.floor(-first) + 1) if first <= 0 else 0
    return m, first + clamped, m - clamped


def _offset_sums(a: float, m: int) -> tuple[float, float]:
    """Σ d and Σ_i Σ_j min(d_i, d_j) for the m offsets a, a+1, …, a+m−1 (closed forms)."""
    sum_d = m * a + m * (m - 1) / 2
    sum_min = a * m * m + (2 * m - 1) * m * (m - 1) / 6
    return sum_d, sum_min


def average_moments(
    spot: float,
    seconds_to_close: float,
    dollar_vol: float,
    *,
    observed_sum: float = 0.0,
    observed_count: int = 0,
    drift: float = 0.0,
) -> AverageMoments:
    """Exact ABM mean and sd of the 60-sample settlement average seen from now."""
    if dollar_vol < 0:
        raise ValueError(f"dollar_vol must be >= 0, got {dollar_vol}")
    m, a, m_pos = _remaining_offsets(seconds_to_close, observed_count)
    sum_d, sum_min = _offset_sums(a, m_pos)
    mean = (observed_sum + m * spot + drift * sum_d) / N_SAMPLES
    sd = dollar_vol * math.sqrt(sum_min) / N_SAMPLES
    return AverageMoments(mean, sd)


def _prob_above(threshold: float, mean: float, sd: float, tail_df: float | None) -> float:
    """P(A ≥ threshold) for A with the given mean and sd (normal, or variance-matched Student-t)."""
    if sd <= 0.0:
        return 1.0 if mean >= threshold else 0.0
    z = (mean - threshold) / sd
    if tail_df is None:
        return 0.5 * math.erfc(-z / math.sqrt(2.0))
    # The scalar entry point of the same function as the ``stdtr`` ufunc (same result to the bit, tested),
    # without the ufunc's array machinery: 0.27 us a call against 1.2 us, twice per evaluation.
    return float(cython_special.stdtr(tail_df, z * math.sqrt(tail_df / (tail_df - 2.0))))


def _thresholds(strike: float, cap: float | None, strike_type: str, tick: float) -> tuple[float, float]:
    """YES iff lower <= A < upper, with the half-tick rounding correction applied."""
    half = tick / 2
    if strike_type == "greater_or_equal":
        return strike - half, math.inf
    if strike_type == "greater":
        return strike + half, math.inf
    if strike_type == "less":
        return -math.inf, strike - half
    if strike_type == "less_or_equal":
        return -math.inf, strike + half
    assert cap is not None
    return strike - half, cap + half


def probability_from_moments(
    mean: float,
    sd: float,
    strike: float,
    *,
    strike_type: StrikeType = "greater_or_equal",
    cap: float | None = None,
    settlement_tick: float = SETTLEMENT_TICK,
    tail_df: float | None = None,
) -> float:
    """P(YES) for a settlement value with this mean and sd."""
    _check_strike_type(strike_type, cap)
    if tail_df is not None and tail_df <= 2:
        raise ValueError("tail_df must be > 2 (the variance must exist)")
    lower, upper = _thresholds(strike, cap, strike_type, settlement_tick)
    p_lower = _prob_above(lower, mean, sd, tail_df) if lower > -math.inf else 1.0
    p_upper = _prob_above(upper, mean, sd, tail_df) if upper < math.inf else 0.0
    return min(1.0, max(0.0, p_lower - p_upper))


def fair_value(
    spot: float,
    strike: float,
    seconds_to_close: float,
    dollar_vol: float,
    *,
    strike_type: StrikeType = "greater_or_equal",
    cap: float | None = None,
    observed_sum: float = 0.0,
    observed_count: int = 0,
    drift: float = 0.0,
    settlement_tick: float = SETTLEMENT_TICK,
    tail_df: float | None = None,
) -> float:
    """P(YES) under ABM for one market.

    ``dollar_vol`` is σ$ in dollars per √second (see ``volatility.dollar_vol``); ``drift`` is in dollars per
    second; ``observed_sum``/``observed_count`` are the window's samples already published (Σ_obs = value ×
    window_size from ``last_60s_windowed_average_15min``); ``cap`` is the upper end of a ``between`` market.
    """
    moments = average_moments(
        spot,
        seconds_to_close,
        dollar_vol,
        observed_sum=observed_sum,
        observed_count=observed_count,
        drift=drift,
    )
    return probability_from_moments(
        moments.mean,
        moments.sd,
        strike,
        strike_type=strike_type,
        cap=cap,
        settlement_tick=settlement_tick,
        tail_df=tail_df,
    )


# ---------------------------------------------------------------------------------------------
# Vectorised: the same maths over numpy arrays (broadcast together).


def average_moments_array(
    spot: ArrayLike,
    seconds_to_close: ArrayLike,
    dollar_vol: ArrayLike,
    *,
    observed_sum: ArrayLike = 0.0,
    observed_count: ArrayLike = 0,
    drift: ArrayLike = 0.0,
) -> tuple[FloatArray, FloatArray]:
    """Arrays of (mean, sd) of the settlement average; see ``average_moments``."""
    p = np.asarray(spot, dtype=np.float64)
    t = np.asarray(seconds_to_close, dtype=np.float64)
    vol = np.asarray(dollar_vol, dtype=np.float64)
    k = np.asarray(observed_count, dtype=np.float64)
    if np.any(t < 0) or np.any(vol < 0) or np.any((k < 0) | (k > N_SAMPLES)):
        raise ValueError("seconds_to_close and dollar_vol must be >= 0 and observed_count in 0..60")
    m = N_SAMPLES - k
    first = t - m + 1
    clamped = np.where(first <= 0, np.minimum(m, np.floor(-first) + 1), 0.0)
    a = first + clamped
    m_pos = m - clamped
    sum_d = m_pos * a + m_pos * (m_pos - 1) / 2
    sum_min = a * m_pos * m_pos + (2 * m_pos - 1) * m_pos * (m_pos - 1) / 6
    mean = (np.asarray(observed_sum, dtype=np.float64) + m * p + np.asarray(drift) * sum_d) / N_SAMPLES
    sd = vol * np.sqrt(np.maximum(sum_min, 0.0)) / N_SAMPLES
    return np.asarray(mean, dtype=np.float64), np.asarray(sd, dtype=np.float64)


def _prob_above_array(
    threshold: FloatArray, mean: FloatArray, sd: FloatArray, tail_df: float | None
) -> FloatArray:
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (mean - threshold) / sd
    p = ndtr(z) if tail_df is None else stdtr(tail_df, z * math.sqrt(tail_df / (tail_df - 2.0)))
    # A known settlement (sd = 0) is a step; ±inf thresholds give 1 or 0 through z = ±inf.
    step = np.where(mean >= threshold, 1.0, 0.0)
    return np.asarray(np.where(sd > 0, p, step), dtype=np.float64)


def probability_from_moments_array(
    mean: ArrayLike,
    sd: ArrayLike,
    strike: ArrayLike,
    *,
    strike_type: StrikeType = "greater_or_equal",
    cap: ArrayLike | None = None,
    settlement_tick: float = SETTLEMENT_TICK,
    tail_df: float | None = None,
) -> FloatArray:
    """Vectorised ``probability_from_moments``."""
    _check_strike_type(strike_type, cap)
    if tail_df is not None and tail_df <= 2:
        raise ValueError("tail_df must be > 2 (the variance must exist)")
    mu = np.asarray(mean, dtype=np.float64)
    s = np.asarray(sd, dtype=np.float64)
    k = np.asarray(strike, dtype=np.float64)
    half = settlement_tick / 2
    if strike_type == "greater_or_equal":
        out = _prob_above_array(k - half, mu, s, tail_df)
    elif strike_type == "greater":
        out = _prob_above_array(k + half, mu, s, tail_df)
    elif strike_type == "less":
        out = 1.0 - _prob_above_array(k - half, mu, s, tail_df)
    elif strike_type == "less_or_equal":
        out = 1.0 - _prob_above_array(k + half, mu, s, tail_df)
    else:
        c = np.asarray(cap, dtype=np.float64)
        out = _prob_above_array(k - half, mu, s, tail_df) - _prob_above_array(c + half, mu, s, tail_df)
    return np.asarray(np.clip(out, 0.0, 1.0), dtype=np.float64)


def fair_value_array(
    spot: ArrayLike,
    strike: ArrayLike,
    seconds_to_close: ArrayLike,
    dollar_vol: ArrayLike,
    *,
    strike_type: StrikeType = "greater_or_equal",
    cap: ArrayLike | None = None,
    observed_sum: ArrayLike = 0.0,
    observed_count: ArrayLike = 0,
    drift: ArrayLike = 0.0,
    settlement_tick: float = SETTLEMENT_TICK,
    tail_df: float | None = None,
) -> FloatArray:
    """Vectorised ``fair_value``: every array argument broadcasts against the others."""
    mean, sd = average_moments_array(
        spot,
        seconds_to_close,
        dollar_vol,
        observed_sum=observed_sum,
        observed_count=observed_count,
        drift=drift,
    )
    return probability_from_moments_array(
        mean, sd, strike, strike_type=strike_type, cap=cap, settlement_tick=settlement_tick, tail_df=tail_df
    )


# ---------------------------------------------------------------------------------------------
# Lognormal cross-check (Turnbull–Wakeman / Levy moment matching).


def _lognormal_prob_above(
    threshold: float,
    spot: float,
    offsets: FloatArray,
    log_vol: float,
    log_drift: float,
    observed_sum: float,
) -> float:
    """P(A ≥ threshold) with GBM for the unobserved samples and the average matched to a lognormal."""
    effective = threshold - observed_sum / N_SAMPLES
    if offsets.size == 0:
        return 1.0 if effective <= 0 else 0.0
    if effective <= 0:
        return 1.0
    forwards = spot * np.exp(log_drift * offsets)
    m1 = float(forwards.sum()) / N_SAMPLES
    if log_vol == 0:
        return 1.0 if m1 >= effective else 0.0
    mins = np.minimum.outer(offsets, offsets)
    m2 = float(np.sum(np.outer(forwards, forwards) * np.exp(log_vol**2 * mins))) / N_SAMPLES**2
    v = math.log(m2 / (m1 * m1))
    if v <= 0:
        return 1.0 if m1 >= effective else 0.0
    z = (math.log(m1 / effective) - v / 2) / math.sqrt(v)
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


def fair_value_lognormal(
    spot: float,
    strike: float,
    seconds_to_close: float,
    log_vol: float,
    *,
    strike_type: StrikeType = "greater_or_equal",
    cap: float | None = None,
    observed_sum: float = 0.0,
    observed_count: int = 0,
    drift: float = 0.0,
    settlement_tick: float = SETTLEMENT_TICK,
) -> float:
    """P(YES) under GBM (log vol per √second), for cross-checking ``fair_value``.

    ``drift`` is in dollars per second as for ``fair_value``; it becomes a log drift of drift / spot.
    """
    _check_strike_type(strike_type, cap)
    m, a, m_pos = _remaining_offsets(seconds_to_close, observed_count)
    offsets = np.concatenate([np.zeros(m - m_pos), a + np.arange(m_pos, dtype=np.float64)])
    log_drift = drift / spot
    lower, upper = _thresholds(strike, cap, strike_type, settlement_tick)

    def above(threshold: float) -> float:
        if threshold == math.inf:
            return 0.0
        if threshold == -math.inf:
            return 1.0
        return _lognormal_prob_above(threshold, spot, offsets, log_vol, log_drift, observed_sum)

    return min(1.0, max(0.0, above(lower) - above(upper)))
