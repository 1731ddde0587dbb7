"""The leg-failure policy's price ladders never leave the configured loss bound."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kxbtc.config import PolymarketConfig
from kxbtc.engine.cross_venue_hedge import DeskHedging
from kxbtc.units import Price


def desk_with(max_leg_loss: str, attempts: int) -> DeskHedging:
    desk = object.__new__(DeskHedging)  # only the policy's settings are needed here
    desk.config = PolymarketConfig(max_leg_loss=Decimal(max_leg_loss), repair_attempts=attempts)
    return desk


@pytest.mark.parametrize(
    ("bound", "attempts", "step", "expected"),
    [
        ("0.03", 5, +1, [5_100, 5_200, 5_300]),  # a hedge buys worse, never beyond the bound
        ("0.03", 2, +1, [5_100, 5_200]),  # ... and at most repair_attempts times
        ("0.03", 5, -1, [5_000, 4_900, 4_800, 4_700]),  # an unwind starts at the price paid
        ("0", 5, +1, []),  # a zero bound: no hedge at a worse price
        ("0", 5, -1, [5_000]),  # ... and a sale only at the price paid
    ],
)
def test_repair_prices_stay_inside_the_bound(
    bound: str, attempts: int, step: int, expected: list[int]
) -> None:
    assert desk_with(bound, attempts)._ladder(Price(5_000), step) == expected


def test_repair_prices_stay_on_the_price_grid_near_its_ends() -> None:
    assert desk_with("0.05", 5)._ladder(Price(9_800), +1) == [9_900]
    assert desk_with("0.05", 5)._ladder(Price(200), -1) == [200, 100]
