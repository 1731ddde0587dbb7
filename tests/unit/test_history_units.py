"""The history fetch's pieces on their own: the retrying GET, wire-to-row conversion, and the command's
one-line errors with their exit codes."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import httpx2
import pytest
from click.testing import CliRunner

from kxbtc.cli import cli
from kxbtc.clock import NS_PER_S, ManualClock
from kxbtc.errors import ProtocolError, RateLimitedError, RejectedError
from kxbtc.history.rows import exact_scaled
from kxbtc.json_http import JsonGetter, RetryPolicy, retry_after_s
from kxbtc.kalshi.history import _HistoricalCandlesticks, kalshi_error
from kxbtc.kalshi.rest_messages import decode


class NoWaitClock(ManualClock):
    def __init__(self) -> None:
        super().__init__()
        self.slept: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.advance(seconds)


def getter(
    handler: Callable[[httpx2.Request], httpx2.Response], clock: NoWaitClock, **policy: float
) -> JsonGetter:
    return JsonGetter(
        "http://api.test/trade-api/v2",
        clock=clock,
        policy=RetryPolicy(**policy),  # type: ignore[arg-type]
        error_for=kalshi_error,
        transport=httpx2.MockTransport(handler),
    )


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = 1_767_225_600 * NS_PER_S  # Thu, 01 Jan 2026 00:00:00 GMT
    assert retry_after_s("7", now) == 7.0
    assert retry_after_s("Thu, 01 Jan 2026 00:00:30 GMT", now) == 30.0
    assert retry_after_s("soon", now) is None and retry_after_s(None, now) is None


async def test_429s_wait_for_retry_after_then_succeed_and_are_counted() -> None:
    answers = [
        httpx2.Response(429, json={"error": "too many requests"}, headers={"Retry-After": "2"}),
        httpx2.Response(429, json={"error": "too many requests"}),
        httpx2.Response(200, json={"ok": True}),
    ]
    clock = NoWaitClock()
    async with getter(lambda request: answers.pop(0), clock, backoff_base_s=0.5, backoff_max_s=0.5) as http:
        assert await http.get("/markets") == b'{"ok":true}'
    assert http.stats.rate_limited == 2 and http.stats.retries == 2 and http.stats.requests == 3
    assert http.stats.waits[0] == 2.0 and 0.25 <= http.stats.waits[1] <= 0.5
    assert clock.slept == http.stats.waits


async def test_a_rejection_is_raised_at_once_and_429s_give_up_after_max_retries() -> None:
    clock = NoWaitClock()
    bad = httpx2.Response(400, json={"msg": "Parameter validation failed for GetMarkets"})
    async with getter(lambda request: bad, clock) as http:
        with pytest.raises(RejectedError):
            await http.get("/markets")
    assert http.stats.requests == 1
    limited = httpx2.Response(429, json={"error": "too many requests"})
    async with getter(lambda request: limited, clock, max_retries=2) as http:
        with pytest.raises(RateLimitedError):
            await http.get("/markets")
    assert http.stats.requests == 3


async def test_requests_are_paced_on_the_injected_clock() -> None:
    clock = NoWaitClock()
    async with getter(lambda request: httpx2.Response(200, json={}), clock, min_interval_s=0.25) as http:
        for _ in range(3):
            await http.get("/markets")
    assert clock.slept == [0.25, 0.25] and http.stats.retries == 0


def test_numbers_become_exact_integers_or_an_error() -> None:
    assert exact_scaled(Decimal("100208.95"), 2, "strike") == 10_020_895
    assert exact_scaled(100208.95, 2, "strike") == 10_020_895  # a float by its shortest repr
    assert exact_scaled(Decimal("0.00012345"), 8, "volume") == 12_345
    with pytest.raises(ProtocolError):
        exact_scaled(Decimal("1.005"), 2, "price")


def test_historical_candles_read_in_the_live_field_names() -> None:
    body = (
        b'{"ticker":"T","candlesticks":[{"end_period_ts":60,"yes_bid":{"open":"0.4500","low":"0.4400",'
        b'"high":"0.4600","close":"0.4500"},"yes_ask":null,"price":{"open":null,"low":null,"high":null,'
        b'"close":null,"mean":null,"previous":"0.4000"},"volume":"0.00","open_interest":"12.00"}]}'
    )
    candle = decode(body, _HistoricalCandlesticks, "test").candlesticks[0].as_live()  # type: ignore[index]
    assert candle.yes_bid is not None and candle.yes_bid.low_dollars == "0.4400"
    assert candle.price is not None and candle.price.previous_dollars == "0.4000"
    assert (candle.volume_fp, candle.open_interest_fp) == ("0.00", "12.00")


@pytest.mark.parametrize(
    ("args", "code", "text"),
    [
        (["--from", "2026-13-01", "--to", "2026-01-02"], 2, "--from '2026-13-01': expected a date"),
        (["--from", "2026-01-02", "--to", "2026-01-01"], 2, "--to must be after --from"),
        (
            ["--from", "2026-01-01", "--to", "2026-01-02", "--db", "/nonexistent/dir/h.sqlite"],
            2,
            "cannot use",
        ),
        (
            ["--from", "2026-01-01", "--to", "2026-01-02", "--rest-url", "http://127.0.0.1:9"],
            1,
            "network_error: ConnectError",
        ),
    ],
)
def test_errors_are_one_line_with_exit_codes(tmp_path: Path, args: list[str], code: int, text: str) -> None:
    db = ["--db", str(tmp_path / "h.sqlite")] if "--db" not in args else []
    command = ["history", "fetch", "--series", "KXBTC15M", *db, "--max-retries", "0", *args]
    result = CliRunner().invoke(cli, command)
    assert result.exit_code == code, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kxbtc history: ") and text in lines[0]
