"""Score the fair-value model on one-minute candles with the protocol of shared/data/README.md.

Protocol (kept fixed so that versions compare):
- 15-minute windows aligned to the quarter hour in UTC; strike K = close of the candle just before the window;
  settlement = (O + H + L + C) / 4 of the window's last candle; YES iff settlement ≥ K.
- At h minutes before close the model sees only closed candles: spot = close of the candle that closed at
  close − h, and volatility from that candle and earlier ones.
- A window needs 240 minutes of candles before it opens; windows with missing minutes are skipped, with
  the reason reported.
- Brier score and log loss (probabilities clipped to [1e-4, 1 − 1e-4], the finest price on Kalshi's grid)
  over all (window, h) pairs, per h, and a 10-bucket reliability table.

The candles are one exchange's trades at one-minute resolution, so the real-time model is mapped onto the
protocol: the settlement stand-in is OHLC/4 of the last minute, not a 60-sample average. For a Brownian path
over that minute, Var[(O + H + L + C)/4 − O] = σ² (7 − 4 ln 2) / 16 ≈ 0.264 σ² (E[M²] = E[m²] = 1,
E[Mm] = 1 − 2 ln 2, E[M W₁] = E[m W₁] = ½ for the max M and min m of a standard path on [0, 1]),
so seen from spot h minutes before close the settlement has variance σ² (h − 1 + 0.264) per-minute units.

Loading the candle file is ``kxbtc.pricing.candle_file``; scoring is ``kxbtc.pricing.calibration_scores``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from kxbtc.pricing.calibration_scores import (
    CalibrationReport,
    Predictions,
    SkippedWindow,
    iso_minute,
    score,
)
from kxbtc.pricing.candle_file import CandleFileError, Candles, FloatArray, Progress
from kxbtc.pricing.fair_value import probability_from_moments_array
from kxbtc.pricing.volatility import MINUTES_PER_YEAR, ewma_series, parkinson_variance

HISTORY_MINUTES = 240
WINDOW_MINUTES = 15
DEFAULT_HORIZONS = (14, 10, 5, 2)
#: Exact variance of OHLC/4 of a Brownian minute about its open, in units of the minute's variance.
OHLC4_VARIANCE = (7 - 4 * math.log(2)) / 16


@dataclass(frozen=True, slots=True)
class CalibrationModel:
    """How the calibration turns past candles into a probability.

    ``estimator``: "mean" = mean of squared 1-minute log returns over ``window`` minutes; "ewma" = EWMA with
    ``half_life`` minutes of the per-candle average of the squared return and the Parkinson range variance.
    ``settle_offset``: the settlement's variance, seen from spot h minutes before close, is
    σ² (h − 1 + settle_offset). ``tail_df``: Student-t degrees of freedom (None = normal).
    """

    name: str
    estimator: str
    window: int = HISTORY_MINUTES
    half_life: float = 15.0
    settle_offset: float = OHLC4_VARIANCE
    tail_df: float | None = None
    vol_floor_annual: float = 0.0


#: The README's baseline: zero-drift ABM, per-minute variance = mean squared 1-min log return over the
#: trailing 240 minutes, settlement treated as the continuous average of the last minute (h − 2/3).
BASELINE = CalibrationModel("baseline", "mean", settle_offset=1 / 3)

#: The default: EWMA (half-life 15 min, the forecast horizon) of close-to-close and range variance; the
#: exact OHLC/4 settlement variance; Student-t(6) tails; a 10 % annualised vol floor.
DEFAULT = CalibrationModel("default", "ewma", half_life=15.0, tail_df=6.0, vol_floor_annual=0.10)

MODELS = {m.name: m for m in (BASELINE, DEFAULT)}

# ---------------------------------------------------------------------------------------------
# Windows


def plan_windows(candles: Candles, history: int = HISTORY_MINUTES) -> tuple[list[int], list[SkippedWindow]]:
    """Row index of each scorable window's first candle, and the windows skipped with their reason."""
    times = candles.times
    step = WINDOW_MINUTES * 60
    first_open = -(-int(times[0]) // step) * step
    position = {int(t): i for i, t in enumerate(times.tolist())}
    usable: list[int] = []
    skipped: list[SkippedWindow] = []
    for start in range(first_open, int(times[-1]) + 60, step):
        end = start + (WINDOW_MINUTES - 1) * 60  # open time of the window's last candle
        if end > times[-1]:
            skipped.append(SkippedWindow(start, "window runs past the end of the file"))
            continue
        if start - history * 60 < times[0]:
            skipped.append(SkippedWindow(start, f"fewer than {history} minutes of history before the open"))
            continue
        lo, hi = start - history * 60, end
        i_lo, i_hi = position.get(lo), position.get(hi)
        if i_lo is not None and i_hi is not None and i_hi - i_lo == (hi - lo) // 60:
            usable.append(position[start])
            continue
        present = set(times[np.searchsorted(times, lo) : np.searchsorted(times, hi, side="right")].tolist())
        gaps = [t for t in range(lo, hi + 60, 60) if t not in present]
        shown = ", ".join(iso_minute(t) for t in gaps[:3]) + (
            f" and {len(gaps) - 3} more" if len(gaps) > 3 else ""
        )
        place = "in the window" if gaps[-1] >= start else "in the 240-minute history"
        skipped.append(SkippedWindow(start, f"{len(gaps)} missing minute(s) {place}: {shown}"))
    return usable, skipped


# ---------------------------------------------------------------------------------------------
# Models


def per_minute_variance(candles: Candles, model: CalibrationModel) -> FloatArray:
    """Element j: the per-minute log variance the model uses when candle j is the latest closed one."""
    c = candles.close
    minutes = np.diff(candles.times) / 60.0
    # Returns across a gap are scaled to one minute so a missing minute does not count as a jump.
    r2 = np.concatenate([[np.nan], np.diff(np.log(c)) ** 2 / minutes])
    if model.estimator == "mean":
        filled = np.nan_to_num(r2)
        sums = np.concatenate([[0.0], np.cumsum(filled)])
        out = np.full(c.size, np.nan)
        w = model.window
        out[w:] = (sums[w + 1 :] - sums[1 : c.size - w + 1]) / w
    elif model.estimator == "ewma":
        per_candle = 0.5 * (np.nan_to_num(r2, nan=0.0) + parkinson_variance(candles.high, candles.low))
        per_candle[0] = parkinson_variance(candles.high[:1], candles.low[:1])[0]
        out = ewma_series(per_candle, model.half_life, initial=float(per_candle[0]))
    else:
        raise ValueError(f"unknown estimator {model.estimator!r}")
    floor = model.vol_floor_annual**2 / MINUTES_PER_YEAR
    return np.asarray(np.maximum(out, floor), dtype=np.float64)


def predict(
    candles: Candles,
    window_rows: Sequence[int],
    horizons: Sequence[int] = DEFAULT_HORIZONS,
    model: CalibrationModel = DEFAULT,
    progress: Progress | None = None,
) -> Predictions:
    """Probabilities for every (window, horizon) pair, seeing only candles closed by then."""
    for h in horizons:
        if not 1 <= h <= WINDOW_MINUTES - 1:
            raise ValueError(f"horizon {h} must be between 1 and {WINDOW_MINUTES - 1} minutes")
    variance = per_minute_variance(candles, model)
    starts = np.asarray(window_rows, dtype=np.int64)
    strike = candles.close[starts - 1]
    last = starts + WINDOW_MINUTES - 1
    settle = (candles.open[last] + candles.high[last] + candles.low[last] + candles.close[last]) / 4
    outcome = (settle >= strike).astype(np.float64)
    probs, outs, hors = [], [], []
    for done, h in enumerate(horizons, start=1):
        seen = starts + WINDOW_MINUTES - h - 1  # the last candle closed h minutes before the close
        spot = candles.close[seen]
        sd = spot * np.sqrt(variance[seen] * (h - 1 + model.settle_offset))
        probs.append(
            probability_from_moments_array(spot, sd, strike, settlement_tick=0.0, tail_df=model.tail_df)
        )
        outs.append(outcome)
        hors.append(np.full(starts.size, h, dtype=np.int64))
        if progress is not None:
            progress(done, len(horizons))
    return Predictions(np.concatenate(probs), np.concatenate(outs), np.concatenate(hors))


def calibrate(
    candles: Candles,
    horizons: Sequence[int] = DEFAULT_HORIZONS,
    model: CalibrationModel = DEFAULT,
    progress: Progress | None = None,
) -> CalibrationReport:
    """Run the protocol on ``candles``; raise CandleFileError when no window can be scored."""
    rows, skipped = plan_windows(candles)
    if not rows:
        reasons = sorted({s.reason for s in skipped})[:3]
        raise CandleFileError("no window can be scored: " + "; ".join(reasons))
    predictions = predict(candles, rows, horizons, model, progress)
    return score(predictions, model.name, skipped)
