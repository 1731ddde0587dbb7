"""Short-horizon volatility estimates from 1-second (or 1-minute) prices.

All estimators return a *log* variance per second (or per bar when ``dt`` is 1); ``dollar_vol`` turns a
log volatility into the dollar volatility the ABM fair value needs (errata item 4).

- EWMA of squared log returns, returns normalised by their time step so gaps do not inflate it;
  λ = 2^(−Δt/half_life).
- Realized variance, two-scale realized variance (noise-robust; Zhang, Mykland & Aït-Sahalia 2005, with the
  small-sample factor 1/(1 − n̄/n)) and bipower variation (jump-robust; Barndorff-Nielsen & Shephard 2004).
- Parkinson range variance for OHLC bars.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

SECONDS_PER_YEAR = 365 * 24 * 3600  # BTC trades 24/7
MINUTES_PER_YEAR = SECONDS_PER_YEAR // 60

FloatArray = NDArray[np.float64]


def annualise(variance_per_second: float) -> float:
    """Annualised log volatility from a log variance per second."""
    return math.sqrt(variance_per_second * SECONDS_PER_YEAR)


def per_second_vol(annual_vol: float) -> float:
    """Log volatility per √second from an annualised log volatility."""
    return annual_vol / math.sqrt(SECONDS_PER_YEAR)


def dollar_vol(spot: float, log_vol_per_sqrt_second: float) -> float:
    """σ$ = spot × σ_log: the dollar volatility per √second the ABM fair value takes."""
    return spot * log_vol_per_sqrt_second


def log_returns(prices: ArrayLike) -> FloatArray:
    p = np.asarray(prices, dtype=np.float64)
    if p.ndim != 1 or p.size < 2:
        raise ValueError("need a 1-D series of at least two prices")
    if np.any(p <= 0) or not np.all(np.isfinite(p)):
        raise ValueError("prices must be finite and positive")
    return np.asarray(np.diff(np.log(p)), dtype=np.float64)


def realized_variance(prices: ArrayLike, dt: float = 1.0) -> float:
    """Σ r² / (n·dt): log variance per unit time from equally spaced prices."""
    r = log_returns(prices)
    return float(np.sum(r * r)) / (r.size * dt)


def two_scale_realized_variance(prices: ArrayLike, dt: float = 1.0, subgrids: int = 10) -> float:
    """Two-scale RV: the average sparse RV over ``subgrids`` offset grids minus the noise bias.

    TSRV = (RV_avg − (n̄/n) RV_all) / (1 − n̄/n), per unit time; floored at 0. Needs n > ``subgrids``.
    """
    p = np.asarray(prices, dtype=np.float64)
    r = log_returns(p)
    n = r.size
    if subgrids < 2 or n <= subgrids:
        raise ValueError("two-scale RV needs more returns than subgrids (and at least 2 subgrids)")
    rv_all = float(np.sum(r * r))
    logp = np.log(p)
    rv_avg = 0.0
    for offset in range(subgrids):
        sparse = np.diff(logp[offset::subgrids])
        rv_avg += float(np.sum(sparse * sparse))
    rv_avg /= subgrids
    n_bar = (n - subgrids + 1) / subgrids
    tsrv = (rv_avg - (n_bar / n) * rv_all) / (1 - n_bar / n)
    return max(tsrv, 0.0) / (n * dt)


def bipower_variation(prices: ArrayLike, dt: float = 1.0) -> float:
    """(π/2) Σ |r_i||r_{i−1}| / ((n−1)·dt): integrated variance, robust to isolated jumps."""
    r = np.abs(log_returns(prices))
    if r.size < 2:
        raise ValueError("bipower variation needs at least three prices")
    return (math.pi / 2) * float(np.sum(r[1:] * r[:-1])) / ((r.size - 1) * dt)


def parkinson_variance(high: ArrayLike, low: ArrayLike) -> FloatArray:
    """Per-bar (ln H/L)² / (4 ln 2): a range estimate of the bar's log variance (about 5× as efficient as
    a squared close-to-close return on a continuous path; biased low when the bar has few prints)."""
    h = np.asarray(high, dtype=np.float64)
    lo = np.asarray(low, dtype=np.float64)
    return np.asarray(np.log(h / lo) ** 2 / (4 * math.log(2)), dtype=np.float64)


def ewma_series(values: ArrayLike, half_life: float, initial: float) -> FloatArray:
    """EWMA of equally spaced per-step variance estimates; element i includes values[: i + 1]."""
    x = np.asarray(values, dtype=np.float64)
    if half_life <= 0:
        raise ValueError("half_life must be > 0")
    lam = 2.0 ** (-1.0 / half_life)
    out = np.empty_like(x)
    v = initial
    for i, xi in enumerate(x.tolist()):
        v = lam * v + (1.0 - lam) * xi
        out[i] = v
    return out


@dataclass
class EwmaVariance:
    """Streaming EWMA of squared log returns per unit time, for irregularly timed prices.

    Each return is normalised by its time step (r²/Δt) and weighted by 1 − λ^Δt, so a 5-second gap counts as
    five seconds of information, not one. ``variance`` is None until two prices have been seen.
    """

    half_life: float
    variance: float | None = None
    _last_price: float | None = field(default=None, repr=False)
    _last_time: float | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.half_life <= 0:
            raise ValueError("half_life must be > 0")

    def update(self, price: float, time: float) -> float | None:
        if price <= 0 or not math.isfinite(price):
            raise ValueError(f"price must be finite and positive, got {price}")
        if self._last_price is not None and self._last_time is not None:
            dt = time - self._last_time
            if dt <= 0:
                return self.variance  # a repeated or out-of-order print carries no new time
            r = math.log(price / self._last_price)
            sample = r * r / dt
            if self.variance is None:
                self.variance = sample
            else:
                weight = 1.0 - 2.0 ** (-dt / self.half_life)
                self.variance += weight * (sample - self.variance)
        self._last_price = price
        self._last_time = time
        return self.variance

    def volatility(self) -> float | None:
        return None if self.variance is None else math.sqrt(self.variance)
