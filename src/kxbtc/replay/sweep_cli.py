"""``kxbtc sweep``: the command line of ``kxbtc.replay.sweep``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from kxbtc.cli_support import config_option, load_config_or_exit
from kxbtc.clock import parse_utc_ns
from kxbtc.exit_codes import EXIT_OK
from kxbtc.research.score import DEFAULT_SPLIT
from kxbtc.strategy import KNOWN_STRATEGIES
from kxbtc.tables import compact_table
from kxbtc.units import PRICE_SCALE, format_price_usd, format_usd_float


@click.command("sweep")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@config_option
@click.option(
    "--strategy",
    "strategies",
    type=click.Choice([n for n in KNOWN_STRATEGIES if n != "cross_venue"]),
    multiple=True,
    required=True,
    help="Repeat for each strategy (each runs alone, with its settings from --config).",
)
@click.option(
    "--latency-ms", "latencies", type=float, multiple=True, default=(0.0, 50.0, 250.0), show_default=True
)
@click.option(
    "--split", default=DEFAULT_SPLIT, show_default=True, help="In-sample before, out-of-sample from."
)
@click.option("--index", type=click.Choice(["auto", "kalshi", "spot"]), default="auto", show_default=True)
@click.option("--jobs", type=click.IntRange(0, 256), default=0, help="Local processes (0: one per core).")
@click.option("--ray", "ray_address", default=None, help="Run the cells as Ray tasks on this cluster.")
@click.option("--json", "as_json", is_flag=True, help="Print the table as JSON.")
@click.option("--wide", is_flag=True, help="Every column (the default fits 80 columns).")
def sweep_command(
    paths: tuple[Path, ...],
    config_path: Path | None,
    strategies: tuple[str, ...],
    latencies: tuple[float, ...],
    split: str,
    index: str,
    jobs: int,
    ray_address: str | None,
    as_json: bool,
    wide: bool,
) -> None:
    """Replay each strategy at each latency on recordings, in parallel: P&L after fees with intervals
    from resampling whole markets, in-sample (before --split) beside out-of-sample (from it on)."""
    from kxbtc.replay.sweep import cells, sweep, table

    cfg = load_config_or_exit(config_path)
    try:
        split_ns = parse_utc_ns(split)
    except ValueError:
        raise click.BadParameter(f"{split!r} is not an ISO time", param_hint="--split") from None
    rows = table(
        sweep(cfg, paths, cells(strategies, latencies, split_ns, index), jobs=jobs, ray_address=ray_address)
    )
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        sys.exit(EXIT_OK)
    Console().print(sweep_table(rows, split, wide))


def sweep_table(rows: list[dict[str, Any]], split: str, wide: bool) -> Table:
    """One row per strategy and latency; narrow fits 80 columns, ``wide`` adds the in-sample market count
    and the out-of-sample trade count."""
    numeric = ("IS markets", "IS net", "OOS markets", "OOS trades", "OOS net", "OOS 95%", "OOS $/contract")
    shown = numeric if wide else ("IS net", "OOS markets", "OOS net", "OOS 95%", "OOS $/contract")
    out = compact_table(
        f"sweep: in-sample before {split}, out-of-sample from it (net after fees)",
        "strategy", "latency", *shown, numeric=("latency", *shown),
    )  # fmt: skip
    for r in rows:
        low, high = r.get("oos_net_pnl_interval_95") or (0.0, 0.0)
        cells = {
            "IS markets": f"{r.get('is_markets', 0):,}",
            "IS net": format_usd_float(r.get("is_net_pnl", 0.0)),
            "OOS markets": f"{r.get('oos_markets', 0):,}",
            "OOS trades": f"{r.get('oos_trades', 0):,}",
            "OOS net": format_usd_float(r.get("oos_net_pnl", 0.0)),
            "OOS 95%": f"{format_usd_float(low)}..{format_usd_float(high)}",
            "OOS $/contract": format_price_usd(round(r.get("oos_net_per_contract", 0.0) * PRICE_SCALE)),
        }
        out.add_row(r["strategy"], f"{r['latency_ms']:g} ms", *(cells[name] for name in shown))
    return out
