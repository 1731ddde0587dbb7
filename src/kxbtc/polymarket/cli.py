"""``kxbtc poly``: look at Polymarket's 15-minute BTC up/down market from the command line.

- ``kxbtc poly watch``: discover the window's market through Gamma, subscribe to its Up and Down tokens on
  the market WebSocket, and print the top of book of both whenever it changes.
- ``kxbtc poly book TOKEN``: one REST ``/book`` and its top of book.
- ``kxbtc poly account``: the live-order check (geoblock, key, SDK sign-in, wallet, close-only).

URLs default to the ``[polymarket]`` config defaults and can be pointed elsewhere (a local stub in tests).
Register with ``cli.add_command(poly)`` from ``kxbtc.polymarket.cli``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import click

from kxbtc.cli_support import config_option, load_config_or_exit
from kxbtc.clock import NS_PER_MS, Clock, SystemClock
from kxbtc.config import PolymarketConfig
from kxbtc.errors import KxbtcError
from kxbtc.exit_codes import EXIT_FAILURE, EXIT_USAGE
from kxbtc.polymarket.book import PolyBook
from kxbtc.polymarket.clob import ClobClient, TopOfBook, top_of_book
from kxbtc.polymarket.eligibility import sign_in
from kxbtc.polymarket.gamma import GammaClient, UpDownMarket, parse_window_start
from kxbtc.polymarket.http import PolyHttp
from kxbtc.polymarket.ws import PolymarketWsClient
from kxbtc.polymarket.ws_handlers import PolyQueueHandler
from kxbtc.units import format_count, format_price, format_price_usd, format_qty, parse_count, parse_price

__all__ = ["poly"]

_DEFAULTS = PolymarketConfig()


def _px(value: int | None) -> str | None:
    return None if value is None else format_price(value)


def side_record(book: PolyBook) -> dict[str, Any]:
    return {
        "bid": _px(book.best_bid()),
        "bid_size": format_count(book.best_bid_size()),
        "ask": _px(book.best_ask()),
        "ask_size": format_count(book.best_ask_size()),
        "live": book.is_tradeable(),
    }


def watch_record(market: UpDownMarket, up: PolyBook, down: PolyBook, now_ms: int) -> dict[str, Any]:
    """One line of ``poly watch`` as plain data (the ``--json`` object)."""
    return {
        "ts_ms": now_ms,
        "slug": market.slug,
        "up": side_record(up),
        "down": side_record(down),
    }


def _quote(price: str | None, size: str) -> str:
    """``$0.56 x 10`` from the record's exact strings (the JSON keeps them as they are)."""
    if price is None:
        return "-"
    return f"{format_price_usd(parse_price(price))} x {format_qty(parse_count(size))}"


def _side_text(name: str, rec: dict[str, Any]) -> str:
    state = "" if rec["live"] else " (stale)"
    return f"{name} {_quote(rec['bid'], rec['bid_size'])} / {_quote(rec['ask'], rec['ask_size'])}{state}"


def _watch_line(rec: dict[str, Any]) -> str:
    return f"{rec['slug']}  {_side_text('Up', rec['up'])}   {_side_text('Down', rec['down'])}"


async def watch_market(
    gamma_url: str,
    ws_url: str,
    window_start_s: int,
    emit: Callable[[dict[str, Any]], None],
    *,
    clock: Clock,
    updates: int,
    seconds: float,
    interval: float,
) -> UpDownMarket:
    """Discover, subscribe, and emit a record per top-of-book change (at most one per ``interval``)."""
    http = PolyHttp(gamma_url, clock)
    try:
        market = await GammaClient(http).updown_15m(window_start_s)
    finally:
        await http.aclose()
    events = PolyQueueHandler()
    client = PolymarketWsClient(ws_url, clock, handler=events)
    await client.subscribe(market.tokens)
    client.start()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds if seconds > 0 else None
    last_key: tuple[Any, ...] | None = None
    last_emit = -float("inf")
    emitted = 0
    try:
        while updates <= 0 or emitted < updates:
            timeout = None if deadline is None else deadline - loop.time()
            if timeout is not None and timeout <= 0:
                break
            try:
                await asyncio.wait_for(events.queue.get(), timeout)
            except TimeoutError:
                break
            up, down = client.books[market.up_token], client.books[market.down_token]
            if up.stale and down.stale:
                continue
            rec = watch_record(market, up, down, clock.time_ns() // NS_PER_MS)
            key = (json.dumps(rec["up"]), json.dumps(rec["down"]))
            if key == last_key or loop.time() - last_emit < interval:
                continue
            last_key, last_emit = key, loop.time()
            emit(rec)
            emitted += 1
    finally:
        await client.close()
    return market


@click.group("poly")
def poly() -> None:
    """Polymarket's 15-minute BTC up/down market: discovery, books, and the live-order account check."""


@poly.command("watch")
@click.option("--window-start", default="now", show_default=True, help="ISO 8601 time in the window, or now.")
@click.option("--gamma-url", default=_DEFAULTS.gamma_url, show_default=True)
@click.option("--ws-url", default=_DEFAULTS.ws_url, show_default=True)
@click.option("--updates", type=int, default=0, show_default=True, help="Stop after N lines; 0: no limit.")
@click.option("--seconds", type=float, default=0.0, show_default=True, help="Run time; 0 runs until Ctrl-C.")
@click.option("--interval", type=float, default=1.0, show_default=True, help="Least seconds between lines.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def watch(
    window_start: str,
    gamma_url: str,
    ws_url: str,
    updates: int,
    seconds: float,
    interval: float,
    as_json: bool,
) -> None:
    """Discover the window's market and print the Up and Down top of book as it changes."""
    clock = SystemClock()
    try:
        start_s = parse_window_start(window_start, clock)
    except ValueError as exc:
        click.echo(f"error: --window-start: {exc}", err=True)
        raise SystemExit(EXIT_USAGE) from None
    if interval < 0:
        click.echo("error: --interval must be >= 0", err=True)
        raise SystemExit(EXIT_USAGE)

    def emit(rec: dict[str, Any]) -> None:
        click.echo(json.dumps(rec) if as_json else _watch_line(rec))

    try:
        asyncio.run(
            watch_market(
                gamma_url,
                ws_url,
                start_s,
                emit,
                clock=clock,
                updates=updates,
                seconds=seconds,
                interval=interval,
            )
        )
    except KeyboardInterrupt:
        return
    except KxbtcError as exc:
        click.echo(f"error: {type(exc).__name__}: {exc}", err=True)
        raise SystemExit(EXIT_FAILURE) from None


def _top_record(top: TopOfBook) -> dict[str, Any]:
    return {
        "asset_id": top.asset_id,
        "bid": _px(top.bid),
        "bid_size": format_count(top.bid_size),
        "ask": _px(top.ask),
        "ask_size": format_count(top.ask_size),
        "timestamp_ms": top.timestamp_ms,
    }


async def _fetch_top(clob_url: str, token: str) -> TopOfBook:
    http = PolyHttp(clob_url)
    try:
        return top_of_book(await ClobClient(http).book(token))
    finally:
        with contextlib.suppress(Exception):
            await http.aclose()


@poly.command("book")
@click.argument("token")
@click.option("--clob-url", default=_DEFAULTS.clob_url, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def book(token: str, clob_url: str, as_json: bool) -> None:
    """Fetch one token's REST book and print its best bid and ask."""
    try:
        top = asyncio.run(_fetch_top(clob_url, token))
    except KxbtcError as exc:
        click.echo(f"error: {type(exc).__name__}: {exc}", err=True)
        raise SystemExit(EXIT_FAILURE) from None
    rec = _top_record(top)
    if as_json:
        click.echo(json.dumps(rec))
    else:
        click.echo(
            f"{token}  bid {_quote(rec['bid'], rec['bid_size'])}  ask {_quote(rec['ask'], rec['ask_size'])}"
        )


async def account_record(cfg: PolymarketConfig, clock: Clock, environ: Mapping[str, str]) -> dict[str, Any]:
    """What ``poly account`` reports: the eligibility check and the sign-in, as plain data."""
    outcome = await sign_in(cfg, clock, environ)
    geo = outcome.geoblock
    record: dict[str, Any] = {
        "geoblock": None
        if geo is None
        else {"blocked": geo.blocked, "country": geo.country, "region": geo.region},
        "orders_allowed": outcome.venue is not None,
        "read_only": outcome.read_only,
        "wallet": None,
    }
    if outcome.venue is not None:
        record["wallet"] = outcome.venue.wallet
        await outcome.venue.aclose()
    return record


@poly.command("account")
@config_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
def account(config_path: Path | None, as_json: bool) -> None:
    """Check live order entry: the geoblock answer, the key, the sign-in, the wallet, close-only.

    Reads ``[polymarket]`` from the config and the key from the environment variable it names; places
    no order. Exit status 0 when orders are allowed, 1 when Polymarket would run read-only.
    """
    cfg = load_config_or_exit(config_path).polymarket
    record = asyncio.run(account_record(cfg, SystemClock(), os.environ))
    if as_json:
        click.echo(json.dumps(record))
    elif record["read_only"] is None:
        click.echo(f"Polymarket orders allowed; wallet {record['wallet']}")
    else:
        click.echo(f"Polymarket is read-only: {record['read_only']}")
    sys.exit(0 if record["read_only"] is None else EXIT_FAILURE)
