"""A 15-minute BTC up/down market on an outcome-token venue (Polymarket), as the strategies see it.

Declared here as protocols so that strategies pair Kalshi against it without importing the venue's
package; ``kxbtc.polymarket`` provides the concrete types.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Protocol

from kxbtc.units import Count, Price

WINDOW_S = 15 * 60
UP, DOWN = "Up", "Down"


class UpDownWindow(Protocol):
    @property
    def slug(self) -> str: ...
    @property
    def start_s(self) -> int: ...
    @property
    def end_s(self) -> int: ...
    @property
    def up_token(self) -> str: ...
    @property
    def down_token(self) -> str: ...
    @property
    def min_order_size(self) -> Count | None: ...
    @property
    def fee_rate(self) -> Fraction: ...
    @property
    def fees_enabled(self) -> bool: ...


class OutcomeBook(Protocol):
    """One outcome token's book: what pricing a pair reads."""

    @property
    def asset_id(self) -> str: ...
    def best_ask(self) -> Price | None: ...
    def best_ask_size(self) -> Count: ...
    def is_tradeable(self) -> bool: ...
    def age_ms(self, now_ms: int) -> int | None: ...
