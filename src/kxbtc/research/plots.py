"""PNG figures of a ``kxbtc score`` report (matplotlib, Agg backend: files only, never a window).

- ``reliability_<part>.png``: mean forecast against observed frequency per bin, for the model, the
  market and the blend, with the bins' Wilson intervals;
- ``by_time_to_close_<part>.png``: Brier score and log loss per bucket of minutes to close, with the
  market-resampling intervals.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from kxbtc.research.metrics import FORECASTS

COLOURS = {"model": "tab:blue", "market": "tab:orange", "blend": "tab:green"}


def _pyplot() -> Any:
    matplotlib = importlib.import_module("matplotlib")
    matplotlib.use("Agg")
    return importlib.import_module("matplotlib.pyplot")


def _rows(value: object) -> list[dict[str, Any]]:
    return value if isinstance(value, list) else []


def reliability_figure(part: dict[str, Any], title: str, path: Path) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 6))
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
    for offset, name in zip((-0.006, 0.0, 0.006), FORECASTS, strict=True):
        rows = [r for r in _rows(part["reliability"][name]) if r["n"]]
        xs = [r["mean_forecast"] + offset for r in rows]
        ys = [r["observed"] for r in rows]
        errors = [
            [max(0.0, y - r["interval"][0]) for y, r in zip(ys, rows, strict=True)],
            [max(0.0, r["interval"][1] - y) for y, r in zip(ys, rows, strict=True)],
        ]
        ax.errorbar(xs, ys, yerr=errors, marker="o", capsize=3, color=COLOURS[name], label=name)
    ax.set_xlabel("forecast P(YES)")
    ax.set_ylabel("observed frequency of YES")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title(f"{title}: n {part['n']}, {part['markets']} markets")
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def by_time_figure(part: dict[str, Any], title: str, path: Path) -> None:
    plt = _pyplot()
    buckets = _rows(part["by_time_to_close"])
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    for ax, metric, label in zip(axes, ("brier", "log_loss"), ("Brier score", "log loss"), strict=True):
        for offset, name in zip((-0.2, 0.0, 0.2), FORECASTS, strict=True):
            xs, ys, lo, hi = [], [], [], []
            for i, b in enumerate(buckets):
                value = b[metric][name]
                if value is None or b["intervals"] is None:
                    continue
                low, high = b["intervals"][metric][name]
                xs.append(i + offset)
                ys.append(value)
                lo.append(max(0.0, value - low))
                hi.append(max(0.0, high - value))
            ax.errorbar(xs, ys, yerr=[lo, hi], fmt="o", capsize=3, color=COLOURS[name], label=name)
        ax.set_xticks(range(len(buckets)), [b["minutes_to_close"] for b in buckets])
        ax.set_xlabel("minutes to close")
        ax.set_ylabel(f"{label} (lower is better)")
        ax.set_title(f"{title}: {label}")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_plots(report: dict[str, Any], folder: Path) -> list[Path]:
    """Write the figures of both parts into ``folder`` (created if needed); the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for part_name, part in report["parts"].items():
        if not part["n"]:
            continue
        title = f"{part_name} part ({'before' if part_name == 'fit' else 'from'} {report['split']})"
        for stem, draw in (("reliability", reliability_figure), ("by_time_to_close", by_time_figure)):
            path = folder / f"{stem}_{part_name}.png"
            draw(part, title, path)
            written.append(path)
    return written
