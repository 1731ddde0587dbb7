"""Events into the trading core: market data, the index, the account and the passage of time.

A venue adapter turns its wire messages into these. Book levels are canonical: YES bids at YES-leg
prices and NO bids at NO-leg prices (a NO bid at q is a YES ask at 1 - q).
"""

from __future__ import annotations

from dataclasses import dataclass

from kxbtc.domain.instrument import Instrument
from kxbtc.domain.orders import Fill, OrderAck, OrderUpdate
from kxbtc.units import Count, Money, Price

Level = tuple[int, int]  # (price, size)


@dataclass(frozen=True, slots=True)
class BookSnapshot:
    ticker: str
    yes_bids: tuple[Level, ...]
    no_bids: tuple[Level, ...]  # NO-leg prices
    ts_ns: int


@dataclass(frozen=True, slots=True)
class BookDelta:
    ticker: str
    leg: str  # Leg: which bids changed
    price: Price  # on that leg
    delta: Count
    ts_ns: int


@dataclass(frozen=True, slots=True)
class BookStale:
    """The book no longer matches the venue (a sequence gap, a disconnect): never trade it until a
    snapshot rebuilds it."""

    ticker: str
    reason: str
    ts_ns: int


@dataclass(frozen=True, slots=True)
class IndexTick:
    """One print of the settlement index (or of an estimate of it), in dollars."""

    ts_ns: int
    value: float
    source: str = "kalshi"


@dataclass(frozen=True, slots=True)
class MarketListed:
    """A market to trade was found (discovery, a lifecycle ``created``/``activated``)."""

    instrument: Instrument
    ts_ns: int


@dataclass(frozen=True, slots=True)
class MarketDetermined:
    ticker: str
    result: str  # yes | no
    ts_ns: int


@dataclass(frozen=True, slots=True)
class MarketSettled:
    """The venue paid out a market we held."""

    ticker: str
    event_ticker: str
    result: str
    yes_count: Count
    no_count: Count
    yes_cost: Money
    no_cost: Money
    revenue: Money
    fee: Money
    ts_ns: int


@dataclass(frozen=True, slots=True)
class FillEvent:
    fill: Fill


@dataclass(frozen=True, slots=True)
class AckEvent:
    acks: tuple[OrderAck, ...]
    ts_ns: int


@dataclass(frozen=True, slots=True)
class OrderEvent:
    update: OrderUpdate


@dataclass(frozen=True, slots=True)
class Timer:
    ts_ns: int


CoreEvent = (
    BookSnapshot
    | BookDelta
    | BookStale
    | IndexTick
    | MarketListed
    | MarketDetermined
    | MarketSettled
    | FillEvent
    | AckEvent
    | OrderEvent
    | Timer
)

__all__ = [
    "AckEvent",
    "BookDelta",
    "BookSnapshot",
    "BookStale",
    "CoreEvent",
    "FillEvent",
    "IndexTick",
    "Level",
    "MarketDetermined",
    "MarketListed",
    "MarketSettled",
    "OrderEvent",
    "Timer",
]
