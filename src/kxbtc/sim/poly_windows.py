"""The simulated Polymarket windows: ``btc-updown-15m-<start>``, their ids, fair value and settlement.

Ids are pure functions of the slug, so a window has the same token ids in every run: outcome token ids
are 256-bit decimal numbers (as Polymarket's are) from SHA-256 of ``<slug>:<outcome>``, the condition id
is ``0x`` + SHA-256 of the slug, and the Gamma ids are short decimal numbers from the same digest.

Settlement follows Polymarket's rule on the simulated index: **Up iff the index at the window's end is
>= the index at its start** (one-second values, in cents). Kalshi's KXBTC15M settles on 60-second
averages instead, so the two venues can disagree near the money, as they do for real.

``up_probability`` is P(Up) under arithmetic Brownian motion with the path's volatility (the model the
Kalshi makers use): 1/2 before the start (the reference is not known yet), then
``Phi((S - S0 + 1/2 cent) / (sigma sqrt(tau)))`` with ``tau`` the seconds left; the half cent is the tie
``end == start``, which counts as Up.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

from kxbtc.polymarket.gamma import DOWN, UP, WINDOW_S, slug_for_window
from kxbtc.sim.price_path import SECONDS_PER_YEAR

__all__ = [
    "CLOSED",
    "OPEN",
    "RESOLVED",
    "PolyWindow",
    "condition_id_for",
    "token_id_for",
    "up_probability",
    "up_wins",
]

OPEN, CLOSED, RESOLVED = "open", "closed", "resolved"


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


def token_id_for(slug: str, outcome: str) -> str:
    """A 256-bit decimal token id, fixed by the slug and the outcome."""
    return str(int.from_bytes(_digest(f"{slug}:{outcome}"), "big"))


def condition_id_for(slug: str) -> str:
    return "0x" + _digest(slug).hex()


def _short_id(slug: str, kind: str) -> str:
    return str(int.from_bytes(_digest(f"{kind}:{slug}")[:4], "big") % 9_000_000 + 1_000_000)


def up_wins(start_cents: int, end_cents: int) -> bool:
    """Polymarket's rule: Up iff the price at the end is greater than or equal to the price at the start."""
    return end_cents >= start_cents


def up_probability(
    now_s: int, start_s: int, end_s: int, spot_cents: int, start_cents: int | None, annual_vol: float
) -> float:
    """P(Up) at ``now_s`` given the index now and (once the window has started) at its start."""
    if start_cents is None or now_s < start_s:
        return 0.5
    gap_cents = spot_cents - start_cents + 0.5
    left = end_s - now_s
    if left <= 0:
        return 1.0 if gap_cents > 0 else 0.0
    sd_cents = spot_cents * annual_vol * math.sqrt(left / SECONDS_PER_YEAR)
    if sd_cents <= 0:
        return 1.0 if gap_cents > 0 else 0.0
    return 0.5 * (1.0 + math.erf(gap_cents / (sd_cents * math.sqrt(2.0))))


@dataclass(slots=True)
class PolyWindow:
    """One 15-minute window: an event with one market and two outcome tokens (Up, Down)."""

    slug: str
    start_s: int
    end_s: int
    #: When the venue listed it (the Kalshi simulator's listing of the same window).
    listed_s: int
    condition_id: str
    market_id: str
    event_id: str
    up_token: str
    down_token: str
    status: str = OPEN  # open -> closed (at the end: no more quotes) -> resolved
    winner: str | None = None  # "Up" | "Down" once resolved
    resolved_s: int | None = None

    @staticmethod
    def for_start(start_s: int, listed_s: int) -> PolyWindow:
        slug = slug_for_window(start_s)
        return PolyWindow(
            slug=slug,
            start_s=start_s,
            end_s=start_s + WINDOW_S,
            listed_s=listed_s,
            condition_id=condition_id_for(slug),
            market_id=_short_id(slug, "market"),
            event_id=_short_id(slug, "event"),
            up_token=token_id_for(slug, UP),
            down_token=token_id_for(slug, DOWN),
        )

    @property
    def tokens(self) -> tuple[str, str]:
        return (self.up_token, self.down_token)

    def outcome_of(self, token: str) -> str:
        if token == self.up_token:
            return UP
        if token == self.down_token:
            return DOWN
        raise KeyError(token)

    @property
    def winning_token(self) -> str | None:
        if self.winner is None:
            return None
        return self.up_token if self.winner == UP else self.down_token
