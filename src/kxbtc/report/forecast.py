"""Forecast reliability: the decisions' ``p_yes`` against how their markets settled.

Every recorded decision whose inputs carry a probability ``p_yes`` in [0, 1], in a market that settled
YES or NO, is one forecast. The reliability table bins them by ``p_yes`` (``kxbtc.pricing.calibrate``'s
table, the one ``kxbtc calibrate`` prints) with each bin's Wilson interval; the Brier score sits beside
the Brier score of always forecasting the observed base rate, the bar a useful forecast must clear.

Forecasts in one market share its outcome, and decisions are recorded more often where the strategy
wanted to trade, so the bins' intervals (which treat forecasts as independent) are too narrow: read them
as the least uncertainty there is. The number of markets is shown for that reason.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from kxbtc.pricing.calibration_scores import brier_score, reliability_table, wilson_interval
from kxbtc.report.queries import DecisionInputs
from kxbtc.store.records import SettlementRecord

RELIABILITY_BINS = 10


@dataclass(frozen=True, slots=True)
class ReliabilityBin:
    lower: float
    upper: float
    n: int
    mean_forecast: float | None
    observed: float | None
    interval: tuple[float, float] | None  # Wilson 95 % of ``observed``


@dataclass(frozen=True, slots=True)
class ForecastReliability:
    forecasts: int
    markets: int
    base_rate: float | None  # share of forecasts whose market settled YES
    brier: float | None
    brier_base_rate: float | None  # Brier of forecasting ``base_rate`` every time
    bins: list[ReliabilityBin]


def forecast_reliability(
    decisions: Iterable[DecisionInputs], settlements: Iterable[SettlementRecord]
) -> ForecastReliability:
    outcome = {s.ticker: s.result == "yes" for s in settlements if s.result in ("yes", "no")}
    probabilities: list[float] = []
    results: list[float] = []
    tickers: set[str] = set()
    for d in decisions:
        p = d.inputs.get("p_yes")
        if d.ticker not in outcome or not isinstance(p, int | float) or isinstance(p, bool):
            continue
        if not 0.0 <= p <= 1.0:
            continue
        probabilities.append(float(p))
        results.append(1.0 if outcome[d.ticker] else 0.0)
        tickers.add(d.ticker)
    if not probabilities:
        return ForecastReliability(0, 0, None, None, None, [])
    p_arr, y_arr = np.asarray(probabilities), np.asarray(results)
    base = float(y_arr.mean())
    bins = [
        ReliabilityBin(
            b.lower,
            b.upper,
            b.n,
            b.mean_predicted,
            b.observed,
            wilson_interval((b.observed or 0.0) * b.n, b.n),
        )
        for b in reliability_table(p_arr, y_arr, RELIABILITY_BINS)
    ]
    return ForecastReliability(
        forecasts=len(probabilities),
        markets=len(tickers),
        base_rate=base,
        brier=brier_score(p_arr, y_arr),
        brier_base_rate=base * (1 - base),
        bins=bins,
    )
