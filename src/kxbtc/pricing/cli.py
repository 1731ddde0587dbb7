"""``kxbtc fairvalue`` and ``kxbtc calibrate``: the pricing model from the command line."""

from __future__ import annotations

import importlib
import json
import math
import sys
from collections import Counter
from pathlib import Path
from typing import NoReturn

import click
from rich.console import Console
from rich.progress import Progress

from kxbtc.exit_codes import EXIT_USAGE
from kxbtc.pricing.calibrate import BASELINE, DEFAULT_HORIZONS, MODELS, calibrate
from kxbtc.pricing.calibration_scores import CalibrationReport, iso_minute, wilson_interval
from kxbtc.pricing.candle_file import CandleFileError, load_candles
from kxbtc.pricing.fair_value import (
    STRIKE_TYPES,
    StrikeType,
    average_moments,
    fair_value,
    fair_value_lognormal,
)
from kxbtc.pricing.volatility import SECONDS_PER_YEAR, annualise, per_second_vol
from kxbtc.tables import compact_table

#: Files with at least this many rows get a progress bar (on a terminal only).
PROGRESS_MIN_ROWS = 20_000


def _usage_error(message: str) -> NoReturn:

    click.echo(f"error: {message}", err=True)
    raise SystemExit(EXIT_USAGE)


# ---------------------------------------------------------------------------------------------
# fairvalue


@click.command("fairvalue")
@click.option("--spot", type=float, required=True, help="Current index value, dollars.")
@click.option("--strike", type=float, required=True, help="Strike (the floor for 'between'), dollars.")
@click.option("--seconds-to-close", type=float, required=True, help="Seconds until the market closes.")
@click.option("--vol", type=float, required=True, help="Volatility; its unit is set by --vol-unit.")
@click.option(
    "--vol-unit",
    type=click.Choice(["annual", "dollar"]),
    default="annual",
    show_default=True,
    help="annual = annualised log volatility (0.5 = 50 %); dollar = dollars per √second (σ$).",
)
@click.option("--strike-type", type=click.Choice(STRIKE_TYPES), default="greater_or_equal", show_default=True)
@click.option("--cap", type=float, default=None, help="Upper end of a 'between' market, dollars.")
@click.option(
    "--observed-sum", type=float, default=0.0, show_default=True, help="Sum of window samples seen."
)
@click.option("--observed-count", type=click.IntRange(0, 60), default=0, show_default=True)
@click.option("--drift", type=float, default=0.0, show_default=True, help="Drift, dollars per second.")
@click.option("--tail-df", type=float, default=None, help="Student-t degrees of freedom (default: normal).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def fairvalue(
    spot: float,
    strike: float,
    seconds_to_close: float,
    vol: float,
    vol_unit: str,
    strike_type: StrikeType,
    cap: float | None,
    observed_sum: float,
    observed_count: int,
    drift: float,
    tail_df: float | None,
    as_json: bool,
) -> None:
    """Probability that a BTC market settles YES (ABM on the exact 60-sample average)."""
    if spot <= 0 or vol < 0 or seconds_to_close < 0:
        _usage_error("--spot must be > 0, --vol and --seconds-to-close >= 0")
    if strike_type == "between" and cap is None:
        _usage_error("--strike-type between needs --cap")
    if tail_df is not None and tail_df <= 2:
        _usage_error("--tail-df must be > 2")
    if observed_count == 0 and observed_sum != 0:
        _usage_error("--observed-sum needs --observed-count")
    log_vol = per_second_vol(vol) if vol_unit == "annual" else vol / spot
    dollar = log_vol * spot
    try:
        moments = average_moments(
            spot,
            seconds_to_close,
            dollar,
            drift=drift,
            observed_sum=observed_sum,
            observed_count=observed_count,
        )
        p_abm = fair_value(
            spot,
            strike,
            seconds_to_close,
            dollar,
            strike_type=strike_type,
            cap=cap,
            drift=drift,
            tail_df=tail_df,
            observed_sum=observed_sum,
            observed_count=observed_count,
        )
        p_lognormal = fair_value_lognormal(
            spot,
            strike,
            seconds_to_close,
            log_vol,
            strike_type=strike_type,
            cap=cap,
            drift=drift,
            observed_sum=observed_sum,
            observed_count=observed_count,
        )
    except ValueError as exc:
        _usage_error(str(exc))
    result = {
        "probability": p_abm,
        "probability_lognormal": p_lognormal,
        "expected_average": moments.mean,
        "sd_average": moments.sd,
        "inputs": {
            "spot": spot,
            "strike": strike,
            "cap": cap,
            "strike_type": strike_type,
            "seconds_to_close": seconds_to_close,
            "annual_log_vol": annualise(log_vol**2),
            "dollar_vol_per_sqrt_second": dollar,
            "observed_sum": observed_sum,
            "observed_count": observed_count,
            "drift_per_second": drift,
            "tail_df": tail_df,
        },
    }
    if as_json:
        click.echo(json.dumps(result))
        return
    bounds = (
        f"{strike:,.2f} .. {cap:,.2f}" if strike_type == "between" and cap is not None else f"{strike:,.2f}"
    )
    tails = "" if tail_df is None else f", Student-t({tail_df:g})"
    lines = [
        f"P(YES)              {p_abm:.4f}   (ABM, exact 60-sample average{tails})",
        f"P(YES) lognormal    {p_lognormal:.4f}   (Turnbull-Wakeman cross-check)",
        f"E[average]          {moments.mean:,.2f}   sd {moments.sd:,.2f}",
        f"strike              {strike_type} {bounds}",
        f"spot                {spot:,.2f}   {seconds_to_close:g} s to close, "
        f"{observed_count} of 60 samples seen",
        f"volatility          {annualise(log_vol**2):.1%} annualised log = ${dollar:.4f}/√s"
        f" (year = {SECONDS_PER_YEAR:,} s)",
        f"drift               ${drift:g}/s",
    ]
    click.echo("\n".join(lines))


# ---------------------------------------------------------------------------------------------
# calibrate


def _parse_horizons(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        _usage_error(f"--at {text!r}: expected minutes before close like 14,10,5,2")
    if not values or any(not 1 <= h <= 14 for h in values):
        _usage_error(f"--at {text!r}: each horizon must be 1..14 minutes")
    return tuple(dict.fromkeys(values))


def _print_report(report: CalibrationReport, console: Console) -> None:
    console.print(
        f"model {report.model}: Brier {report.brier:.4f}   log loss {report.log_loss:.4f}   "
        f"n {report.n:,} ({report.windows:,} windows)"
    )
    columns = ("minutes before close", "Brier", "log loss", "n")
    per = compact_table("per horizon", *columns, numeric=columns)
    for h, s in report.per_horizon.items():
        per.add_row(str(h), f"{s.brier:.4f}", f"{s.log_loss:.4f}", f"{s.n:,}")
    console.print(per)
    buckets = ("bucket", "n", "mean predicted", "observed", "95% interval")
    rel = compact_table("reliability", *buckets, numeric=buckets)
    for b in report.reliability:
        interval = wilson_interval((b.observed or 0.0) * b.n, b.n)
        rel.add_row(
            f"{b.lower:.1f}-{b.upper:.1f}",
            f"{b.n:,}",
            "-" if b.mean_predicted is None else f"{b.mean_predicted:.3f}",
            "-" if b.observed is None else f"{b.observed:.3f}",
            "-" if interval is None else f"{interval[0]:.3f}-{interval[1]:.3f}",
        )
    console.print(rel)


def _report_skipped(report: CalibrationReport, console: Console, limit: int = 10) -> None:
    """Name each window skipped for missing minutes (up to ``limit``) and count the other reasons."""
    if not report.skipped:
        return
    console.print(f"skipped {len(report.skipped)} window(s):")
    gaps = [s for s in report.skipped if "missing minute" in s.reason]
    for s in gaps[:limit]:
        console.print(f"  window {iso_minute(s.start)}: {s.reason}")
    if len(gaps) > limit:
        console.print(f"  ... and {len(gaps) - limit} more window(s) with missing minutes")
    others = Counter(s.reason for s in report.skipped if "missing minute" not in s.reason)
    for reason, count in others.items():
        console.print(f"  {count} window(s): {reason}")


def _plot(report: CalibrationReport, baseline: CalibrationReport | None, path: Path) -> None:
    """The reliability figure (``calibration_plot``); the folder is created, a failure is one line."""
    try:
        importlib.import_module("matplotlib")
    except ImportError:
        _usage_error("--plot needs matplotlib: pip install 'kxbtc[plot]' (or pip install 'matplotlib>=3.8')")
    from kxbtc.pricing.calibration_plot import write_plot

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_plot(report, baseline, path)
    except OSError as exc:
        _usage_error(f"--plot {path}: {exc.strerror or exc}")


@click.command("calibrate")
@click.argument("candles_csv", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--at",
    "at",
    default=",".join(map(str, DEFAULT_HORIZONS)),
    show_default=True,
    help="Minutes before close at which to score the model.",
)
@click.option(
    "--model",
    "model_name",
    type=click.Choice(sorted(MODELS)),
    default="default",
    show_default=True,
    help="baseline = the data set protocol's reference model; default = the improved model.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option(
    "--plot",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write a reliability diagram PNG here, per horizon with intervals, a forecast histogram and the"
    " baseline's scores (needs matplotlib; the folder is created).",
)
def calibrate_command(candles_csv: Path, at: str, model_name: str, as_json: bool, plot: Path | None) -> None:
    """Score the fair-value model on one-minute BTC/USD candles.

    CSV rows open_time,open,high,low,close,volume, one a minute; e.g. the shared data set under
    ../shared/data/ (README "Calibration")."""
    horizons = _parse_horizons(at)
    err = Console(stderr=True)
    out = Console(highlight=False)
    try:
        with Progress(console=err, transient=True, disable=not err.is_terminal) as bar:
            task = bar.add_task("reading candles", total=None)

            def on_rows(done: int, total: int) -> None:
                if total >= PROGRESS_MIN_ROWS:
                    bar.update(task, completed=done, total=total)

            candles = load_candles(candles_csv, progress=on_rows)
            bar.update(task, description="scoring", completed=0, total=len(horizons))
            report = calibrate(
                candles,
                horizons,
                MODELS[model_name],
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
    except CandleFileError as exc:
        _usage_error(str(exc))
    if plot is not None:
        baseline = report
        if model_name != BASELINE.name:
            baseline = calibrate(candles, horizons, BASELINE)
        _plot(report, baseline, plot)
    if as_json:
        payload = report.to_json()
        click.echo(
            json.dumps(
                {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in payload.items()}
            )
        )
        if report.skipped:
            click.echo(f'skipped {len(report.skipped)} window(s); see "skipped"', err=True)
    else:
        _print_report(report, out)
        _report_skipped(report, err)
    if plot is not None:
        click.echo(f"reliability diagram written to {plot}", err=True)
    sys.stdout.flush()
