"""``kxbtc score``: the command line of ``kxbtc.research.score``."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any, NoReturn

import click
from rich.console import Console
from rich.table import Table

from kxbtc.clock import parse_utc_ns
from kxbtc.errors import KxbtcError
from kxbtc.exit_codes import EXIT_USAGE
from kxbtc.research.metrics import FORECASTS
from kxbtc.research.moments import ReplayOptions
from kxbtc.research.score import DEFAULT_SPLIT, ScoreOptions, score_paths
from kxbtc.tables import compact_table

#: The tables need this many columns; a pipe would otherwise get rich's 80.


def _usage_error(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    raise SystemExit(EXIT_USAGE)


def _number(value: float | None, digits: int, signed: bool = False) -> str:
    if value is None:
        return "-"
    value = 0.0 if round(value, digits) == 0 else value  # no "-0.000"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def _range(interval: list[float] | None, digits: int, signed: bool = False) -> str:
    if interval is None:
        return "-"
    return f"[{_number(interval[0], digits, signed)}, {_number(interval[1], digits, signed)}]"


def _cell(value: float | None, interval: list[float] | None, digits: int = 4, signed: bool = False) -> str:
    return f"{_number(value, digits, signed)} {_range(interval, digits, signed)}"


def _score_table(part: dict[str, Any], title: str) -> Table:
    table = compact_table(
        title, "forecast", *(numeric := ("Brier [95 %]", "log loss [95 %]")), numeric=numeric
    )
    intervals = part["intervals"] or {"brier": {}, "log_loss": {}}
    for name in (*FORECASTS, "model_minus_market", "blend_minus_market"):
        signed = "_minus_" in name
        table.add_row(
            name.replace("_minus_", " - "),
            _cell(part["brier"].get(name), intervals["brier"].get(name), signed=signed),
            _cell(part["log_loss"].get(name), intervals["log_loss"].get(name), signed=signed),
        )
    return table


def _bucket_tables(part: dict[str, Any]) -> list[Table]:
    """Brier by minutes to close, then each forecast's difference to the market with its interval: two
    tables so that each fits 80 columns."""
    heads: tuple[str, ...] = ("min to close", "n", "markets", *FORECASTS)
    scores = compact_table("Brier score by minutes to close", *heads, numeric=heads)
    differences = ("model_minus_market", "blend_minus_market")
    heads = ("min to close", *(f"{d.replace('_minus_', ' - ')} [95 %]" for d in differences))
    diffs = compact_table("Brier difference to the market by minutes to close", *heads, numeric=heads)
    for b in part["by_time_to_close"]:
        brier, ci = b["brier"], (b["intervals"] or {}).get("brier", {})
        minutes = b["minutes_to_close"]
        scores.add_row(
            minutes, f"{b['n']:,}", f"{b['markets']:,}", *(_number(brier[f], 3) for f in FORECASTS)
        )
        diffs.add_row(minutes, *(_cell(brier.get(d), ci.get(d), 3, signed=True) for d in differences))
    return [scores, diffs]


def _print_human(report: dict[str, Any], console: Console) -> None:
    split = report["split"]
    w = report["blend_weights"]
    for key, label in (
        ("report", f"scored from {split} (headline)"),
        ("fit", f"blend fitted before {split}"),
    ):
        part = report["parts"][key]
        console.print(f"\n[bold]{label}[/bold]: {part['n']:,} moments, {part['markets']:,} markets")
        if part["n"]:
            console.print(_score_table(part, "scores (lower is better; differences < 0 beat the market)"))
            for table in _bucket_tables(part):
                console.print(table)
    fitted = "fitted" if w["fitted"] else "not fitted (no moments before the split): plain average"
    console.print(
        f"blend: logit p = {w['intercept']:+.3f} + {w['model']:.3f}·logit(model) + "
        f"{w['market']:.3f}·logit(market), {fitted} on {w['n']:,} moments"
    )
    skipped = ", ".join(f"{k} {v:,}" for k, v in report["skipped_moments"].items())
    console.print(f"moments not scored: {skipped or 'none'}; basis samples: {report['basis_samples']:,}")


@click.command("score")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option(
    "--plot", type=click.Path(file_okay=False, path_type=Path), default=None, help="Write PNGs here."
)
@click.option("--split", default=DEFAULT_SPLIT, show_default=True, help="Fit the blend before it (UTC).")
@click.option("--step-s", type=click.IntRange(1, 900), default=30, show_default=True, help="Moment spacing.")
@click.option("--spot-fresh-s", type=float, default=5.0, show_default=True, help="Max age of the spot.")
@click.option("--book-quiet-s", type=float, default=10.0, show_default=True, help="Max book silence.")
@click.option("--tail-df", type=float, default=6.0, show_default=True, help="Student-t df; 0 = normal.")
@click.option("--resamples", type=click.IntRange(0), default=1000, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
def score_command(
    paths: tuple[Path, ...],
    as_json: bool,
    plot: Path | None,
    split: str,
    step_s: int,
    spot_fresh_s: float,
    book_quiet_s: float,
    tail_df: float,
    resamples: int,
    seed: int,
) -> None:
    """Score the fair value, the market mid and a blend on recorded data.

    PATHS: the shared research folder, some of its day files, or kxbtc recordings.

    \b
    Method (no look-ahead anywhere):
    - books rebuilt from recorded snapshots and deltas; read only when tradeable
      (synced, not momentarily crossed), two-sided, outside known gaps, not quiet;
    - moments every whole --step-s of each market's life where the spot's last
      trade is at most --spot-fresh-s old; outcome = the market's result;
    - market = YES mid; model = fair value from spot + basis (settlement minus
      the spot's final-minute mean of the last 4 markets settled before then,
      0 before any), EWMA volatility of past spot, the settlement minute seen;
    - blend = logistic regression on both log-odds fitted only before --split;
      the part from --split on is the headline;
    - Brier and log loss by minutes to close (0-1, 1-3, 3-6, 6-10, 10-15) with
      95 % intervals from --resamples resamples of whole markets (seeded), for
      each score and for model-minus-market and blend-minus-market; reliability
      per bin with Wilson intervals. --plot DIR writes PNG figures.
    """
    if tail_df != 0 and tail_df <= 2:
        _usage_error("--tail-df must be > 2 (or 0 for the normal)")
    try:
        parse_utc_ns(split)
    except ValueError:
        _usage_error(f"--split {split!r}: expected an ISO-8601 time such as {DEFAULT_SPLIT}")
    options = ScoreOptions(
        ReplayOptions(
            step_s=step_s,
            spot_fresh_s=spot_fresh_s,
            book_quiet_s=book_quiet_s,
            tail_df=tail_df or None,
        ),
        split=split,
        resamples=resamples,
        seed=seed,
    )
    err = Console(stderr=True)
    started = time.perf_counter()
    try:
        with err.status("replaying the recordings", spinner="dots"):
            run = score_paths(list(paths), options)
    except KxbtcError as exc:
        _usage_error(str(exc))
    elapsed = time.perf_counter() - started
    report: dict[str, Any] = run.report
    if as_json:
        click.echo(json.dumps(report, sort_keys=False))
    else:
        _print_human(report, Console(highlight=False))
    if plot is not None:
        from kxbtc.research.plots import write_plots  # matplotlib only when asked

        for path in write_plots(report, plot):
            click.echo(f"wrote {path}", err=True)
    click.echo(f"scored {report['events']:,} events in {elapsed:.1f} s", err=True)
    sys.stdout.flush()
