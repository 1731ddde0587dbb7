"""``kxbtc bench``: the speed figures in one table, and the same as JSON."""

from __future__ import annotations

import json
from pathlib import Path

import click

DEFAULT_REPLAY = Path("../shared/data/kalshi_l2_2026-05/kalshi_ws_2026-05-13.jsonl.gz")


@click.command("bench")
@click.option(
    "--json-out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("bench.json"),
    show_default=True,
    help="Write the figures here as JSON.",
)
@click.option(
    "--tick-seconds",
    type=click.FloatRange(0),
    default=60.0,
    show_default=True,
    help="Wall seconds of the tick-to-wire run (engine against `kxbtc sim serve`); 0 skips it.",
)
@click.option(
    "--pin",
    metavar="ENGINE,SIM",
    default=None,
    help="Run the tick-to-wire engine and simulator on these two cores (e.g. 0,1); default: unpinned.",
)
@click.option(
    "--replay",
    type=click.Path(path_type=Path),
    default=DEFAULT_REPLAY,
    show_default=True,
    help="Recording for the replay figure (skipped when absent).",
)
@click.option(
    "--soak-json",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("soak.json"),
    show_default=True,
    help="`make soak`'s JSON: resident memory per simulated hour of engine and simulator in one process.",
)
@click.option(
    "--engine-memory-json",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("engine_memory.json"),
    show_default=True,
    help="`make bench-memory`'s JSON: the engine's own resident memory per simulated hour (preferred).",
)
def bench(
    json_out: Path,
    tick_seconds: float,
    pin: str | None,
    replay: Path,
    soak_json: Path,
    engine_memory_json: Path,
) -> None:
    """Speed figures (median and p99 each) in one table, also written as JSON."""
    from kxbtc.bench.suite import run_all, table

    doc = run_all(
        tick_seconds=tick_seconds,
        replay=replay,
        soak_json=soak_json,
        pin=_cores(pin),
        engine_memory_json=engine_memory_json,
    )
    click.echo(table(doc))
    json_out.write_text(json.dumps(doc, indent=2) + "\n")
    click.echo(f"wrote {json_out}")


def _cores(spec: str | None) -> tuple[int, int] | None:
    if spec is None:
        return None
    try:
        engine, sim = (int(part) for part in spec.split(","))
    except ValueError:
        raise click.BadParameter("two core numbers, e.g. 0,1", param_hint="--pin") from None
    if engine == sim or min(engine, sim) < 0:
        raise click.BadParameter("two different cores", param_hint="--pin")
    return engine, sim
