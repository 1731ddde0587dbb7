"""``kxbtc research``: measurements on recorded markets that decide which strategies are worth running."""

from __future__ import annotations

import json
from pathlib import Path

import click

from kxbtc.clock import parse_utc_ns
from kxbtc.research.microstructure import imbalance_study, lead_lag
from kxbtc.research.moments import ReplayOptions
from kxbtc.research.score import collect_moments


@click.group("research")
def research() -> None:
    """Measurements on recorded markets (see docs/RESEARCH.md)."""


@research.command("microstructure")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--from", "from_", default=None, help="Use moments from this UTC time (ISO-8601).")
@click.option("--until", default=None, help="Use moments before this UTC time (ISO-8601).")
@click.option("--horizon-s", type=click.IntRange(1, 600), default=30, show_default=True)
def microstructure(paths: tuple[Path, ...], from_: str | None, until: str | None, horizon_s: int) -> None:
    """Index lead (model change vs the mid's change k seconds later) and order-book imbalance (vs the
    mid's next move and the outcome), on one-second moments; prints one JSON object."""
    moments, info = collect_moments(list(paths), ReplayOptions(step_s=1))
    start = parse_utc_ns(from_) if from_ else 0
    end = parse_utc_ns(until) if until else 2**63
    chosen = [m for m in moments if start <= m.t_ns < end]
    report = {
        "recordings": info["recordings"],
        "from": from_,
        "until": until,
        "moments": len(chosen),
        "lead_lag": lead_lag(chosen),
        "imbalance": imbalance_study(chosen, horizon_s=horizon_s),
    }
    click.echo(json.dumps(report, indent=2))
