"""BTC ticker formats, for display and for checking what the API says; never the source of truth.

Times in tickers are US Eastern (``America/New_York``, DST-aware):

- ``KXBTC15M-26JUN010345-45``: event ``KXBTC15M-YYMMMDDHHMM`` where HHMM is the window END; the market
  suffix repeats the end minute.
- ``KXBTCD-25AUG0517-T114999.99``: event ``KXBTCD-YYMMMDDHH`` (expiry hour), market ``T<threshold>``.
- ``KXBTC-26SEP1316-B68200``: range buckets ``B<mid>`` and tails ``T<edge>``.

Strikes, close times and shards come from the API (``floor_strike``, ``cap_strike``, ``close_time``,
``exchange_index``); the numbers in a ticker are labels. In the autumn DST fall-back hour a local time
is ambiguous: ``close_et`` takes the first occurrence, so compare by formatting the API's UTC close time
into a ticker (``event_ticker_for``), which is always unambiguous.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

ET = ZoneInfo("America/New_York")

SERIES_15M = "KXBTC15M"
SERIES_ABOVE_BELOW = "KXBTCD"
SERIES_RANGE = "KXBTC"

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_EVENT = re.compile(
    r"^(?P<series>[A-Z0-9]+)-(?P<yy>\d{2})(?P<mon>[A-Z]{3})(?P<dd>\d{2})(?P<hh>\d{2})(?P<mm>\d{2})?$"
)
_STRIKE = re.compile(r"^(?P<kind>[TB])(?P<value>\d+(?:\.\d+)?)$")


class TickerError(ValueError):
    """A ticker does not have the expected shape."""


@dataclass(frozen=True, slots=True)
class TickerInfo:
    series: str
    event_ticker: str
    #: The market ticker, or None when an event ticker was parsed.
    market_ticker: str | None
    #: The event's time in ET: the 15-minute window's end, or the hourly expiry.
    close_et: datetime
    #: The market suffix ("45", "T114999.99", "B68200"), or None for an event ticker.
    suffix: str | None
    #: "T" (threshold or tail) or "B" (range bucket) for hourly markets, else None.
    strike_kind: str | None
    #: The number in the suffix, as a label only.
    strike_label: Decimal | None

    @property
    def close_utc(self) -> datetime:
        return self.close_et.astimezone(UTC)


def parse_ticker(ticker: str) -> TickerInfo:
    """Parse a BTC event or market ticker (any series with the ``YYMMMDDHH[MM]`` date code)."""
    parts = ticker.split("-")
    if len(parts) not in (2, 3):
        raise TickerError(f"{ticker!r}: expected SERIES-DATE or SERIES-DATE-SUFFIX")
    event_ticker = "-".join(parts[:2])
    m = _EVENT.match(event_ticker)
    if m is None:
        raise TickerError(f"{ticker!r}: event part {event_ticker!r} is not SERIES-YYMMMDDHH[MM]")
    if m["mon"] not in _MONTHS:
        raise TickerError(f"{ticker!r}: unknown month {m['mon']!r}")
    series = m["series"]
    minute = int(m["mm"]) if m["mm"] is not None else 0
    if series == SERIES_15M and m["mm"] is None:
        raise TickerError(f"{ticker!r}: {SERIES_15M} events carry HHMM")
    try:
        close_et = datetime(
            2000 + int(m["yy"]), _MONTHS.index(m["mon"]) + 1, int(m["dd"]), int(m["hh"]), minute, tzinfo=ET
        )
    except ValueError as exc:
        raise TickerError(f"{ticker!r}: invalid date: {exc}") from None
    suffix = parts[2] if len(parts) == 3 else None
    strike_kind: str | None = None
    strike_label: Decimal | None = None
    if suffix is not None:
        if not suffix:
            raise TickerError(f"{ticker!r}: empty market suffix")
        if series == SERIES_15M:
            if not suffix.isdigit() or int(suffix) != minute:
                raise TickerError(f"{ticker!r}: 15-minute market suffix must be the end minute {minute:02d}")
        else:
            s = _STRIKE.match(suffix)
            if s is not None:
                strike_kind = s["kind"]
                try:
                    strike_label = Decimal(s["value"])
                except InvalidOperation:  # pragma: no cover - the regex admits only digits
                    raise TickerError(f"{ticker!r}: bad strike {s['value']!r}") from None
    return TickerInfo(
        series=series,
        event_ticker=event_ticker,
        market_ticker=ticker if suffix is not None else None,
        close_et=close_et,
        suffix=suffix,
        strike_kind=strike_kind,
        strike_label=strike_label,
    )


def _date_code(close_utc: datetime, with_minutes: bool) -> str:
    if close_utc.tzinfo is None:
        raise ValueError("close time must be timezone-aware")
    et = close_utc.astimezone(ET)
    code = f"{et:%y}{_MONTHS[et.month - 1]}{et:%d%H}"
    return code + (f"{et:%M}" if with_minutes else "")


def event_ticker_for(series: str, close_utc: datetime) -> str:
    """The event ticker a series uses for an event closing at ``close_utc``."""
    return f"{series}-{_date_code(close_utc, with_minutes=series == SERIES_15M)}"


def btc15m_market_ticker(close_utc: datetime) -> str:
    """``KXBTC15M-YYMMMDDHHMM-MM`` for the window ending at ``close_utc``."""
    return f"{event_ticker_for(SERIES_15M, close_utc)}-{close_utc.astimezone(ET):%M}"


def check_market_ticker(ticker: str, series: str, close_time_ns: int) -> None:
    """Raise TickerError if ``ticker`` does not belong to ``series`` or disagrees with the API's close time.

    The 15-minute series' event code is the window end; the hourly series' is the expiry hour.
    """
    info = parse_ticker(ticker)
    if info.series != series:
        raise TickerError(f"{ticker!r}: series is {info.series!r}, expected {series!r}")
    close_utc = datetime.fromtimestamp(close_time_ns / 1e9, tz=UTC)
    expected = event_ticker_for(series, close_utc)
    if info.event_ticker != expected:
        raise TickerError(f"{ticker!r}: close time {close_utc:%Y-%m-%dT%H:%M:%SZ} gives event {expected!r}")
