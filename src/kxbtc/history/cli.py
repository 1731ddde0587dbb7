"""``kxbtc history fetch``: download Kalshi's public history of one series and BTC spot candles into a
SQLite file, resumably.

    kxbtc history fetch --series KXBTC15M --from 2026-01-01 --to 2026-02-01 --db history.sqlite

Dates are UTC days; the range is [from, to). Kill it at any time and run the same command again: it
resumes where it stopped. Prints one summary line (``--json``: one JSON object). Errors are one line on
stderr with exit code 2 for bad input and 1 for a failure at run time.
"""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import click

from kxbtc.clock import SystemClock
from kxbtc.errors import ConfigError, KxbtcError
from kxbtc.exit_codes import EXIT_FAILURE, EXIT_USAGE
from kxbtc.history.db import HistoryDb
from kxbtc.history.fetcher import FetchPlan, FetchSummary, HistoryFetcher
from kxbtc.history.spot import COINBASE_EXCHANGE_URL, SpotCandlesClient
from kxbtc.json_http import JsonGetter, RetryPolicy
from kxbtc.kalshi.history import MAX_PAGE, KalshiHistoryApi, kalshi_error

KALSHI_PRODUCTION_URL = "https://external-api.kalshi.com/trade-api/v2"


@click.group("history")
def history() -> None:
    """Public market history: Kalshi's settled markets, candles and trades, and BTC spot candles."""


def _day(text: str, flag: str) -> int:
    try:
        day = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise ConfigError(f"{flag} {text!r}: expected a date YYYY-MM-DD") from None
    return int(day.timestamp())


def _fail(message: str, code: int) -> None:
    click.echo(f"kxbtc history: {message}", err=True)
    sys.exit(code)


@history.command("fetch")
@click.option("--series", required=True, help="Series ticker, e.g. KXBTC15M.")
@click.option("--from", "from_day", required=True, metavar="YYYY-MM-DD", help="First UTC day (inclusive).")
@click.option("--to", "to_day", required=True, metavar="YYYY-MM-DD", help="Last UTC day (exclusive).")
@click.option("--db", "db_path", required=True, type=click.Path(path_type=Path), help="SQLite file.")
@click.option("--rest-url", default=KALSHI_PRODUCTION_URL, show_default=True, help="Kalshi REST base URL.")
@click.option("--spot-url", default=COINBASE_EXCHANGE_URL, show_default=True, help="Coinbase Exchange URL.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
@click.option(
    "--max-rps",
    default=10.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Most requests per second to each API.",
)
@click.option("--page-size", default=MAX_PAGE, show_default=True, type=click.IntRange(1, MAX_PAGE))
@click.option("--max-retries", default=8, show_default=True, type=click.IntRange(0, 100))
@click.option(
    "--retry-base",
    default=0.5,
    show_default=True,
    type=click.FloatRange(min=0),
    help="First retry backoff in seconds (doubling; a 429's Retry-After wins).",
)
def fetch(
    series: str,
    from_day: str,
    to_day: str,
    db_path: Path,
    rest_url: str,
    spot_url: str,
    as_json: bool,
    max_rps: float,
    page_size: int,
    max_retries: int,
    retry_base: float,
) -> None:
    """Fetch settled markets closing in [FROM, TO), their candles and trades, and spot candles."""
    try:
        plan = FetchPlan(
            series=series,
            start_ts=_day(from_day, "--from"),
            end_ts=_day(to_day, "--to"),
            market_page=min(page_size, 1000),
            trade_page=page_size,
        )
    except (ConfigError, ValueError) as exc:
        _fail(str(exc), EXIT_USAGE)
        return
    policy = RetryPolicy(max_retries=max_retries, backoff_base_s=retry_base, min_interval_s=1.0 / max_rps)
    try:
        with HistoryDb(db_path) as db:
            summary = asyncio.run(_run(db, plan, rest_url, spot_url, policy))
    except ConfigError as exc:
        _fail(str(exc), EXIT_USAGE)
        return
    except KxbtcError as exc:
        _fail(str(exc), EXIT_FAILURE)
        return
    click.echo(json.dumps(asdict(summary), sort_keys=True) if as_json else summary.line())


async def _run(
    db: HistoryDb, plan: FetchPlan, rest_url: str, spot_url: str, policy: RetryPolicy
) -> FetchSummary:
    clock = SystemClock()
    async with (
        JsonGetter(rest_url, clock=clock, policy=policy, error_for=kalshi_error) as kalshi_http,
        JsonGetter(spot_url, clock=clock, policy=policy) as spot_http,
    ):
        fetcher = HistoryFetcher(db, KalshiHistoryApi(kalshi_http), SpotCandlesClient(spot_http), plan)
        return await fetcher.run()
