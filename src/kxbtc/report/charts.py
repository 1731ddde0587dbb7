"""The tearsheet's charts as PNG bytes: matplotlib's object API on the Agg canvas, so no window, no
global pyplot state and no display are ever needed (a server or a test runs it the same way).

Each chart is drawn only when its section has rows; ``render_all`` returns the ones drawn, by file name.
Floats appear here and only here: a chart's axis is a picture of the integers, never a figure to read.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import DateFormatter
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from kxbtc.report.fmt import dollars
from kxbtc.report.pnl import PnlRow
from kxbtc.report.tearsheet import Tearsheet
from kxbtc.units import MONEY_SCALE

GAIN, LOSS, INK, GRID = "#2e7d32", "#c62828", "#1f3b57", "#d9dee4"
WIDE, TALL = (10.5, 3.6), (10.5, 5.2)
DPI = 110
#: More markets than this are shown as a histogram of their P&L rather than one bar each.
MAX_MARKET_BARS = 40


def render_all(sheet: Tearsheet) -> dict[str, bytes]:
    """Every chart the sheet has data for: ``{"equity.png": b"\\x89PNG...", ...}``."""
    drawers: list[tuple[str, bool, Callable[[Figure], None]]] = [
        ("equity.png", len(sheet.equity.points) > 0, lambda fig: _equity(fig, sheet)),
        (
            "pnl_by_strategy.png",
            bool(sheet.pnl.by_strategy),
            lambda fig: _strategies(fig, sheet.pnl.by_strategy),
        ),
        ("pnl_by_hour.png", bool(sheet.pnl.by_hour), lambda fig: _hours(fig, sheet.pnl.by_hour)),
        ("pnl_by_market.png", bool(sheet.pnl.by_market), lambda fig: _markets(fig, sheet)),
        ("slippage.png", bool(sheet.slippage.fills), lambda fig: _slippage(fig, sheet)),
        ("reliability.png", sheet.forecast.forecasts > 0, lambda fig: _reliability(fig, sheet)),
    ]
    out: dict[str, bytes] = {}
    for name, has_rows, draw in drawers:
        if has_rows:
            fig = Figure(figsize=_size(name, sheet), dpi=DPI)
            draw(fig)
            out[name] = _png(fig)
    return out


def _size(name: str, sheet: Tearsheet) -> tuple[float, float]:
    if name == "equity.png":
        return TALL
    if name == "reliability.png":
        return (7.0, 5.6)
    if name == "pnl_by_strategy.png":
        return (WIDE[0], 1.3 + 0.55 * len(sheet.pnl.by_strategy))
    return WIDE


def _png(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    fig.tight_layout()
    buffer = io.BytesIO()
    # No timestamps in the PNG's metadata: the same database gives the same bytes.
    fig.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def _usd(micros: int) -> float:
    return micros / MONEY_SCALE


def _dollar_axis(ax: Axes, axis: str = "y") -> None:
    formatter = FuncFormatter(lambda value, _pos: dollars(round(value * MONEY_SCALE)))
    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(formatter)


def _style(ax: Axes, title: str) -> None:
    ax.set_title(title, loc="left", fontsize=11, color=INK)
    ax.grid(True, color=GRID, linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _times(ts: Sequence[int]) -> list[datetime]:
    return [datetime.fromtimestamp(t / 1e9, UTC) for t in ts]


def _equity(fig: Figure, sheet: Tearsheet) -> None:
    points = sheet.equity.points
    when = _times([p.ts_ns for p in points])
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [2, 1]})
    top.plot(when, [_usd(p.equity) for p in points], color=INK, linewidth=1.4)
    _style(top, "Equity (marks included, after fees)")
    _dollar_axis(top)
    bottom.fill_between(when, [_usd(p.drawdown) for p in points], 0, color=LOSS, alpha=0.35, linewidth=0)
    bottom.plot(when, [_usd(p.drawdown) for p in points], color=LOSS, linewidth=1.0)
    _style(bottom, "Drawdown from the running peak")
    _dollar_axis(bottom)
    # matplotlib.dates is not annotated; the formatter only names the ticks.
    bottom.xaxis.set_major_formatter(DateFormatter("%m-%d %H:%M", tz=UTC))  # type: ignore[no-untyped-call]
    bottom.set_xlabel("time (UTC)")


def _interval_errors(rows: Sequence[PnlRow]) -> list[list[float]]:
    """Matplotlib's error bars: distances below and above each bar (never negative)."""
    below = [max(0.0, _usd(r.net - r.interval.low)) if r.interval else 0.0 for r in rows]
    above = [max(0.0, _usd(r.interval.high - r.net)) if r.interval else 0.0 for r in rows]
    return [below, above]


def _colours(rows: Sequence[PnlRow]) -> list[str]:
    return [GAIN if r.net >= 0 else LOSS for r in rows]


def _strategies(fig: Figure, rows: Sequence[PnlRow]) -> None:
    """Horizontal bars, one per strategy, so long names read and one strategy is not a wall of colour."""
    ax = fig.subplots()
    positions = list(range(len(rows)))[::-1]
    ax.barh(
        positions,
        [_usd(r.net) for r in rows],
        xerr=_interval_errors(rows),
        color=_colours(rows),
        height=0.5,
        capsize=4,
        ecolor=INK,
    )
    ax.set_yticks(positions, [r.key for r in rows])
    ax.axvline(0, color=INK, linewidth=0.8)
    _style(ax, "Realized P&L after fees by strategy, with 95% intervals from resampling whole markets")
    _dollar_axis(ax, "x")


def _hours(fig: Figure, rows: Sequence[PnlRow]) -> None:
    """All 24 UTC hours on the axis, so a short run's few bars sit where they belong in the day."""
    ax = fig.subplots()
    hours = [int(r.key[:2]) for r in rows]
    ax.bar(
        hours,
        [_usd(r.net) for r in rows],
        yerr=_interval_errors(rows),
        color=_colours(rows),
        width=0.7,
        capsize=3,
        ecolor=INK,
    )
    ax.set_xticks(range(24), [f"{h:02d}" for h in range(24)])
    ax.set_xlim(-0.6, 23.6)
    ax.set_xlabel("hour of day (UTC)")
    ax.axhline(0, color=INK, linewidth=0.8)
    _style(ax, "Realized P&L after fees by hour of day, with 95% intervals from resampling whole markets")
    _dollar_axis(ax)


def _markets(fig: Figure, sheet: Tearsheet) -> None:
    ax = fig.subplots()
    rows = sheet.pnl.by_market
    values = [_usd(r.net) for r in rows]
    if len(rows) > MAX_MARKET_BARS:
        ax.hist(values, bins=30, color=INK, alpha=0.8)
        ax.axvline(0, color=LOSS, linewidth=1.0)
        _style(ax, f"Realized P&L per market after fees ({len(rows)} markets)")
        _dollar_axis(ax, "x")
        ax.set_ylabel("markets")
        return
    ax.bar(range(len(rows)), values, color=[GAIN if v >= 0 else LOSS for v in values], width=0.7)
    ax.set_xticks(range(len(rows)), [r.ticker for r in rows], rotation=60, ha="right", fontsize=7)
    ax.set_xlim(-0.6, max(len(rows), 12) - 0.4)  # a few markets stay bars, not walls
    ax.axhline(0, color=INK, linewidth=0.8)
    _style(ax, "Realized P&L per market after fees")
    _dollar_axis(ax)


def _slippage(fig: Figure, sheet: Tearsheet) -> None:
    ax = fig.subplots()
    fills = sheet.slippage.fills
    ax.hist(
        [s.per_contract for s in fills],
        bins=min(30, max(5, len(fills))),
        weights=[s.count / 100 for s in fills],
        color=INK,
        alpha=0.8,
    )
    ax.axvline(0, color=LOSS, linewidth=1.0)
    _style(ax, "Slippage against the decision's mid, per contract (right of zero: paid worse than mid)")
    ax.xaxis.set_major_formatter(
        FuncFormatter(lambda value, _pos: f"{'-' if value < 0 else ''}${abs(value):.3f}")
    )
    ax.set_ylabel("contracts")


def _reliability(fig: Figure, sheet: Tearsheet) -> None:
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
    bins = [b for b in sheet.forecast.bins if b.n and b.mean_forecast is not None and b.observed is not None]
    xs = [b.mean_forecast or 0.0 for b in bins]
    ys = [b.observed or 0.0 for b in bins]
    below = [max(0.0, y - b.interval[0]) if b.interval else 0.0 for y, b in zip(ys, bins, strict=True)]
    above = [max(0.0, b.interval[1] - y) if b.interval else 0.0 for y, b in zip(ys, bins, strict=True)]
    ax.errorbar(
        xs, ys, yerr=[below, above], fmt="o", color=INK, ecolor=INK, capsize=3, label="decisions' p_yes"
    )
    for x, y, b in zip(xs, ys, bins, strict=True):
        ax.annotate(f"n={b.n}", (x, y), textcoords="offset points", xytext=(6, -10), fontsize=7, color=INK)
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.03, 1.06)  # room for a marker at 0 or 1
    ax.set_xlabel("mean forecast p_yes in the bin")
    ax.set_ylabel("share of those forecasts that settled YES")
    _style(ax, "Forecast reliability (Wilson 95% intervals)")
    ax.legend(loc="upper left", frameon=False)
