"""BTC ticker parsing and formatting (US Eastern, DST-aware)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from kxbtc.kalshi.tickers import (
    ET,
    TickerError,
    btc15m_market_ticker,
    check_market_ticker,
    event_ticker_for,
    parse_ticker,
)


def test_15m_market_ticker_is_the_window_end_in_eastern_time() -> None:
    info = parse_ticker("KXBTC15M-26JUN010345-45")
    assert info.series == "KXBTC15M"
    assert info.event_ticker == "KXBTC15M-26JUN010345"
    assert info.market_ticker == "KXBTC15M-26JUN010345-45"
    assert info.close_et == datetime(2026, 6, 1, 3, 45, tzinfo=ET)
    assert info.close_utc == datetime(2026, 6, 1, 7, 45, tzinfo=UTC)  # EDT = UTC-4
    assert info.strike_kind is None


def test_winter_ticker_uses_standard_time() -> None:
    info = parse_ticker("KXBTC15M-26JAN151200-00")
    assert info.close_utc == datetime(2026, 1, 15, 17, 0, tzinfo=UTC)  # EST = UTC-5


def test_hourly_threshold_and_range_tickers() -> None:
    above = parse_ticker("KXBTCD-25AUG0517-T114999.99")
    assert above.event_ticker == "KXBTCD-25AUG0517"
    assert above.close_et == datetime(2025, 8, 5, 17, 0, tzinfo=ET)
    assert (above.strike_kind, above.strike_label) == ("T", Decimal("114999.99"))

    bucket = parse_ticker("KXBTC-26SEP1316-B68200")
    assert bucket.series == "KXBTC"
    assert bucket.close_utc == datetime(2026, 9, 13, 20, 0, tzinfo=UTC)
    assert (bucket.strike_kind, bucket.strike_label) == ("B", Decimal(68200))


def test_event_tickers_parse_without_a_market() -> None:
    info = parse_ticker("KXBTCD-25AUG0517")
    assert info.market_ticker is None and info.suffix is None


@pytest.mark.parametrize(
    "bad",
    [
        "KXBTC15M",
        "KXBTC15M-26XYZ010345-45",
        "KXBTC15M-26JUN010345-30",  # suffix must repeat the end minute
        "KXBTC15M-26JUN0103-03",  # 15M needs HHMM
        "KXBTC15M-26FEB300345-45",  # no 30 February
        "KXBTCD-25AUG0517-T1-x",
        "KXBTCD-25AUG0517-",
    ],
)
def test_malformed_tickers_are_rejected(bad: str) -> None:
    with pytest.raises(TickerError):
        parse_ticker(bad)


def test_formatting_round_trips_through_utc() -> None:
    close = datetime(2026, 6, 1, 7, 45, tzinfo=UTC)
    assert btc15m_market_ticker(close) == "KXBTC15M-26JUN010345-45"
    assert event_ticker_for("KXBTCD", datetime(2025, 8, 5, 21, 0, tzinfo=UTC)) == "KXBTCD-25AUG0517"
    with pytest.raises(ValueError):
        event_ticker_for("KXBTCD", datetime(2025, 8, 5, 21, 0))


def test_fall_back_hour_is_distinguished_by_utc_close_time() -> None:
    # 2026-11-01 01:xx ET happens twice; the UTC close time decides which one a market is.
    first = datetime(2026, 11, 1, 5, 15, tzinfo=UTC)  # 01:15 EDT
    second = datetime(2026, 11, 1, 6, 15, tzinfo=UTC)  # 01:15 EST
    assert btc15m_market_ticker(first) == btc15m_market_ticker(second) == "KXBTC15M-26NOV010115-15"
    ticker = "KXBTC15M-26NOV010115-15"
    check_market_ticker(ticker, "KXBTC15M", int(first.timestamp()) * 10**9)
    check_market_ticker(ticker, "KXBTC15M", int(second.timestamp()) * 10**9)


def test_check_market_ticker_against_api_close_time() -> None:
    close_ns = int(datetime(2026, 6, 1, 7, 45, tzinfo=UTC).timestamp()) * 10**9
    check_market_ticker("KXBTC15M-26JUN010345-45", "KXBTC15M", close_ns)
    with pytest.raises(TickerError, match="gives event"):
        check_market_ticker("KXBTC15M-26JUN010345-45", "KXBTC15M", close_ns + 15 * 60 * 10**9)
    with pytest.raises(TickerError, match="series"):
        check_market_ticker("KXBTC15M-26JUN010345-45", "KXBTCD", close_ns)
