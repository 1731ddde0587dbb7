"""The calibration figure a quant asks for: reliability per horizon with binomial intervals, the forecasts'
histogram (sharpness), and the baseline's scores beside the model's.

Left: one reliability curve per horizon (minutes before close) and one for all forecasts, each bucket's
observed frequency with its 95 % Wilson interval (a bucket of 12 forecasts says little; the bar shows how
little). Right: how the forecasts spread over [0, 1], per horizon: a calibrated model that always says 0.5
is useless, and this panel shows whether it does. The title carries the model's Brier score and log loss
beside the reference baseline's on the same windows.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import numpy as np

from kxbtc.pricing.calibration_scores import CalibrationReport, reliability_table, wilson_interval

HISTOGRAM_BINS = 20


def _scores(report: CalibrationReport) -> str:
    return f"Brier {report.brier:.4f}, log loss {report.log_loss:.4f}"


def title(report: CalibrationReport, baseline: CalibrationReport | None) -> str:
    """``model default: Brier 0.1234, log loss 0.3456 | baseline: Brier ...`` (n forecasts)."""
    head = f"model {report.model}: {_scores(report)}"
    if baseline is not None and baseline is not report:
        head += f"\nbaseline: {_scores(baseline)}"
    return f"{head} (n {report.n:,})"


def _reliability(ax: Any, p: np.ndarray[Any, Any], y: np.ndarray[Any, Any], label: str, **style: Any) -> None:
    xs, ys, low, high = [], [], [], []
    for bucket in reliability_table(p, y):
        interval = wilson_interval((bucket.observed or 0.0) * bucket.n, bucket.n)
        if interval is None or bucket.mean_predicted is None or bucket.observed is None:
            continue
        xs.append(bucket.mean_predicted)
        ys.append(bucket.observed)
        # Clamped: at 0 or 1 observed, rounding can put the interval's end a hair inside the point.
        low.append(max(0.0, bucket.observed - interval[0]))
        high.append(max(0.0, interval[1] - bucket.observed))
    ax.errorbar(xs, ys, yerr=[low, high], marker="o", markersize=3, capsize=2, label=label, **style)


def write_plot(report: CalibrationReport, baseline: CalibrationReport | None, path: Path) -> None:
    """Draw the figure into ``path`` (PNG). Needs matplotlib and ``report.predictions``."""
    matplotlib = importlib.import_module("matplotlib")
    matplotlib.use("Agg")  # files only; never open a window
    plt = importlib.import_module("matplotlib.pyplot")
    predictions = report.predictions
    if predictions is None:
        raise ValueError("the report carries no predictions to plot")
    p, y, hz = predictions.probability, predictions.outcome, predictions.horizon
    horizons = sorted(set(hz.tolist()), reverse=True)
    fig, (rel, hist) = plt.subplots(1, 2, figsize=(11, 5.5))
    rel.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
    for h in horizons:
        mask = hz == h
        _reliability(rel, p[mask], y[mask], f"{h} min before close", alpha=0.8)
    _reliability(rel, p, y, "all horizons", color="black", linewidth=2)
    rel.set_xlabel("predicted P(YES)")
    rel.set_ylabel("observed frequency of YES (95% Wilson interval)")
    rel.set_xlim(0, 1)
    rel.set_ylim(0, 1)
    rel.legend(loc="upper left", fontsize=8)
    bins = np.linspace(0.0, 1.0, HISTOGRAM_BINS + 1)
    hist.hist([p[hz == h] for h in horizons], bins=bins, stacked=True, label=[f"{h} min" for h in horizons])
    hist.set_xlabel("predicted P(YES)")
    hist.set_ylabel("forecasts")
    hist.set_title("sharpness: how the forecasts spread", fontsize=10)
    hist.legend(loc="upper center", fontsize=8)
    fig.suptitle(title(report, baseline), fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
