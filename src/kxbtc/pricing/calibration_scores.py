"""Scoring calibration predictions: Brier score, log loss, per-horizon scores, the reliability table and
the report that carries them (with the windows left out and why)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from kxbtc.pricing.candle_file import FloatArray, IntArray

PROBABILITY_CLIP = 1e-4
RELIABILITY_BUCKETS = 10
#: The two-sided 95 % normal quantile.
Z95 = 1.959963984540054


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
    #: Every scored forecast (for plots); not part of the JSON.
    predictions: Predictions | None = field(default=None, repr=False, compare=False)

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


def iso_minute(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M")


@dataclass(frozen=True, slots=True)
class Predictions:
    probability: FloatArray
    outcome: FloatArray
    horizon: IntArray


def wilson_interval(successes: float, n: int) -> tuple[float, float] | None:
    """95 % Wilson score interval of a binomial proportion (sane at 0 and n, unlike the normal one)."""
    if n == 0:
        return None
    p = successes / n
    centre = (p + Z95**2 / (2 * n)) / (1 + Z95**2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / (1 + Z95**2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


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
        predictions,
    )
