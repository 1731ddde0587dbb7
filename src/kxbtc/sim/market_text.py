"""Tickers, dollar amounts and US Eastern times written the way Kalshi writes them for the BTC series.

Ticker times are US Eastern and name the window's *end* (``KXBTC15M-26JUN010345-45`` closes 03:45 ET).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from kxbtc.clock import NS_PER_S

ET = ZoneInfo("America/New_York")

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")


def et_datetime(t_ns: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(t_ns // NS_PER_S, tz=dt.UTC).astimezone(ET)


def _date_code(t: dt.datetime) -> str:
    return f"{t.year % 100:02d}{_MONTHS[t.month - 1]}{t.day:02d}"


def event_ticker_15m(close_ns: int) -> str:
    t = et_datetime(close_ns)
    return f"KXBTC15M-{_date_code(t)}{t.hour:02d}{t.minute:02d}"


def market_ticker_15m(close_ns: int) -> str:
    return f"{event_ticker_15m(close_ns)}-{et_datetime(close_ns).minute:02d}"


def event_ticker_hourly(series: str, close_ns: int) -> str:
    t = et_datetime(close_ns)
    return f"{series}-{_date_code(t)}{t.hour:02d}"


def dollars_text(cents: int) -> str:
    """``11499999`` -> ``"114999.99"``; whole dollars drop the fraction (``6812500`` -> ``"68125"``)."""
    whole, frac = divmod(cents, 100)
    return f"{whole}" if frac == 0 else f"{whole}.{frac:02d}"


def dollars_display(cents: int) -> str:
    whole, frac = divmod(cents, 100)
    return f"${whole:,}.{frac:02d}"


def et_phrase(t_ns: int) -> str:
    """``"8:45 PM EDT on Jul 23, 2026"`` as Kalshi's rules write it."""
    t = et_datetime(t_ns)
    hour = t.hour % 12 or 12
    ampm = "AM" if t.hour < 12 else "PM"
    return f"{hour}:{t.minute:02d} {ampm} {t.tzname()} on {t.strftime('%b')} {t.day}, {t.year}"


def in_weekly_maintenance(t_ns: int) -> bool:
    """Thursday 03:00-05:00 US Eastern, Kalshi's weekly trading pause."""
    t = et_datetime(t_ns)
    return t.weekday() == 3 and 3 <= t.hour < 5
