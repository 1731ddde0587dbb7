"""Engine commands: ``kxbtc demo``, ``kxbtc run``, ``kxbtc doctor``, ``kxbtc config check``.

Every expected failure (bad config, missing key file, unreadable database) is one clear line on stderr
and exit code 2; a runtime failure is exit code 1; success is 0.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import sys
import uuid
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import click

from kxbtc.cli_support import config_option, load_config_or_exit, parse_sim_clock
from kxbtc.config import Config
from kxbtc.errors import ConfigError, KxbtcError
from kxbtc.exit_codes import EXIT_FAILURE, EXIT_OK, EXIT_USAGE
from kxbtc.store.connection import StoreOpenError
from kxbtc.timesync import SkewGuard
from kxbtc.units import format_usd

if TYPE_CHECKING:
    from kxbtc.core.trading_core import TradingCore
    from kxbtc.engine.live_view import SessionView

#: The Bitcoin series kxbtc trades: the 15-minute market, the hourly strike ladder, the hourly ranges.
BTC_SERIES = ("KXBTC15M", "KXBTCD", "KXBTC")


@click.group("config")
def config_group() -> None:
    """Configuration commands."""


def _value(value: object) -> str:
    """A setting as it would be written in the TOML file, big integers grouped (``25_000``) for reading."""
    if isinstance(value, int | Decimal) and not isinstance(value, bool) and value == int(value):
        return f"{int(value):_}"
    return str(value)


@config_group.command("check")
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print the effective configuration as JSON.")
def config_check(config_path: Path | None, as_json: bool) -> None:
    """Validate the config file and environment; print the effective settings."""
    cfg = load_config_or_exit(config_path)
    if as_json:
        click.echo(cfg.model_dump_json(indent=2))
    else:
        click.echo(f"configuration OK ({config_path or 'defaults'})")
        for section in ("risk", "kalshi", "clock", "store", "engine"):
            click.echo(
                f"[{section}] "
                + ", ".join(f"{k}={_value(v)}" for k, v in getattr(cfg, section).model_dump().items())
            )
        enabled = [name for name, s in cfg.strategies.items() if s.enabled]
        click.echo(f"strategies: {', '.join(enabled) or 'none'}")
        llm = cfg.llm
        roles = ", ".join(
            f"{name}={r.provider}:{r.model}@{r.weight}" for name, r in llm.roles.items() if r.enabled
        )
        click.echo(
            f"[llm] enabled={llm.enabled}, interval_s={llm.interval_s}, blend_weight={llm.blend_weight},"
            f" daily_budget_usd={_value(llm.daily_budget_usd)},"
            f" max_calls_per_day={_value(llm.max_calls_per_day)};"
            f" roles: {roles}"
        )
        poly = cfg.polymarket
        click.echo(
            f"[polymarket] enabled={poly.enabled}, min_edge={poly.min_edge},"
            f" basis_margin={poly.basis_margin}, max_pair_contracts={poly.max_pair_contracts}"
        )


def cross_venue_refusal(cfg: Config, env: str, environ: Mapping[str, str]) -> str | None:
    """Why ``run --env prod`` may not trade the cross-venue pair, or None if it may.

    Real Kalshi legs need real Polymarket legs: ``[polymarket] venue = "live"`` and a private key in the
    configured environment variable. The eligibility check (geoblock, close-only) runs at start; when it
    says no the desk proposes nothing, so no Kalshi leg goes out alone.
    """
    cross_venue = cfg.strategies.get("cross_venue")
    if env != "prod" or not cfg.polymarket.enabled or cross_venue is None or not cross_venue.enabled:
        return None
    poly = cfg.polymarket
    if poly.venue != "live":
        return (
            'its Polymarket leg is paper ([polymarket] venue = "paper"), so real Kalshi legs would go'
            ' unhedged; set venue = "live" with credentials (README, Polymarket live orders)'
        )
    if not environ.get(poly.private_key_env):
        return f'[polymarket] venue = "live" needs the private key in ${poly.private_key_env}'
    return None


@click.command("doctor")
@config_option
@click.option("--env", type=click.Choice(["demo", "prod"]), default="demo", show_default=True)
@click.option("--rest-url", default=None, help="Override the REST base URL (e.g. the simulator's).")
@click.option("--key-id", default=None)
@click.option("--key-file", type=click.Path(path_type=Path), default=None)
@click.option("--no-ntp", is_flag=True, help="Skip NTP; measure skew from the exchange's Date header only.")
@click.option("--json", "as_json", is_flag=True)
def doctor(
    config_path: Path | None,
    env: str,
    rest_url: str | None,
    key_id: str | None,
    key_file: Path | None,
    no_ntp: bool,
    as_json: bool,
) -> None:
    """Check keys, clock skew, connectivity, authentication and the crypto shard's balance."""
    from kxbtc.engine.doctor import run_checks
    from kxbtc.engine.live import endpoints

    cfg = load_config_or_exit(config_path)
    url = rest_url or endpoints(cfg, env)[0]
    checks = asyncio.run(run_checks(cfg, url, key_id=key_id, key_file=key_file, ntp=not no_ntp))
    if as_json:
        click.echo(json.dumps([{"check": c.name, "ok": c.ok, "detail": c.detail} for c in checks], indent=2))
    else:
        for c in checks:
            click.echo(f"{'PASS' if c.ok else 'FAIL'}  {c.name:<14} {c.detail}")
    sys.exit(EXIT_OK if all(c.ok for c in checks) else EXIT_FAILURE)


@click.command("run")
@config_option
@click.option(
    "--env",
    type=click.Choice(["demo", "prod", "sim"]),
    required=True,
    help="Kalshi's demo or production exchange, or a simulator given by --rest-url/--ws-url.",
)
@click.option("--rest-url", default=None, help="Override the REST base URL (required with --env sim).")
@click.option("--ws-url", default=None, help="Override the WebSocket URL (required with --env sim).")
@click.option("--no-ntp", is_flag=True, help="Take the clock offset from the exchange's Date header only.")
@click.option("--key-id", default=None)
@click.option("--key-file", type=click.Path(path_type=Path), default=None)
@click.option("--db", "db_path", type=click.Path(path_type=Path), default=None)
@click.option(
    "--journal",
    "journal_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Record every input of the trading core (all frames, markets, answers) to this file, replayable "
    "with `kxbtc backtest --replay` and scorable with `kxbtc score`. Observe-only runs record to "
    "<db>.journal.jsonl.gz unless this names another file.",
)
@click.option(
    "--series",
    type=click.Choice(BTC_SERIES),
    multiple=True,
    default=BTC_SERIES,
    show_default=True,
    help="Series to trade (repeat the option); the 15-minute market and both hourly ladders by default.",
)
@click.option("--yes-real-money", is_flag=True, help="Required with --env prod: this trades real money.")
@click.option(
    "--sim-clock",
    default=None,
    metavar="SPEED:SIM_NS:WALL_NS",
    help="With --env sim: trade on the simulator's clock, which runs SPEED times faster than real time "
    "and read SIM_NS (Unix ns) at wall-clock time WALL_NS. Default: the wall clock (a 1x simulator).",
)
def run_live(
    config_path: Path | None,
    env: str,
    rest_url: str | None,
    ws_url: str | None,
    no_ntp: bool,
    key_id: str | None,
    key_file: Path | None,
    db_path: Path | None,
    journal_path: Path | None,
    series: tuple[str, ...],
    yes_real_money: bool,
    sim_clock: str | None,
) -> None:
    """Trade live on Kalshi's demo or production exchange until interrupted."""
    if env == "prod" and not yes_real_money:
        click.echo("kxbtc: refusing --env prod without --yes-real-money (this trades real money)", err=True)
        sys.exit(EXIT_USAGE)
    if env == "sim" and not (rest_url and ws_url):
        click.echo("kxbtc: --env sim needs --rest-url and --ws-url (see `kxbtc sim serve`)", err=True)
        sys.exit(EXIT_USAGE)
    if sim_clock is not None and env != "sim":
        click.echo("kxbtc: --sim-clock only applies to --env sim", err=True)
        sys.exit(EXIT_USAGE)
    anchor = parse_sim_clock(sim_clock) if sim_clock is not None else None
    cfg = load_config_or_exit(config_path)
    refusal = cross_venue_refusal(cfg, env, os.environ)
    if refusal is not None:
        click.echo(f"kxbtc: refusing strategies.cross_venue with --env prod: {refusal}", err=True)
        sys.exit(EXIT_USAGE)
    from kxbtc.core.stand_aside import trading_decision

    trades, why = trading_decision(cfg, simulated=env == "sim")
    click.echo(f"kxbtc: {why}", err=True)
    if journal_path is None and not trades:  # standing aside: keep recording what it would have seen
        journal_path = Path(f"{db_path or cfg.store.path}.journal.jsonl.gz")
    if journal_path is not None:
        click.echo(f"kxbtc: recording to {journal_path} (kxbtc score {journal_path})", err=True)
    try:
        urls = (rest_url, ws_url) if env == "sim" else None
        code = asyncio.run(
            _run_live(cfg, env, key_id, key_file, db_path, series, urls, no_ntp, anchor, journal_path)
        )
    except KeyboardInterrupt:  # Ctrl-C before the engine took over the signal: nothing was traded yet
        click.echo("kxbtc: interrupted before trading started", err=True)
        sys.exit(EXIT_OK)
    except KxbtcError as exc:
        click.echo(f"kxbtc: {exc}", err=True)
        sys.exit(EXIT_USAGE if isinstance(exc, ConfigError | StoreOpenError) else EXIT_FAILURE)
    sys.exit(code)


async def _run_live(
    cfg: Config,
    env: str,
    key_id: str | None,
    key_file: Path | None,
    db_path: Path | None,
    series: tuple[str, ...],
    urls: tuple[str | None, str | None] | None,
    no_ntp: bool,
    sim_anchor: tuple[float, int, int] | None = None,
    journal_path: Path | None = None,
) -> int:
    from kxbtc.alerts.watch import start_alerts
    from kxbtc.clock import SystemClock
    from kxbtc.engine.core import Engine
    from kxbtc.engine.journal import EngineJournal
    from kxbtc.engine.live import (
        endpoints,
        load_credentials,
        stop_on_signals,
        synced_signer,
        trading_clock,
    )
    from kxbtc.engine.live_view import SessionView
    from kxbtc.kalshi.rest import KalshiRestClient
    from kxbtc.kalshi.ws import KalshiWsClient
    from kxbtc.store.db import SqliteStore

    creds = load_credentials(cfg, key_id, key_file)
    rest_url, ws_url = endpoints(cfg, env) if urls is None else (str(urls[0]), str(urls[1]))
    signer, sync = await synced_signer(cfg, creds, rest_url, no_ntp=no_ntp)
    store = SqliteStore(db_path or cfg.store.path)
    # Signatures always use the corrected wall clock; trading follows a fast simulator's clock if given.
    trade_clock = trading_clock(sync.clock, sim_anchor)
    stop = stop_on_signals()
    async with KalshiRestClient(rest_url, signer, trade_clock, on_clock_rejected=sync.resync) as rest:
        # Connection housekeeping (pings, backoff) runs on the machine's monotonic clock.
        ws = KalshiWsClient(ws_url, signer, SystemClock(), on_clock_rejected=sync.resync)
        run_id = uuid.uuid4().hex
        journal = None
        if journal_path is not None:
            journal = EngineJournal(journal_path, trade_clock)
            journal.start(series, run_id, use_yes_price=ws.use_yes_price)
        engine = Engine(
            cfg,
            rest=rest,
            ws=ws,
            store=store,
            clock=trade_clock,
            run_id=run_id,
            series=series,
            clock_error_ms=lambda: _clock_error_ms(sync.guard),
            simulated=env == "sim",
            journal=journal,
            mode="sim" if env == "sim" else f"kalshi-{env}",
            freeze_gc=True,
        )
        # On a terminal: the live panel with the feed under it; elsewhere the feed line by line.
        view = SessionView(interactive=sys.stderr.isatty(), title=f"kxbtc run --env {env}")
        for sink in view.sinks():
            engine.core.feed.attach(sink)
        alerts = start_alerts(cfg, engine.core, trade_clock)
        resync = asyncio.create_task(sync.run())
        redraw = asyncio.create_task(_redraw(view, engine.core))
        try:
            with view:
                # SIGINT/SIGTERM: cancel resting orders, reconcile, flush (Engine.shutdown)
                await engine.run(stop=stop)
                view.draw(engine.core, force=True)  # the final state stays on screen
        finally:
            resync.cancel()
            redraw.cancel()
            if alerts is not None:
                await alerts.close()
            click.echo(run_summary(engine.core, str(db_path or cfg.store.path)), err=True)
            store.close()
            if journal is not None:
                journal.close()
    return EXIT_OK


async def _redraw(view: SessionView, core: TradingCore) -> None:
    """The live panel follows the engine four times a second (wall clock: display only)."""
    if not view.interactive:
        return
    while True:
        await asyncio.sleep(0.25)
        view.draw(core, force=True)


def run_summary(core: TradingCore, db: str) -> str:
    """The summary ``kxbtc run`` prints when it stops (Ctrl-C included): the figures so far."""
    ledger = core.portfolio.ledger
    return (
        f"kxbtc run stopped: orders {core.stats.orders_sent}, fills {core.portfolio.fill_count}, "
        f"settled markets {len(core.portfolio.settled)}, "
        f"realized P&L {format_usd(ledger.total_realized() - ledger.total_fees())} "
        f"(net of {format_usd(ledger.total_fees())} fees); database {db} (kxbtc status --db {db})"
    )


def _clock_error_ms(guard: SkewGuard) -> float:
    """The skew the risk gate sees: unbounded while signing is refused, else the measured error bound."""
    if guard.refusal() is not None:
        return math.inf
    return (guard.error_bound_ns() or 0) / 1_000_000
