"""``kxbtc backtest``: the deterministic in-process backtest against the simulator, with its report."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.progress import Progress

from kxbtc.config import KNOWN_STRATEGIES
from kxbtc.exit_codes import EXIT_FAILURE, EXIT_OK


@click.command("backtest")
@click.option("--config", "config_path", type=click.Path(path_type=Path), default=None, help="TOML config.")
@click.option("--markets", type=click.IntRange(min=1), default=60, show_default=True, help="Markets in all.")
@click.option(
    "--seed",
    "seeds",
    type=int,
    multiple=True,
    default=(1, 2, 3, 4),
    show_default=True,
    help="Simulator seed; repeat for several independent runs (markets are split across them).",
)
@click.option(
    "--mispricing",
    type=click.FloatRange(min=0.0, max=0.2),
    default=0.03,
    show_default=True,
    help="How far the simulator's market makers stray from the true fair value (probability).",
)
@click.option(
    "--strategy",
    "strategies",
    type=click.Choice(KNOWN_STRATEGIES),
    multiple=True,
    default=("fair_value",),
    show_default=True,
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
def backtest(
    config_path: Path | None,
    markets: int,
    seeds: tuple[int, ...],
    mispricing: float,
    strategies: tuple[str, ...],
    as_json: bool,
) -> None:
    """Run strategies against the simulator second by second (no network) and report P&L after fees."""
    from kxbtc.backtest.report import summarize
    from kxbtc.backtest.sim_loop import run_backtest
    from kxbtc.engine.cli import _load

    cfg = _load(config_path)
    console = Console(stderr=True)
    with Progress(console=console, transient=True, disable=not console.is_terminal) as progress:
        task = progress.add_task("backtest: markets settled", total=markets)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done)
            if not console.is_terminal:
                console.print(f"backtest: {done}/{total} markets")

        runs = run_backtest(
            cfg,
            seeds=seeds,
            markets=markets,
            mispricing=mispricing,
            strategies=strategies,
            on_progress=advance,
        )
    report = summarize(runs)
    click.echo(json.dumps(report.to_json(), indent=2) if as_json else report.render())
    sys.exit(EXIT_OK if report.ledger_matches_exchange else EXIT_FAILURE)
