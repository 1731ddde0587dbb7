"""Scores of three forecasts on one set of moments: Brier score, log loss, reliability, by time to close.

Every score is a mean over moments (the protocol's ``brier_score``/``log_loss`` of
``kxbtc.pricing.calibrate``, probabilities clipped to the finest Kalshi price for the log loss); its
interval and the intervals of the differences to the market come from ``MarketBootstrap``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
from numpy.typing import NDArray

from kxbtc.pricing.calibration_scores import (
    PROBABILITY_CLIP,
    brier_score,
    log_loss,
    reliability_table,
    wilson_interval,
)
from kxbtc.research.bootstrap import MarketBootstrap

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

FORECASTS = ("model", "market", "blend")
#: Differences reported with intervals: negative = the first forecast scores better than the market.
DIFFERENCES = (("model", "market"), ("blend", "market"))
DEFAULT_TTC_EDGES_MIN = (0.0, 1.0, 3.0, 6.0, 10.0, 15.0)
RELIABILITY_BINS = 10


@dataclass(frozen=True, slots=True)
class ScoredMoments:
    """Parallel arrays, one entry per moment; ``group`` indexes the moment's market."""

    forecasts: dict[str, FloatArray]
    outcome: FloatArray
    seconds_to_close: FloatArray
    group: IntArray

    def __len__(self) -> int:
        return int(self.outcome.size)

    def subset(self, mask: NDArray[np.bool_]) -> ScoredMoments:
        return ScoredMoments(
            {k: v[mask] for k, v in self.forecasts.items()},
            self.outcome[mask],
            self.seconds_to_close[mask],
            self.group[mask],
        )


def brier_terms(p: FloatArray, y: FloatArray) -> FloatArray:
    return np.asarray((p - y) ** 2, dtype=np.float64)


def log_loss_terms(p: FloatArray, y: FloatArray) -> FloatArray:
    q = np.clip(p, PROBABILITY_CLIP, 1 - PROBABILITY_CLIP)
    return np.asarray(-(y * np.log(q) + (1 - y) * np.log(1 - q)), dtype=np.float64)


def _interval(value: tuple[float, float] | None) -> list[float] | None:
    return None if value is None else [value[0], value[1]]


def scores(data: ScoredMoments, boot: MarketBootstrap) -> dict[str, object]:
    """n, markets, Brier and log loss of each forecast, with intervals and differences to the market."""
    y = data.outcome
    out: dict[str, object] = {"n": len(data), "markets": int(np.unique(data.group).size)}
    if not len(data):
        empty = dict.fromkeys(FORECASTS)
        return {**out, "brier": empty, "log_loss": empty, "intervals": None}
    intervals: dict[str, dict[str, list[float] | None]] = {}
    for name, point, terms in (
        ("brier", brier_score, brier_terms),
        ("log_loss", log_loss, log_loss_terms),
    ):
        per = {k: terms(p, y) for k, p in data.forecasts.items()}
        values = {k: point(data.forecasts[k], y) for k in FORECASTS}
        ranges = {k: _interval(boot.interval(data.group, per[k])) for k in FORECASTS}
        for a, b in DIFFERENCES:
            values[f"{a}_minus_{b}"] = float(np.mean(per[a] - per[b]))
            ranges[f"{a}_minus_{b}"] = _interval(boot.interval(data.group, per[a] - per[b]))
        out[name] = values
        intervals[name] = ranges
    out["intervals"] = intervals
    return out


def bucket_label(low: float, high: float) -> str:
    return f"{low:g}-{high:g}"


def by_time_to_close(
    data: ScoredMoments, boot: MarketBootstrap, edges_min: Sequence[float] = DEFAULT_TTC_EDGES_MIN
) -> list[dict[str, object]]:
    """Scores per bucket of minutes to close, each bucket (low, high]."""
    minutes = data.seconds_to_close / 60
    out = []
    for low, high in pairwise(edges_min):
        part = data.subset((minutes > low) & (minutes <= high))
        out.append({"minutes_to_close": bucket_label(low, high), **scores(part, boot)})
    return out


def reliability(data: ScoredMoments, bins: int = RELIABILITY_BINS) -> dict[str, list[dict[str, object]]]:
    """Per forecast and bin of its probability: mean forecast, observed frequency of YES, count, and the
    Wilson interval of that frequency. Intervals treat moments as independent, which they are not
    (several moments share a market's outcome): read them as a lower bound on the uncertainty."""
    out: dict[str, list[dict[str, object]]] = {}
    for name in FORECASTS:
        rows = []
        for b in reliability_table(data.forecasts[name], data.outcome, bins):
            ci = wilson_interval((b.observed or 0.0) * b.n, b.n)
            rows.append(
                {
                    "bin": bucket_label(b.lower, b.upper),
                    "n": b.n,
                    "mean_forecast": b.mean_predicted,
                    "observed": b.observed,
                    "interval": _interval(ci),
                }
            )
        out[name] = rows
    return out
