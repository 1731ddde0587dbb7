"""Events into the trading core: market data, the index, the account and the passage of time.

A venue adapter turns its wire messages into these. Book levels are canonical: YES bids at YES-leg
prices and NO bids at NO-leg prices (a NO bid at q is a YES ask at 1 - q).

They are frozen ``msgspec.Struct``s rather than frozen dataclasses: one is built for every recorded or
received frame, and a Struct is built in C (about 60 ns against 580 ns for a frozen dataclass of five
fields, which sets each field through ``object.__setattr__``); equality, hashing and repr are the same.
"""

from __future__ import annotations

import msgspec

from kxbtc.domain.instrument import Instrument
from kxbtc.domain.orders import Fill, OrderAck, OrderUpdate
from kxbtc.units import Count, Money, Price

Level = tuple[int, int]  # (price, size)


class BookSnapshot(msgspec.Struct, frozen=True):
    ticker: str
    yes_bids: tuple[Level, ...]
    no_bids: tuple[Level, ...]  # NO-leg prices
    ts_ns: int


class BookDelta(msgspec.Struct, frozen=True):
    ticker: str
    leg: str  # Leg: which bids changed
    price: Price  # on that leg
    delta: Count
    ts_ns: int


class BookStale(msgspec.Struct, frozen=True):
    """The book no longer matches the venue (a sequence gap, a disconnect): never trade it until a
    snapshot rebuilds it."""

    ticker: str
    reason: str
    ts_ns: int


class IndexTick(msgspec.Struct, frozen=True):
    """One print of the settlement index (or of an estimate of it), in dollars."""

    ts_ns: int
    value: float
    source: str = "kalshi"


class MarketListed(msgspec.Struct, frozen=True):
    """A market to trade was found (discovery, a lifecycle ``created``/``activated``)."""

    instrument: Instrument
    ts_ns: int


class MarketDetermined(msgspec.Struct, frozen=True):
    ticker: str
    result: str  # yes | no
    ts_ns: int


class MarketSettled(msgspec.Struct, frozen=True):
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


class FillEvent(msgspec.Struct, frozen=True):
    fill: Fill


class AckEvent(msgspec.Struct, frozen=True):
    acks: tuple[OrderAck, ...]
    ts_ns: int


class OrderEvent(msgspec.Struct, frozen=True):
    update: OrderUpdate


class Timer(msgspec.Struct, frozen=True):
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
