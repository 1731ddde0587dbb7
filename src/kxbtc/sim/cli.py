"""``kxbtc sim``: run the local Kalshi-compatible exchange.

``kxbtc sim serve`` prints exactly two lines first (the REST and WS base URLs, with the real port when
``--port 0``) and serves until SIGINT/SIGTERM, then exits 0. With ``--polymarket`` a simulated Polymarket
venue runs beside it on a port of its own, and a third line follows the two: ``POLY http://HOST:PORT``
(Gamma ``/events``, CLOB ``/book``; its market WebSocket is ``ws://HOST:PORT/ws/market``).

Without ``--trust`` it mints one key pair, writes the private key (mode 0600) to a fresh temporary
directory and names it on stderr; that directory is removed on exit.

Time: ``--speed`` runs the exchange on a ``ScaledClock``; with ``--prices`` simulated time starts where the
file starts (plus the exchange's warm-up), so a historical file replays. Signatures are always checked
against real wall-clock time, since clients sign with their own clocks. Once serving, stderr gets one line
``sim clock SPEED:SIM_NS:WALL_NS``: the value ``kxbtc run --sim-clock`` takes to trade on that time.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

import click

from kxbtc.clock import NS_PER_S, Clock, ScaledClock, SystemClock
from kxbtc.errors import ConfigError, KxbtcError
from kxbtc.sim.exchange import Exchange, SimConfig
from kxbtc.sim.faults import FaultSpec
from kxbtc.sim.harness import KeyPair, SimHarness, generate_key_pair
from kxbtc.sim.liquidity import Counterparties, LiquidityConfig
from kxbtc.sim.price_path import CsvPath, PricePath
from kxbtc.sim.server import ServerConfig
from kxbtc.units import UnitError, parse_money


@click.group("sim")
def sim() -> None:
    """The local simulated Kalshi exchange (REST + WebSocket, Trade API v2)."""


def _parse_trust(values: tuple[str, ...]) -> list[KeyPair]:
    keys: list[KeyPair] = []
    for value in values:
        key_id, sep, pem_path = value.partition("=")
        if not sep or not key_id or not pem_path:
            raise click.BadParameter(f"{value!r}: expected KEY_ID=PUBLIC_KEY.pem", param_hint="--trust")
        try:
            pem = Path(pem_path).read_bytes()
        except OSError as exc:
            raise click.BadParameter(
                f"cannot read {pem_path}: {exc.strerror}", param_hint="--trust"
            ) from None
        keys.append(KeyPair(key_id, b"", pem))
    return keys


@sim.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option(
    "--port", default=0, show_default=True, type=click.IntRange(0, 65535), help="0 picks a free port."
)
@click.option(
    "--speed",
    default=1.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Simulated time runs this many times faster than real time.",
)
@click.option(
    "--seed", default=0, show_default=True, type=int, help="Seed for ids, prices, counterparties, faults."
)
@click.option(
    "--trust", multiple=True, metavar="KEY_ID=PUBLIC_KEY.pem", help="Accept signatures from this key."
)
@click.option(
    "--balance", default="1000", show_default=True, metavar="DOLLARS", help="Starting balance per user."
)
@click.option(
    "--faults", "faults_spec", default="", metavar="SPEC", help="e.g. drop=0.02,http_5xx=0.01,delay_ms=50"
)
@click.option("--prices", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="BTC index CSV.")
@click.option(
    "--rate-limit/--no-rate-limit", default=False, show_default=True, help="Per-user token buckets."
)
@click.option(
    "--write-rate",
    default=100,
    show_default=True,
    type=click.IntRange(min=1),
    help="Write tokens per second (and burst) the account limits report; the tick-to-wire bench raises it.",
)
@click.option(
    "--requote-s",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Makers requote every market this often, in simulated seconds (default 1 for 15-minute "
    "markets, 5 for hourly): the books' update rate; the tick-to-wire bench raises it.",
)
@click.option("--counterparties/--no-counterparties", default=True, show_default=True)
@click.option(
    "--mispricing",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Scale of the makers' mispricing against the fair probability (0: small realistic noise); "
    "wider means more trades, as the soak and `make bench-memory` use.",
)
@click.option(
    "--polymarket",
    is_flag=True,
    help="Also serve a simulated Polymarket venue (Gamma, CLOB /book, market WebSocket) on its own port.",
)
def serve(
    host: str,
    port: int,
    speed: float,
    seed: int,
    trust: tuple[str, ...],
    balance: str,
    faults_spec: str,
    prices: Path | None,
    rate_limit: bool,
    write_rate: int,
    requote_s: float | None,
    counterparties: bool,
    mispricing: float,
    polymarket: bool,
) -> None:
    """Serve the simulated exchange until SIGINT or SIGTERM."""
    try:
        start_balance = parse_money(balance, "--balance")
        faults = FaultSpec.parse(faults_spec)
    except (UnitError, ConfigError) as exc:
        raise click.BadParameter(str(exc)) from None
    try:
        path_source: PricePath | None = CsvPath(prices) if prices is not None else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--prices") from None
    keys = _parse_trust(trust)
    key_dir: Path | None = None
    if not keys:
        key_dir = Path(tempfile.mkdtemp(prefix="kxbtc-sim-"))
        key = generate_key_pair()
        path = key.write_private_key(key_dir)
        keys = [key]
        click.echo(f"trusted key id {key.key_id}; private key {path}", err=True)
    clock: Clock = SystemClock() if speed == 1.0 else ScaledClock(speed)
    if path_source is not None:
        # Replay the file: simulated time starts where the file starts, after the exchange's warm-up.
        start_s = path_source.first_second() + SimConfig().history_s
        clock = ScaledClock(speed, start_ns=start_s * NS_PER_S)
    try:
        exchange = Exchange(
            clock,
            seed=seed,
            start_balance=start_balance,
            prices=path_source,
            counterparties=counterparties,
            config=SimConfig(mispricing=mispricing),
        )
        if counterparties and requote_s is not None:
            requote_every(exchange, requote_s, seed)
        config = ServerConfig(faults=faults, fault_seed=seed, rate_limit=rate_limit, write_rate=write_rate)
        harness = SimHarness(exchange, config=config, keys=keys, host=host, port=port, polymarket=polymarket)
        asyncio.run(_serve(harness, clock, speed))
    except KxbtcError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except OSError as exc:  # typically the port is taken
        click.echo(f"error: cannot serve on {host}:{port}: {exc.strerror or exc}", err=True)
        sys.exit(1)
    finally:
        if key_dir is not None:
            shutil.rmtree(key_dir, ignore_errors=True)


def requote_every(exchange: Exchange, seconds: float, seed: int) -> None:
    """``--requote-s``: the makers requote every market every ``seconds`` (simulated)."""
    quick = LiquidityConfig(
        mispricing=exchange.config.mispricing, requote_15m_s=seconds, requote_hourly_s=seconds
    )
    exchange.liquidity = Counterparties(exchange, quick, seed=seed)


async def _serve(harness: SimHarness, clock: Clock, speed: float) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await harness.start()
    host = harness.host
    print(f"REST http://{host}:{harness.port}/trade-api/v2", flush=True)
    print(f"WS ws://{host}:{harness.port}/trade-api/ws/v2", flush=True)
    if harness.poly is not None:
        print(f"POLY {harness.poly_http_url}", flush=True)
    # The simulated clock's reading and the wall clock's at one instant: what a client needs to trade on a
    # fast simulator's time (on stderr: stdout's first lines are the URLs, read by scripts).
    click.echo(f"sim clock {speed:g}:{clock.time_ns()}:{time.time_ns()} (kxbtc run --sim-clock)", err=True)
    try:
        await stop.wait()
    finally:
        await harness.stop()
