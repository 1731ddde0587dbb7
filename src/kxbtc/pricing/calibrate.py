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
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from kxbtc.errors import ConfigError
from kxbtc.pricing.fair_value import probability_from_moments_array
from kxbtc.pricing.volatility import MINUTES_PER_YEAR, ewma_series, parkinson_variance

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

HISTORY_MINUTES = 240
WINDOW_MINUTES = 15
DEFAULT_HORIZONS = (14, 10, 5, 2)
PROBABILITY_CLIP = 1e-4
RELIABILITY_BUCKETS = 10
REQUIRED_COLUMNS = ("open_time", "open", "high", "low", "close")
#: Exact variance of OHLC/4 of a Brownian minute about its open, in units of the minute's variance.
OHLC4_VARIANCE = (7 - 4 * math.log(2)) / 16


class CandleFileError(ConfigError):
    """The candle file cannot be used: the message names the line (1 = header) when there is one."""

    def __init__(self, message: str, *, line: int | None = None, path: str = "") -> None:
        where = f"{path}:" if path else ""
        where += f"line {line}: " if line is not None else (" " if path else "")
        super().__init__(f"{where}{message}")
        self.line = line
        self.path = path


@dataclass(frozen=True, slots=True)
class Candles:
    """One-minute candles sorted by open time (epoch seconds), without duplicates."""

    times: IntArray
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray

    def __len__(self) -> int:
        return int(self.times.size)


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


@dataclass(frozen=True, slots=True)
class SkippedWindow:
    start: int  # epoch seconds of the window's open
    reason: str


@dataclass(frozen=True, slots=True)
class HorizonScore:
    brier: float
    log_loss: float
    n: int


@dataclass(frozen=True, slots=True)
class ReliabilityBucket:
    lower: float
    upper: float
    n: int
    mean_predicted: float | None
    observed: float | None


@dataclass(frozen=True, slots=True)
class CalibrationReport:
    model: str
    brier: float
    log_loss: float
    n: int
    windows: int
    per_horizon: dict[int, HorizonScore]
    reliability: list[ReliabilityBucket]
    skipped: list[SkippedWindow] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {
            "model": self.model,
            "brier": self.brier,
            "log_loss": self.log_loss,
            "n": self.n,
            "windows": self.windows,
            "per_horizon": {
                str(h): {"brier": s.brier, "log_loss": s.log_loss, "n": s.n}
                for h, s in self.per_horizon.items()
            },
            "reliability": [
                {
                    "lower": b.lower,
                    "upper": b.upper,
                    "n": b.n,
                    "mean_predicted": b.mean_predicted,
                    "observed": b.observed,
                }
                for b in self.reliability
            ],
            "skipped": [{"window_start": iso_minute(s.start), "reason": s.reason} for s in self.skipped],
        }


Progress = Callable[[int, int], None]


def iso_minute(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M")


# ---------------------------------------------------------------------------------------------
# Loading


def _parse_time(text: str, line: int, path: str) -> int:
    raw = text.strip()
    try:
        if raw.isdigit():
            value = int(raw)
            return value // 1000 if value > 10**11 else value  # epoch milliseconds or seconds
        stamp = datetime.fromisoformat(raw)
    except ValueError:
        raise CandleFileError(f"open_time {text!r} is not a timestamp", line=line, path=path) from None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)  # the protocol is in UTC; naive times are read as UTC
    return int(stamp.timestamp())


def _parse_price(text: str, column: str, line: int, path: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise CandleFileError(f"{column} {text!r} is not a number", line=line, path=path) from None
    if not math.isfinite(value) or value <= 0:
        raise CandleFileError(f"{column} {text!r} is not a positive finite price", line=line, path=path)
    return value


def load_candles(path: str | Path, progress: Progress | None = None) -> Candles:
    """Read ``open_time,open,high,low,close[,volume]`` rows; raise CandleFileError naming the bad line."""
    name = str(path)
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError) as exc:
        raise CandleFileError(f"cannot read the file: {exc}", path=name) from exc
    if not rows:
        raise CandleFileError("the file is empty", path=name)
    header = [h.strip().lower() for h in rows[0]]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise CandleFileError(f"header lacks column(s) {', '.join(missing)}", line=1, path=name)
    cols = [header.index(c) for c in REQUIRED_COLUMNS]
    n = len(rows) - 1
    times = np.empty(n, dtype=np.int64)
    prices = np.empty((4, n), dtype=np.float64)
    count = 0
    for line, row in enumerate(rows[1:], start=2):
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) < len(header):
            raise CandleFileError(f"expected {len(header)} columns, found {len(row)}", line=line, path=name)
        t = _parse_time(row[cols[0]], line, name)
        if t % 60:
            raise CandleFileError(
                f"open_time {row[cols[0]]!r} is not on a whole minute", line=line, path=name
            )
        if count and t <= times[count - 1]:
            what = "duplicates" if t == times[count - 1] else "is earlier than"
            raise CandleFileError(
                f"open_time {row[cols[0]]!r} {what} the previous row's; "
                "rows must be sorted by time, one per minute",
                line=line,
                path=name,
            )
        o, h, lo, c = (
            _parse_price(row[i], col, line, name)
            for i, col in zip(cols[1:], REQUIRED_COLUMNS[1:], strict=True)
        )
        if h < max(o, c, lo) or lo > min(o, c):
            raise CandleFileError("high/low do not bracket open and close", line=line, path=name)
        times[count] = t
        prices[:, count] = (o, h, lo, c)
        count += 1
        if progress is not None and count % 5000 == 0:
            progress(count, n)
    if count == 0:
        raise CandleFileError("no candle rows after the header", path=name)
    return Candles(times[:count], prices[0, :count], prices[1, :count], prices[2, :count], prices[3, :count])


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


@dataclass(frozen=True, slots=True)
class Predictions:
    probability: FloatArray
    outcome: FloatArray
    horizon: IntArray


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


# ---------------------------------------------------------------------------------------------
# Scores


def brier_score(p: FloatArray, y: FloatArray) -> float:
    return float(np.mean((p - y) ** 2))


def log_loss(p: FloatArray, y: FloatArray) -> float:
    q = np.clip(p, PROBABILITY_CLIP, 1 - PROBABILITY_CLIP)
    return float(-np.mean(y * np.log(q) + (1 - y) * np.log(1 - q)))


def reliability_table(
    p: FloatArray, y: FloatArray, buckets: int = RELIABILITY_BUCKETS
) -> list[ReliabilityBucket]:
    index = np.minimum((p * buckets).astype(np.int64), buckets - 1)
    table = []
    for b in range(buckets):
        mask = index == b
        n = int(mask.sum())
        table.append(
            ReliabilityBucket(
                b / buckets,
                (b + 1) / buckets,
                n,
                float(p[mask].mean()) if n else None,
                float(y[mask].mean()) if n else None,
            )
        )
    return table


def score(predictions: Predictions, model: str, skipped: list[SkippedWindow]) -> CalibrationReport:
    p, y, hz = predictions.probability, predictions.outcome, predictions.horizon
    per_horizon = {}
    for h in dict.fromkeys(hz.tolist()):
        mask = hz == h
        per_horizon[int(h)] = HorizonScore(
            brier_score(p[mask], y[mask]), log_loss(p[mask], y[mask]), int(mask.sum())
        )
    windows = int(p.size // max(len(per_horizon), 1))
    return CalibrationReport(
        model,
        brier_score(p, y),
        log_loss(p, y),
        int(p.size),
        windows,
        per_horizon,
        reliability_table(p, y),
        skipped,
    )


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
