"""``kxbtc demo``: kxbtc against its built-in simulator, with no keys and no network.

By default the simulator and the trading core run in one process on one simulated clock
(``kxbtc.session``); ``--socket`` or ``--cross-venue`` run the engine over REST and WebSocket on
loopback on the wall clock instead (``kxbtc.engine.demo``).
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import click

from kxbtc.cli_support import config_option, exits_on_store_error, load_config_or_exit
from kxbtc.config import Config
from kxbtc.engine.cli import BTC_SERIES
from kxbtc.exit_codes import EXIT_FAILURE, EXIT_OK
from kxbtc.session.runner import DEFAULT_START_NS
from kxbtc.units import format_usd, parse_money
from kxbtc.virtual_loop import run_virtual


@click.command("demo")
@config_option
@click.option(
    "--hours",
    type=click.FloatRange(min=0.01, max=24 * 30),
    default=1.0,
    show_default=True,
    help="Simulated hours (the simulator and kxbtc share one simulated clock: no waiting).",
)
@click.option(
    "--latency-ms",
    type=click.FloatRange(min=0.0, max=10_000.0),
    default=20.0,
    show_default=True,
    help="Network delay each way between kxbtc and the simulator.",
)
@click.option(
    "--jitter-ms",
    type=click.FloatRange(min=0.0, max=10_000.0),
    default=5.0,
    show_default=True,
    help="Mean extra delay (exponential, seeded) on top of --latency-ms.",
)
@click.option(
    "--loss",
    type=click.FloatRange(min=0.0, max=0.5),
    default=0.0,
    show_default=True,
    help="Probability that a market-data message is lost (the book resyncs from a snapshot).",
)
@click.option(
    "--socket",
    is_flag=True,
    help="Run the engine over REST + WebSocket on loopback instead, on a virtual-time event loop "
    "(see --minutes, --speed, --wall-clock).",
)
@click.option(
    "--wall-clock",
    is_flag=True,
    help="With --socket or --cross-venue: run on the real clock at --speed (the result then depends on "
    "how fast the machine is).",
)
@click.option(
    "--minutes",
    type=click.FloatRange(min=0.05),
    default=2.0,
    show_default=True,
    help="Minutes of the run (with --socket or --cross-venue): simulated minutes = minutes x speed.",
)
@click.option(
    "--speed",
    type=click.FloatRange(min=1.0, max=120.0),
    default=30.0,
    show_default=True,
    help="Simulated seconds per real second (with --socket or --cross-venue).",
)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option(
    "--mispricing",
    type=click.FloatRange(min=0.0, max=0.2),
    default=0.03,
    show_default=True,
    help="How far the simulator's market makers stray from the true fair value (probability).",
)
@click.option(
    "--db",
    "db_path",
    type=click.Path(path_type=Path),
    default=None,
    help="The demo's database (default: kxbtc-demo.db in the current directory, replaced by each run); "
    "the summary names it, for `kxbtc status --db` and `kxbtc report` afterwards.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
@click.option(
    "--series",
    type=click.Choice(BTC_SERIES),
    multiple=True,
    default=("KXBTC15M",),
    show_default=True,
    help="Series the demo trades (repeat the option); the hourly ladders settle once an hour.",
)
@click.option(
    "--cross-venue",
    is_flag=True,
    help="Also simulate Polymarket and trade the cross_venue pairs against it (paper Polymarket legs).",
)
@exits_on_store_error
def demo(
    config_path: Path | None,
    hours: float,
    latency_ms: float,
    jitter_ms: float,
    loss: float,
    socket: bool,
    wall_clock: bool,
    minutes: float,
    speed: float,
    seed: int,
    mispricing: float,
    db_path: Path | None,
    as_json: bool,
    series: tuple[str, ...],
    cross_venue: bool,
) -> None:
    """Run kxbtc against its built-in simulator: no keys, no network; prints a summary at the end.

    By default the simulator and kxbtc's trading core run in one process on one simulated clock with a
    seeded network between them: the same options give the same summary on any machine. Profits against
    the simulator's makers test the machinery; they are no evidence of an edge.
    """
    from kxbtc.engine.demo import run_demo
    from kxbtc.engine.view import DemoView
    from kxbtc.sim.exchange import SimConfig

    cfg = load_config_or_exit(config_path)
    if not (socket or cross_venue):
        _session_demo(cfg, hours, seed, mispricing, db_path, as_json, series, latency_ms, jitter_ms, loss)
        return
    view = DemoView(minutes=minutes, speed=speed, interactive=sys.stderr.isatty())
    with view:
        run = run_demo(
            cfg,
            minutes=minutes,
            speed=speed,
            seed=seed,
            db_path=db_path,
            sim_config=SimConfig(mispricing=mispricing),
            on_tick=view.update,
            series=series,
            cross_venue=cross_venue,
            virtual=not wall_clock,
            start_ns=None if wall_clock else DEFAULT_START_NS,
            feed=view.sinks(),
        )
        summary = asyncio.run(run) if wall_clock else run_virtual(run)
    if as_json:
        click.echo(json.dumps(summary.to_json(), indent=2))
    else:
        view.print_summary(summary)
        if summary.cross_venue is not None:
            _print_cross_venue(summary.cross_venue)
    sys.exit(EXIT_OK if summary.ledger_matches else EXIT_FAILURE)


def _session_demo(
    cfg: Config,
    hours: float,
    seed: int,
    mispricing: float,
    db_path: Path | None,
    as_json: bool,
    series: tuple[str, ...],
    latency_ms: float,
    jitter_ms: float,
    loss: float,
) -> None:
    from rich.console import Console

    from kxbtc.engine.view import SessionView, print_session_summary
    from kxbtc.session.demo import run_session_demo
    from kxbtc.session.network import NetworkConfig
    from kxbtc.session.runner import SimSession
    from kxbtc.sim.exchange import SimConfig

    err = Console(stderr=True)
    err.print(
        f"kxbtc demo: simulator + trading core on one simulated clock, {hours:g} h, seed {seed}, "
        f"latency {latency_ms:g} ms + jitter {jitter_ms:g} ms"
    )
    view = SessionView(interactive=err.is_terminal, console=err)

    def draw(s: SimSession) -> None:
        view.draw(s.core)

    def progress(s: SimSession) -> None:
        view.progress(s.core, s.counts.orders_sent)

    last: list[SimSession] = []
    with view:
        summary, timing = run_session_demo(
            cfg,
            hours=hours,
            seed=seed,
            series=series,
            network=NetworkConfig(latency_ms=latency_ms, jitter_ms=jitter_ms, loss=loss),
            sim_config=SimConfig(mispricing=mispricing),
            db_path=db_path,
            on_progress=progress,
            on_second=draw if view.interactive else None,
            on_finish=last.append,
            feed=view.sinks(),
        )
        if last:
            view.draw(last[0].core, force=True)  # the final state stays on screen above the summary
    err.print(
        f"ran {hours:g} simulated hours in {timing.wall_s:.1f} s on this machine: "
        f"{timing.market_events:,} market-data events, {timing.events_per_s:,.0f} per second"
    )
    if as_json:
        click.echo(json.dumps(summary.to_json(), indent=2))
    else:
        print_session_summary(summary)
    sys.exit(EXIT_OK if summary.ledger_matches else EXIT_FAILURE)


def _print_cross_venue(cross_venue: dict[str, Any]) -> None:
    """The demo's cross-venue lines, after its summary table."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title="cross-venue pairs (paper Polymarket legs)", show_header=False)
    rows = [
        ("pairs proposed", str(cross_venue["pairs"])),
        ("Kalshi legs filled", str(cross_venue["kalshi_legs_filled"])),
        ("Polymarket legs filled", f"{cross_venue['filled']} of {cross_venue['poly_legs']}"),
        ("unhedged", str(cross_venue["unhedged"])),
        ("Polymarket cost (incl. fees)", format_usd(parse_money(cross_venue["cost_usd"]))),
        ("Polymarket fees", format_usd(parse_money(cross_venue["fees_usd"]))),
        ("Polymarket P&L, resolved", format_usd(parse_money(cross_venue["settled_pnl_usd"]))),
        ("Polymarket cost, unresolved", format_usd(parse_money(cross_venue["open_cost_usd"]))),
    ]
    for key, value in rows:
        table.add_row(key, value)
    Console().print(table)
