"""The simulated exchange's historical tier: which markets and trades Kalshi would have archived.

Kalshi moves markets settled before a cutoff, with their candlesticks, to ``/historical/markets...``,
and trades before a second cutoff to ``/historical/trades``; the live endpoints stop serving them. The
simulator keeps everything in one state and draws the line at read time: with
``SimConfig.archive_after_s`` set, both cutoffs lie that long before the exchange's clock; without it,
nothing is archived and the cutoffs are the Unix epoch.
"""

from __future__ import annotations

from typing import Literal

from kxbtc.clock import NS_PER_S
from kxbtc.sim.exchange_state import ExchangeState

#: Which side of the cutoff a read asks for; None asks for both (the simulator's own callers).
Tier = Literal["live", "historical"] | None


def cutoff_ns(state: ExchangeState) -> int:
    """The instant before which settled markets and trades are historical."""
    age = state.config.archive_after_s
    if age is None:
        return 0
    return max(0, state.now_ns() - age * NS_PER_S)


def market_in_tier(settled_ns: int | None, cutoff: int, tier: Tier) -> bool:
    archived = settled_ns is not None and settled_ns < cutoff
    return tier is None or archived == (tier == "historical")


def trade_in_tier(ts_ns: int, cutoff: int, tier: Tier) -> bool:
    return tier is None or (ts_ns < cutoff) == (tier == "historical")
