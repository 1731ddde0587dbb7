"""The Polymarket leg's execution interface, and a paper venue that fills against the local book.

Two implementations: ``SdkPolymarketVenue`` (``kxbtc.polymarket.sdk_venue``) posts real orders through
the official SDK, and ``PaperPolymarketVenue`` (here) fills a fill-or-kill order entirely or not at all
against the levels of the local ``PolyBook`` at the moment of the call (it does not consume them: the
book keeps mirroring the venue) and charges the taker fee per level with ``polymarket_taker_fee``.

Fee caveat (errata Part 4 §7.4): the docs say buy-side fees are taken in shares, while the V2 SDKs size
buys as amount + fee in pUSD. The paper venue charges the fee in Money and fills the full share count;
reconcile against ``/data/trades`` before trusting either model with real money.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Protocol

from kxbtc.polymarket.book import BUY, SELL, PolyBook
from kxbtc.pricing.polymarket_fees import DEFAULT_CRYPTO_FEE_RATE, polymarket_taker_fee
from kxbtc.units import Count, Money, Price, notional

__all__ = ["PaperPolymarketVenue", "PolyOrderResult", "PolymarketVenue"]

FILLED, KILLED = "filled", "killed"


@dataclass(frozen=True, slots=True)
class PolyOrderResult:
    token_id: str
    side: str
    limit_price: Price
    size: Count
    status: str  # "filled" | "killed"
    filled: Count
    #: What the shares cost (BUY) or fetched (SELL) before fees, and the taker fee, both in Money.
    notional: Money
    fee: Money
    reason: str = ""
    #: The venue's order id (live orders only).
    order_id: str = ""


class PolymarketVenue(Protocol):
    async def place_fok(self, token: str, side: str, price: Price, size: Count) -> PolyOrderResult:
        """Buy (``BUY``) or sell (``SELL``) ``size`` shares at ``price`` or better, all or none."""
        ...


class PaperPolymarketVenue:
    def __init__(
        self,
        books: Mapping[str, PolyBook],
        *,
        fee_rates: Mapping[str, Fraction] | None = None,
        default_fee_rate: Fraction = DEFAULT_CRYPTO_FEE_RATE,
    ) -> None:
        self.books = books
        self.fee_rates = dict(fee_rates or {})
        self.default_fee_rate = default_fee_rate
        self.results: list[PolyOrderResult] = []

    async def place_fok(self, token: str, side: str, price: Price, size: Count) -> PolyOrderResult:
        result = self._match(token, side, price, size)
        self.results.append(result)
        return result

    def _match(self, token: str, side: str, price: Price, size: Count) -> PolyOrderResult:
        def killed(reason: str) -> PolyOrderResult:
            return PolyOrderResult(token, side, price, size, KILLED, Count(0), Money(0), Money(0), reason)

        if side not in (BUY, SELL):
            return killed(f"unknown side {side!r}")
        if size <= 0:
            return killed("size must be positive")
        book = self.books.get(token)
        if book is None or not book.is_tradeable():
            return killed("no live book for the token")
        if side == BUY:
            levels = [(p, s) for p, s in book.ask_levels() if p <= price]
        else:
            levels = [(p, s) for p, s in book.bid_levels() if p >= price]
        if sum(s for _, s in levels) < size:
            return killed("not enough size at the limit price: fill-or-kill")
        rate = self.fee_rates.get(token, self.default_fee_rate)
        left, cost, fee = int(size), 0, 0
        for level_price, level_size in levels:
            take = min(left, level_size)
            cost += notional(level_price, take)
            fee += polymarket_taker_fee(level_price, take, rate)
            left -= take
            if not left:
                break
        return PolyOrderResult(token, side, price, size, FILLED, size, Money(cost), Money(fee))
