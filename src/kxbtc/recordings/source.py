"""What a recording yields, independent of its file format.

A recording is a time-ordered stream (by local receive time ``t_ns``) of raw Kalshi WebSocket frames
(``WsFrame``, undecoded: the replay decodes them with the production decoder), BTC spot prints
(``SpotTick``) and connection changes, plus the definitions and results of its markets. ``conn`` names
one WebSocket session: sequence numbers are per (conn, sid).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import msgspec

from kxbtc.domain.instrument import Instrument
from kxbtc.pricing.fees import BTC_DEFAULT_FEES, FeeSchedule
from kxbtc.units import PriceGrid


@dataclass(frozen=True, slots=True)
class MarketInfo:
    ticker: str
    series: str
    open_ns: int
    close_ns: int
    strike_type: str
    floor_strike: float | None
    cap_strike: float | None
    result: str | None  # yes | no, when known
    #: The settlement value (the 60-second BRTI average), when known.
    settlement_value: float | None = None
    fees: FeeSchedule = BTC_DEFAULT_FEES
    grid: PriceGrid | None = None  # None: any price strictly inside (0, 1)
    event_ticker: str = ""
    exchange_index: int | None = None

    def instrument(self) -> Instrument:
        return Instrument(
            ticker=self.ticker,
            event_ticker=self.event_ticker or self.ticker.rsplit("-", 1)[0],
            series=self.series,
            strike_type=self.strike_type,
            floor_strike=self.floor_strike,
            cap_strike=self.cap_strike,
            open_ns=self.open_ns,
            close_ns=self.close_ns,
            fees=self.fees,
            grid=self.grid,
            exchange_index=self.exchange_index,
        )


class WsFrame(msgspec.Struct, frozen=True):  # one per recorded line: built in C
    t_ns: int
    conn: str
    #: The frame's JSON text: bytes, or from the shared-format reader a ``msgspec.Raw`` (bytes-like, typed
    #: as bytes by msgspec) viewing the decompressed block. Hand it to a JSON decoder, or ``bytes()`` it.
    frame: bytes


class SpotTick(msgspec.Struct, frozen=True):  # one per recorded line: built in C
    t_ns: int
    exchange_ns: int
    price: float
    source: str


class ConnectionChange(msgspec.Struct, frozen=True):  # one per recorded line: built in C
    t_ns: int
    conn: str
    up: bool


RecordedEvent = WsFrame | SpotTick | ConnectionChange


class MarketRecording(Protocol):
    """A recording of any format (``kxbtc.recordings.open_recordings`` picks the reader)."""

    @property
    def name(self) -> str: ...

    @property
    def use_yes_price(self) -> bool:
        """How the book subscription priced NO levels (True: already in YES-leg prices)."""
        ...

    @property
    def accept_unannounced_sids(self) -> bool:
        """True when the recording lacks the ``subscribed`` replies that start a sid."""
        ...

    @property
    def has_spot(self) -> bool:
        """Whether the recording holds spot trades (then the replay's ``index = auto`` uses them)."""
        ...

    def markets(self) -> dict[str, MarketInfo]: ...

    def events(self) -> Iterator[RecordedEvent]:
        """Every recorded event in receive-time order."""
        ...
