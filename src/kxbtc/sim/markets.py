"""The BTC series, their events and markets: tickers, strikes, grids and the lifecycle schedule.

- KXBTC15M: one market per 15-minute window, aligned to the quarter hour. Ticker times are US Eastern
  and name the window's *end* (``KXBTC15M-26JUN010345-45`` closes 03:45 ET). The strike is the 60-second
  index average ending at the open, so window N+1's strike equals window N's settlement value to the cent.
  YES wins on settlement >= strike (``greater_or_equal``). Grid ``tapered_deci_cent``; timer 1 s.
- KXBTCD: hourly ladder of ``greater`` strikes at ``$250 * k - 0.01`` around spot (``T114999.99``).
- KXBTC: hourly $250 range buckets (``between``, inclusive ``[floor, cap]``) named by their midpoint
  (``B68125``), plus a ``less`` tail below and a ``greater`` tail above. Both hourly series use
  ``linear_cent`` and a 60 s settlement timer.

Lifecycle: initialized -> active (open_time) -> closed (close_time) -> determined (settlement value
known) -> finalized (after ``settlement_timer_seconds``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Literal
from zoneinfo import ZoneInfo

from kxbtc.clock import NS_PER_S
from kxbtc.pricing.fees import FeeSchedule
from kxbtc.units import Count, Price, PriceGrid, PriceRange

ET = ZoneInfo("America/New_York")

MarketStatus = Literal["initialized", "active", "closed", "determined", "finalized"]
StrikeType = Literal["greater", "greater_or_equal", "less", "between"]

#: REST ``status`` filter values -> internal statuses.
STATUS_FILTERS: dict[str, tuple[str, ...]] = {
    "unopened": ("initialized",),
    "open": ("active",),
    "closed": ("closed", "determined"),
    "settled": ("finalized",),
}

LINEAR_CENT = PriceGrid((PriceRange(Price(0), Price(10_000), Price(100)),))
TAPERED_DECI_CENT = PriceGrid(
    (
        PriceRange(Price(0), Price(1_000), Price(10)),
        PriceRange(Price(1_000), Price(9_000), Price(100)),
        PriceRange(Price(9_000), Price(10_000), Price(10)),
    )
)
GRIDS: dict[str, PriceGrid] = {"linear_cent": LINEAR_CENT, "tapered_deci_cent": TAPERED_DECI_CENT}

ZERO_COUNT = Count(0)
ZERO_PRICE = Price(0)


@dataclass(frozen=True, slots=True)
class Series:
    ticker: str
    title: str
    frequency: str
    fees: FeeSchedule
    price_level_structure: str
    settlement_timer_s: int
    exchange_index: int = 2
    category: str = "Crypto"
    tags: tuple[str, ...] = ("BTC",)
    contract_url: str = "https://kalshi.com/regulatory/rulebook"
    contract_terms_url: str = "https://kalshi-public-docs.s3.amazonaws.com/contract_terms/BTC.pdf"


SERIES: dict[str, Series] = {
    "KXBTC15M": Series(
        "KXBTC15M", "BTC price up in next 15 mins?", "fifteen_min", FeeSchedule(), "tapered_deci_cent", 1
    ),
    "KXBTCD": Series("KXBTCD", "Bitcoin price Above/below", "hourly", FeeSchedule(), "linear_cent", 60),
    "KXBTC": Series("KXBTC", "Bitcoin price range", "hourly", FeeSchedule(), "linear_cent", 60),
}


@dataclass(slots=True)
class Event:
    event_ticker: str
    series_ticker: str
    title: str
    sub_title: str
    strike_ns: int  # the event's close/strike instant
    exchange_index: int
    market_tickers: list[str] = field(default_factory=list)
    mutually_exclusive: bool = False
    collateral_return_type: str = ""
    strike_period: str = ""
    updated_ns: int = 0
    seq: int = 0


@dataclass(slots=True)
class Market:
    """A market and its live statistics. Strikes and index values are integer cents."""

    ticker: str
    event_ticker: str
    series_ticker: str
    market_id: str
    title: str
    yes_sub_title: str
    no_sub_title: str
    strike_type: StrikeType
    floor_strike: int | None  # cents; None until known (15M: at open)
    cap_strike: int | None
    created_ns: int
    open_ns: int
    close_ns: int
    settlement_timer_s: int
    price_level_structure: str
    grid: PriceGrid
    exchange_index: int
    rules_primary: str
    rules_secondary: str
    seq: int
    status: MarketStatus = "initialized"
    updated_ns: int = 0
    result: Literal["", "yes", "no"] = ""
    settlement_value_cents: int | None = None  # the index average the market settled on
    determined_ns: int | None = None
    settled_ns: int | None = None
    last_price: Price = ZERO_PRICE
    previous_price: Price = ZERO_PRICE
    previous_yes_bid: Price = ZERO_PRICE
    previous_yes_ask: Price = ZERO_PRICE
    volume: Count = ZERO_COUNT
    open_interest: Count = ZERO_COUNT
    #: (ts_ns, count) of recent trades for volume_24h.
    recent_volume: list[tuple[int, int]] = field(default_factory=list)

    def yes_wins(self, value_cents: int) -> bool:
        """Kalshi's strike rules: ``greater`` is strict, ``greater_or_equal`` not, ``between`` inclusive."""
        if self.strike_type == "greater_or_equal":
            assert self.floor_strike is not None
            return value_cents >= self.floor_strike
        if self.strike_type == "greater":
            assert self.floor_strike is not None
            return value_cents > self.floor_strike
        if self.strike_type == "less":
            assert self.cap_strike is not None
            return value_cents < self.cap_strike
        assert self.floor_strike is not None and self.cap_strike is not None
        return self.floor_strike <= value_cents <= self.cap_strike

    @property
    def is_trading(self) -> bool:
        return self.status == "active"


# ----------------------------------------------------------------------------------------------
# tickers and text

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


def settlement_average_cents(values_cents: list[int]) -> int:
    """Mean of the 60 one-second values, rounded half-up to the cent."""
    if not values_cents:
        raise ValueError("no index values in the settlement window")
    mean = Fraction(sum(values_cents), len(values_cents))
    return int(mean + Fraction(1, 2)) if mean >= 0 else -int(-mean + Fraction(1, 2))


RULES_SECONDARY = (
    "Not all cryptocurrency price data is the same. While checking a source like Google or Coinbase may help "
    "guide your decision, the price used to determine this market is based on CF Benchmarks' corresponding "
    "Real Time Index (RTI). At the last minute before expiration, 60 RTI prices are collected. The official "
    "and final value is the average of these prices, rounded to the nearest 2 decimal places."
)


# ----------------------------------------------------------------------------------------------
# building events and markets

QUARTER_NS = 900 * NS_PER_S
HOUR_NS = 3600 * NS_PER_S
STRIKE_STEP_CENTS = 25_000  # $250


@dataclass(frozen=True, slots=True)
class MarketSpec:
    """What differs between the markets of one event; the exchange adds ids, times and sequence."""

    ticker: str
    strike_type: StrikeType
    floor_strike: int | None
    cap_strike: int | None
    yes_sub_title: str
    no_sub_title: str
    title: str
    rules_primary: str


def spec_15m(close_ns: int) -> MarketSpec:
    """The 15-minute market; its strike is filled in at open (``strike_15m_rules`` then applies)."""
    open_ns = close_ns - QUARTER_NS
    return MarketSpec(
        ticker=market_ticker_15m(close_ns),
        strike_type="greater_or_equal",
        floor_strike=None,
        cap_strike=None,
        yes_sub_title="Target Price: TBD",
        no_sub_title="Target Price: TBD",
        title="BTC price up in next 15 mins?",
        rules_primary=rules_15m(open_ns, close_ns),
    )


def rules_15m(open_ns: int, close_ns: int) -> str:
    return (
        "If the simple average of the sixty seconds of CF Benchmarks' BRTI before "
        f"{et_phrase(close_ns)} is at least the simple average of the sixty seconds of CF Benchmarks' "
        f"BRTI before {et_phrase(open_ns)}, then the market resolves to Yes."
    )


def ladder_strikes(spot_cents: int, each_side: int) -> list[int]:
    """``$250 k - $0.01`` strikes around spot (the KXBTCD ladder): ``T114999.99``-style."""
    center = (spot_cents + STRIKE_STEP_CENTS // 2) // STRIKE_STEP_CENTS * STRIKE_STEP_CENTS
    return [center + i * STRIKE_STEP_CENTS - 1 for i in range(-each_side, each_side + 1)]


def specs_kxbtcd(event_ticker: str, close_ns: int, spot_cents: int, each_side: int) -> list[MarketSpec]:
    when = et_phrase(close_ns)
    specs = []
    for strike in ladder_strikes(spot_cents, each_side):
        text = dollars_text(strike)
        specs.append(
            MarketSpec(
                ticker=f"{event_ticker}-T{text}",
                strike_type="greater",
                floor_strike=strike,
                cap_strike=None,
                yes_sub_title=f"{dollars_display(strike + 1)} or above",
                no_sub_title=f"{dollars_display(strike + 1)} or above",
                title=f"Bitcoin price on {when}?",
                rules_primary=(
                    "If the simple average of the sixty seconds of CF Benchmarks' Bitcoin Real-Time Index "
                    f"(BRTI) before {when} is above {text}, then the market resolves to Yes."
                ),
            )
        )
    return specs


def specs_kxbtc(event_ticker: str, close_ns: int, spot_cents: int, each_side: int) -> list[MarketSpec]:
    """$250 buckets ``[L, L + 249.99]`` named by midpoint, with a tail below and above."""
    when = et_phrase(close_ns)
    base = spot_cents // STRIKE_STEP_CENTS * STRIKE_STEP_CENTS
    lows = [base + i * STRIKE_STEP_CENTS for i in range(-each_side, each_side + 1)]
    lead = (
        "If the simple average of the sixty seconds of CF Benchmarks' Bitcoin Real-Time Index (BRTI) "
        f"before {when} is "
    )
    title = f"Bitcoin price range on {when}?"
    bottom, top = lows[0] - 1, lows[-1] + STRIKE_STEP_CENTS - 1
    specs = [
        MarketSpec(
            ticker=f"{event_ticker}-T{dollars_text(bottom)}",
            strike_type="less",
            floor_strike=None,
            cap_strike=bottom + 1,
            yes_sub_title=f"{dollars_display(bottom)} or below",
            no_sub_title=f"{dollars_display(bottom)} or below",
            title=title,
            rules_primary=f"{lead}below {dollars_text(bottom + 1)}, then the market resolves to Yes.",
        )
    ]
    for low in lows:
        cap = low + STRIKE_STEP_CENTS - 1
        specs.append(
            MarketSpec(
                ticker=f"{event_ticker}-B{dollars_text(low + STRIKE_STEP_CENTS // 2)}",
                strike_type="between",
                floor_strike=low,
                cap_strike=cap,
                yes_sub_title=f"{dollars_display(low)} to {dollars_display(cap)}",
                no_sub_title=f"{dollars_display(low)} to {dollars_display(cap)}",
                title=title,
                rules_primary=(
                    f"{lead}between {dollars_text(low)} and {dollars_text(cap)}, "
                    "then the market resolves to Yes."
                ),
            )
        )
    specs.append(
        MarketSpec(
            ticker=f"{event_ticker}-T{dollars_text(top)}",
            strike_type="greater",
            floor_strike=top,
            cap_strike=None,
            yes_sub_title=f"{dollars_display(top + 1)} or above",
            no_sub_title=f"{dollars_display(top + 1)} or above",
            title=title,
            rules_primary=f"{lead}above {dollars_text(top)}, then the market resolves to Yes.",
        )
    )
    return specs


# ----------------------------------------------------------------------------------------------
# candlesticks


@dataclass(slots=True)
class Ohlc:
    open: int
    high: int
    low: int
    close: int

    @staticmethod
    def of(value: int) -> Ohlc:
        return Ohlc(value, value, value, value)

    def add(self, value: int) -> None:
        self.high = max(self.high, value)
        self.low = min(self.low, value)
        self.close = value

    def merge(self, later: Ohlc) -> None:
        self.high = max(self.high, later.high)
        self.low = min(self.low, later.low)
        self.close = later.close


@dataclass(slots=True)
class Candle:
    """One period of a market: top of book sampled each second, trade prices, volume, open interest."""

    end_ts: int  # Unix seconds, the period's end
    yes_bid: Ohlc | None = None
    yes_ask: Ohlc | None = None
    price: Ohlc | None = None
    price_sum: int = 0  # sum of trade prices x counts, for the volume-weighted mean
    volume: int = 0
    open_interest: int = 0
    previous_price: int | None = None  # last trade price before the period

    def merge(self, later: Candle) -> None:
        for name in ("yes_bid", "yes_ask", "price"):
            mine, theirs = getattr(self, name), getattr(later, name)
            if theirs is None:
                continue
            if mine is None:
                setattr(self, name, Ohlc(theirs.open, theirs.high, theirs.low, theirs.close))
            else:
                mine.merge(theirs)
        self.price_sum += later.price_sum
        self.volume += later.volume
        self.open_interest = later.open_interest
        self.end_ts = later.end_ts
