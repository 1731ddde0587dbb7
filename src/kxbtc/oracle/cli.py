"""``kxbtc oracle watch``: run the spot feeds and print the BRTI estimate and feed health each tick.

The way to check the venue parsers (and Kraken's checksum) against the live feeds; ``--url`` points a
venue elsewhere (a local replay server in tests).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from typing import Any

import click

from kxbtc.clock import SystemClock
from kxbtc.exit_codes import EXIT_FAILURE, EXIT_USAGE
from kxbtc.oracle.brti import BrtiEstimate
from kxbtc.oracle.feeds import SPOT_FEEDS, SpotFeed
from kxbtc.oracle.service import Oracle, OracleStatus


def tick_record(status: OracleStatus, estimate: BrtiEstimate | None) -> dict[str, Any]:
    """One tick as plain data (the ``--json`` line)."""
    return {
        "ts_ms": None if estimate is None else estimate.ts_ns // 1_000_000,
        "estimate": None if estimate is None else estimate.value,
        "method": None if estimate is None else estimate.method.value,
        "utilized_depth": None if estimate is None else estimate.utilized_depth,
        "included": [] if estimate is None else list(estimate.included),
        "excluded": {} if estimate is None else {k: v.value for k, v in estimate.excluded.items()},
        "feeds": {
            h.venue: {
                "state": h.state.value,
                "age_s": None if h.last_message_age_s is None else round(h.last_message_age_s, 3),
                "messages": h.messages,
                "errors": h.errors,
                "last_error": h.last_error,
            }
            for h in status.feeds
        },
    }


def _line(rec: dict[str, Any]) -> str:
    est = (
        "  no estimate"
        if rec["estimate"] is None
        else f"{'$' + format(rec['estimate'], ',.2f'):>12} {rec['method']}"
    )
    feeds = "  ".join(f"{v}:{f['state']}/{f['messages']}m/{f['errors']}e" for v, f in rec["feeds"].items())
    return f"{est}  {feeds}"


async def watch_feeds(
    feeds: list[SpotFeed], seconds: float, interval_s: float, emit: Callable[[dict[str, Any]], None]
) -> int:
    """Run ``feeds`` for ``seconds`` (0: until interrupted); emit one record per tick. Returns the number
    of ticks with an estimate."""
    oracle = Oracle(SystemClock(), feeds, estimate_interval_s=interval_s)
    tasks = [asyncio.create_task(f.run()) for f in feeds]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    made = 0
    try:
        while seconds <= 0 or loop.time() < deadline:
            await asyncio.sleep(interval_s)
            estimate = oracle.step()
            made += estimate is not None
            emit(tick_record(oracle.status(), estimate))
    finally:
        for f in feeds:
            f.stop()
        for t in tasks:
            t.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await t
    return made


@click.group("oracle")
def oracle() -> None:
    """The settlement index: spot feeds and the BRTI estimate."""


@oracle.command("watch")
@click.option("--venue", "venues", multiple=True, type=click.Choice(sorted(SPOT_FEEDS)), help="Repeatable.")
@click.option("--url", "urls", multiple=True, metavar="VENUE=URL", help="Override a venue's websocket URL.")
@click.option("--seconds", type=float, default=0.0, show_default=True, help="Run time; 0 runs until Ctrl-C.")
@click.option("--interval", type=float, default=1.0, show_default=True, help="Seconds between estimates.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per tick.")
def watch(
    venues: tuple[str, ...], urls: tuple[str, ...], seconds: float, interval: float, as_json: bool
) -> None:
    """Connect to the venues and print the estimate and each feed's health every tick.

    Exits 1 if no tick produced an estimate.
    """

    overrides: dict[str, str] = {}
    for item in urls:
        venue, sep, url = item.partition("=")
        if not sep or venue not in SPOT_FEEDS or not url:
            click.echo(
                f"error: --url must be VENUE=URL with VENUE one of {sorted(SPOT_FEEDS)}: {item!r}", err=True
            )
            raise SystemExit(EXIT_USAGE)
        overrides[venue] = url
    if interval <= 0:
        click.echo("error: --interval must be positive", err=True)
        raise SystemExit(EXIT_USAGE)
    clock = SystemClock()
    feeds = [SPOT_FEEDS[v](clock, url=overrides.get(v)) for v in (venues or sorted(SPOT_FEEDS))]

    def emit(rec: dict[str, Any]) -> None:
        click.echo(json.dumps(rec) if as_json else _line(rec))

    try:
        made = asyncio.run(watch_feeds(feeds, seconds, interval, emit))
    except KeyboardInterrupt:
        return
    if made == 0:
        click.echo("error: no estimate: no venue delivered a usable book", err=True)
        raise SystemExit(EXIT_FAILURE)
