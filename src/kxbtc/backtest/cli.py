"""``kxbtc backtest``: the deterministic in-process backtest against the simulator, or a replay of a
recording, with its report; ``kxbtc record``: record live market data for the replay."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.progress import Progress

from kxbtc.cli_support import config_option, load_config_or_exit, parse_sim_clock
from kxbtc.clock import parse_utc_ns
from kxbtc.config import Config
from kxbtc.errors import ConfigError, KxbtcError
from kxbtc.exit_codes import EXIT_FAILURE, EXIT_OK, EXIT_USAGE
from kxbtc.strategy import KNOWN_STRATEGIES

if TYPE_CHECKING:
    from kxbtc.backtest.recorder import RecorderStats, RecordingWriter


@click.command("backtest")
@config_option
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
    # cross_venue needs a Polymarket book, which neither the simulator nor a Kalshi recording has.
    type=click.Choice([name for name in KNOWN_STRATEGIES if name != "cross_venue"]),
    multiple=True,
    default=(),
    help="Run exactly these strategies (repeat the option). Default: the configuration's enabled ones.",
)
@click.option(
    "--replay",
    "replay_paths",
    type=click.Path(path_type=Path, exists=True),
    multiple=True,
    help="Replay recordings instead of the simulator (repeat the option): a kxbtc recording, a folder "
    "in the shared research format (markets.csv + kalshi_ws_<day>.jsonl.gz) or one of its day files.",
)
@click.option(
    "--latency-ms",
    type=click.FloatRange(min=0.0, max=60_000.0),
    default=50.0,
    show_default=True,
    help="With --replay: one-way delay; an order fills against the book as recorded this long after "
    "the decision, and its answer comes back as long again.",
)
@click.option(
    "--index",
    type=click.Choice(["auto", "kalshi", "spot"]),
    default="auto",
    show_default=True,
    help="With --replay: the settlement index from Kalshi's cfbenchmarks_value prints, or from recorded "
    "spot trades plus a basis learnt from markets already settled (auto: spot when recorded).",
)
@click.option(
    "--trade-from",
    default=None,
    metavar="ISO-TIME",
    help="With --replay: observe before this UTC time (books, index and basis warm up), trade and "
    "report only markets opening from it on (e.g. 2026-05-13T15:00:00Z).",
)
@click.option(
    "--llm-answers",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    default=None,
    help="With --replay: a database recorded by a live run; the LLM answers recorded there become the "
    "strategies' priors, each from when the live engine had it. A backtest never calls a model.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
def backtest(
    config_path: Path | None,
    markets: int,
    seeds: tuple[int, ...],
    mispricing: float,
    strategies: tuple[str, ...],
    replay_paths: tuple[Path, ...],
    latency_ms: float,
    index: str,
    trade_from: str | None,
    llm_answers: Path | None,
    as_json: bool,
) -> None:
    """Run strategies against the simulator second by second (no network), or on a recording with
    --replay, and report P&L after fees."""
    from kxbtc.backtest.report import summarize
    from kxbtc.backtest.sim_loop import run_backtest

    cfg = load_config_or_exit(config_path)
    if strategies:
        from kxbtc.backtest.sim_loop import with_strategies

        cfg = with_strategies(cfg, strategies)
    if replay_paths:
        _replay(cfg, replay_paths, latency_ms, index, _iso_ns(trade_from), llm_answers, as_json)
    if trade_from:
        # Silently running the simulator instead would look like an out-of-sample result.
        raise click.UsageError("--trade-from applies only with --replay")
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
            on_progress=advance,
        )
    report = summarize(runs)
    click.echo(json.dumps(report.to_json(), indent=2) if as_json else report.render())
    sys.exit(EXIT_OK if report.ledger_matches_exchange else EXIT_FAILURE)


def _iso_ns(text: str | None) -> int:
    if not text:
        return 0
    try:
        return parse_utc_ns(text, require_zone=True)
    except ValueError as exc:
        raise click.BadParameter(f"{exc} (an ISO time like 2026-05-13T15:00:00Z)") from None


def _replay(
    cfg: Config,
    paths: tuple[Path, ...],
    latency_ms: float,
    index: str,
    trade_from_ns: int,
    llm_answers: Path | None,
    as_json: bool,
) -> None:
    from kxbtc.backtest.recording import RecordingError
    from kxbtc.recordings.open import UnknownRecordingError
    from kxbtc.recordings.shared_folder import SharedFormatError
    from kxbtc.replay.api import replay
    from kxbtc.replay.runner import ReplaySettings
    from kxbtc.store.connection import StoreError

    try:
        settings = ReplaySettings(
            latency_ms=latency_ms, index=index, trade_from_ns=trade_from_ns, llm_answers=llm_answers
        )
        report = replay(cfg, paths, settings)
    except (RecordingError, UnknownRecordingError, SharedFormatError, StoreError) as exc:
        click.echo(f"kxbtc: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    click.echo(json.dumps(report.to_json(), indent=2) if as_json else report.render())
    sys.exit(EXIT_OK)


@click.command("record")
@click.option(
    "--out",
    "out_path",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="The recording to write: FILE.jsonl, or FILE.jsonl.gz to compress it.",
)
@click.option("--series", multiple=True, default=("KXBTC15M",), show_default=True)
@click.option(
    "--minutes",
    type=click.FloatRange(min=0.0, min_open=True),
    default=None,
    help="Stop after this many minutes (on the recording's clock). Default: until interrupted.",
)
@click.option(
    "--env",
    type=click.Choice(["demo", "prod", "sim"]),
    default="demo",
    show_default=True,
    help="Kalshi's demo or production exchange, or a simulator given by --rest-url/--ws-url.",
)
@click.option("--rest-url", default=None, help="Override the REST base URL (required with --env sim).")
@click.option("--ws-url", default=None, help="Override the WebSocket URL (required with --env sim).")
@config_option
@click.option("--key-id", default=None)
@click.option("--key-file", type=click.Path(path_type=Path), default=None)
@click.option("--no-ntp", is_flag=True, help="Take the clock offset from the exchange's Date header only.")
@click.option(
    "--snapshot-every",
    type=click.FloatRange(min=0.0),
    default=0.0,
    show_default=True,
    help="Ask for fresh book snapshots every this many seconds (0: never): checkpoints the replay "
    "verifies its rebuilt books against.",
)
@click.option(
    "--sim-clock",
    default=None,
    metavar="SPEED:SIM_NS:WALL_NS",
    help="With --env sim: stamp lines with the simulator's clock (see `kxbtc run --sim-clock`).",
)
def record(
    out_path: Path,
    series: tuple[str, ...],
    minutes: float | None,
    env: str,
    rest_url: str | None,
    ws_url: str | None,
    config_path: Path | None,
    key_id: str | None,
    key_file: Path | None,
    no_ntp: bool,
    snapshot_every: float,
    sim_clock: str | None,
) -> None:
    """Record market data (definitions, books, index, trades, results) for `kxbtc backtest --replay`."""

    if env == "sim" and not (rest_url and ws_url):
        click.echo("kxbtc: --env sim needs --rest-url and --ws-url (see `kxbtc sim serve`)", err=True)
        sys.exit(EXIT_USAGE)
    if sim_clock is not None and env != "sim":
        click.echo("kxbtc: --sim-clock only applies to --env sim", err=True)
        sys.exit(EXIT_USAGE)
    anchor = parse_sim_clock(sim_clock) if sim_clock is not None else None
    cfg = load_config_or_exit(config_path)
    try:
        stats = asyncio.run(
            _record(
                cfg,
                out_path,
                series,
                minutes,
                env,
                (rest_url, ws_url),
                key_id,
                key_file,
                no_ntp,
                snapshot_every,
                anchor,
            )
        )
    except KxbtcError as exc:
        click.echo(f"kxbtc: {exc}", err=True)
        sys.exit(EXIT_USAGE if isinstance(exc, ConfigError) else EXIT_FAILURE)
    click.echo(
        f"recorded {stats.frames:,} frames from {len(stats.markets)} markets to {out_path}"
        + (f"; {len(stats.errors)} errors (first: {stats.errors[0]})" if stats.errors else ""),
        err=True,
    )
    sys.exit(EXIT_OK)


async def _record(
    cfg: Config,
    out_path: Path,
    series: tuple[str, ...],
    minutes: float | None,
    env: str,
    urls: tuple[str | None, str | None],
    key_id: str | None,
    key_file: Path | None,
    no_ntp: bool,
    snapshot_every: float,
    sim_anchor: tuple[float, int, int] | None,
) -> RecorderStats:
    """The engine's connection set-up (keys, clock sync, clients), then the recorder until done."""
    from kxbtc.backtest.recorder import Recorder, RecordingWriter
    from kxbtc.clock import NS_PER_S
    from kxbtc.engine.live import (
        endpoints,
        load_credentials,
        stop_on_signals,
        synced_signer,
        trading_clock,
    )
    from kxbtc.kalshi.rest import KalshiRestClient

    creds = load_credentials(cfg, key_id, key_file)
    default_rest, default_ws = endpoints(cfg, env) if env != "sim" else ("", "")
    rest_url, ws_url = urls[0] or default_rest, urls[1] or default_ws
    signer, sync = await synced_signer(cfg, creds, rest_url, no_ntp=no_ntp)
    clock = trading_clock(sync.clock, sim_anchor)
    stop = stop_on_signals()
    until = None if minutes is None else clock.time_ns() + int(minutes * 60 * NS_PER_S)
    console = Console(stderr=True)
    async with KalshiRestClient(rest_url, signer, clock) as rest:
        recorder = Recorder(
            rest,
            ws_url,
            signer,
            clock,
            RecordingWriter(out_path),
            series=series,
            snapshot_every_s=snapshot_every,
            on_progress=_progress_printer(console),
        )
        resync = asyncio.create_task(sync.run())
        try:
            return await recorder.run(until_ns=until, stop=stop)
        finally:
            resync.cancel()


def _progress_printer(console: Console) -> Callable[[RecorderStats, RecordingWriter], None]:
    """One progress line on stderr: rewritten in place on a terminal, else printed every 30 s."""
    last = [0.0]

    def show(stats: RecorderStats, writer: RecordingWriter) -> None:
        minutes = (stats.now_ns - stats.started_ns) / 60e9
        text = (
            f"record: {minutes:6.1f} min, {stats.frames:,} frames, {writer.lines:,} lines written "
            f"(backlog {writer.backlog}), {len(stats.markets)} markets, {len(stats.errors)} errors"
        )
        if console.is_terminal:
            console.file.write("\r" + text)
            console.file.flush()
        elif time.monotonic() - last[0] >= 30.0:
            last[0] = time.monotonic()
            console.print(text, highlight=False)

    return show
