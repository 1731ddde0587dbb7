"""The simulated Polymarket venue's knobs (``PolySimConfig``).

Defaults give a realistic 15-minute BTC up/down market: a one- or two-cent spread on a 0.01 tick, four
levels a side of 5-400 shares, quotes refreshed every simulated second, fees on at the crypto taker
rate, and makers whose bias against the true P(Up) is small. ``mispricing`` widens that bias the way
``SimConfig.mispricing`` does for the Kalshi makers, so cross-venue edges appear and decay.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from kxbtc.pricing.polymarket_fees import DEFAULT_CRYPTO_FEE_RATE
from kxbtc.units import Count, Price

#: Polymarket's BTC up/down markets: a 0.01 tick and a minimum order of 5 shares (errata Part 4 §4.1).
TICK = Price(100)
MIN_ORDER_SIZE = Count(500)


@dataclass(frozen=True, slots=True)
class PolySimConfig:
    #: Extra standard deviation of each token's maker bias against its fair value, in probability at
    #: p = 0.5 (the bias lives on the normal-score scale, like the Kalshi makers').
    mispricing: float = 0.0
    #: Always-present bias (same units): the venue is good but not perfect.
    base_noise: float = 0.01
    bias_half_life_s: float = 90.0
    #: Distance from the maker's value to its best bid and best ask, in probability (before the tick).
    half_spread: float = 0.003
    levels: int = 4
    #: Level sizes are drawn uniformly in [min_level_shares, max_level_shares], to the cent of a share.
    min_level_shares: int = 5
    max_level_shares: int = 400
    #: Chance that a level kept at the same price gets a new size at a requote.
    resize_probability: float = 0.3
    tick: Price = TICK
    min_order_size: Count = MIN_ORDER_SIZE
    fee_rate: Fraction = DEFAULT_CRYPTO_FEE_RATE
    #: ``market_resolved`` is published this long after a window's end.
    resolution_delay_s: int = 5
    #: Resolved windows are forgotten after this long.
    retain_resolved_s: int = 6 * 3600

    def __post_init__(self) -> None:
        if self.levels < 1:
            raise ValueError("levels must be at least 1")
        if not 0 < self.half_spread < 0.5:
            raise ValueError("half_spread must be in (0, 0.5)")
        if not 0 < self.min_level_shares <= self.max_level_shares:
            raise ValueError("need 0 < min_level_shares <= max_level_shares")
        if self.mispricing < 0 or self.base_noise < 0:
            raise ValueError("mispricing and base_noise must be >= 0")
