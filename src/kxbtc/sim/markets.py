"""The BTC series, their events and markets as the simulated exchange keeps them, and how they settle.

- KXBTC15M: one market per 15-minute window, aligned to the quarter hour. The strike is the 60-second
  index average ending at the open, so window N+1's strike equals window N's settlement value to the cent.
  YES wins on settlement >= strike (``greater_or_equal``). Grid ``tapered_deci_cent``; timer 1 s.
- KXBTCD (hourly ``greater`` ladder) and KXBTC (hourly ``between`` buckets with a tail each side) use
  ``linear_cent`` and a 60 s settlement timer.

Lifecycle: initialized -> active (open_time) -> closed (close_time) -> determined (settlement value
known) -> finalized (after ``settlement_timer_seconds``).

Tickers and text are in ``kxbtc.sim.market_text``, the markets of a new event in
``kxbtc.sim.market_specs``, candlesticks in ``kxbtc.sim.candles``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Literal

from kxbtc.pricing.fees import FeeSchedule
from kxbtc.units import Count, Price, PriceGrid, PriceRange

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


def settlement_average_cents(values_cents: list[int]) -> int:
    """Mean of the 60 one-second values, rounded half-up to the cent."""
    if not values_cents:
        raise ValueError("no index values in the settlement window")
    mean = Fraction(sum(values_cents), len(values_cents))
    return int(mean + Fraction(1, 2)) if mean >= 0 else -int(-mean + Fraction(1, 2))
