"""``Instrument``: one tradeable market with everything needed to price, quote and cancel it.

Built by a venue adapter from the venue's own description (Kalshi: series -> event -> market, strikes
from ``floor_strike``/``cap_strike``, never parsed from the ticker). Strikes are BTC prices used by the
model, so they are floats; money on the instrument (fees, tick grid) stays integer.
"""

from __future__ import annotations

from dataclasses import dataclass

from kxbtc.clock import NS_PER_S
from kxbtc.pricing.fees import BTC_DEFAULT_FEES, FeeSchedule
from kxbtc.units import PriceGrid

#: Statuses in which orders are accepted ("open" is Kalshi's older spelling).
TRADEABLE_STATUSES = frozenset({"active", "open"})
STRIKE_TYPES = frozenset({"greater", "greater_or_equal", "less", "less_or_equal", "between"})


@dataclass(frozen=True, slots=True)
class Instrument:
    ticker: str
    event_ticker: str
    series: str
    strike_type: str  # greater | greater_or_equal | less | less_or_equal | between
    floor_strike: float | None
    cap_strike: float | None
    open_ns: int
    close_ns: int
    fees: FeeSchedule = BTC_DEFAULT_FEES
    status: str = "active"
    grid: PriceGrid | None = None
    #: The venue's shard for order entry (Kalshi: ``exchange_index``), None when it has one.
    exchange_index: int | None = None
    title: str = ""

    def seconds_to_close(self, now_ns: int) -> float:
        return (self.close_ns - now_ns) / NS_PER_S

    def is_open_at(self, now_ns: int) -> bool:
        return self.status in TRADEABLE_STATUSES and self.open_ns <= now_ns < self.close_ns

    @property
    def has_strike(self) -> bool:
        if self.strike_type == "between":
            return self.floor_strike is not None and self.cap_strike is not None
        if self.strike_type in ("less", "less_or_equal"):
            return self.cap_strike is not None
        return self.floor_strike is not None

    @property
    def strike(self) -> float | None:
        """The strike the model compares against (the cap for ``less`` markets, else the floor)."""
        if self.strike_type in ("less", "less_or_equal") and self.cap_strike is not None:
            return self.cap_strike
        return self.floor_strike
