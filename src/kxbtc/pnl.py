"""Position and P&L accounting from fills, exactly as cash moves on Kalshi.

A market holds one net position: ``> 0`` contracts long YES, ``< 0`` long NO (buying NO while long
YES closes YES). Every figure is an integer: Price 1e-4 $, Count 1e-2 contracts, Money 1e-6 $.

Cost basis is the average cost of the open contracts on their own leg (a NO contract bought by selling
YES at p costs 1 - p). Closing k of n open contracts releases ``cost * k / n`` of the basis; the last
close releases whatever is left, so a round trip's realized P&L equals its cash flow to the micro-dollar.
Fees are tracked apart from trading P&L; ``net`` figures subtract them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kxbtc.domain.sides import complement
from kxbtc.units import PRICE_SCALE, Count, Money, notional


@dataclass(slots=True)
class MarketPnl:
    ticker: str
    position: int = 0  # Count, signed
    cost: int = 0  # Money: basis of the open contracts
    realized: int = 0  # Money, before fees
    fees: int = 0  # Money
    volume: int = 0  # Count traded
    settled: bool = False
    result: str = ""

    @property
    def net_realized(self) -> Money:
        return Money(self.realized - self.fees)

    def apply_fill(self, side: str, price: int, count: int, fee: int) -> None:
        """Apply a fill: ``bid`` buys YES at ``price``; ``ask`` sells YES (buys NO at 1 - price)."""
        if count <= 0:
            raise ValueError(f"fill count must be positive, got {count}")
        if side not in ("bid", "ask"):
            raise ValueError(f"unknown side {side!r}")
        self.fees += fee
        self.volume += count
        buying_yes = side == "bid"
        # Price of the contract this fill opens, on its own leg.
        open_price = price if buying_yes else complement(price)
        holding_opposite = self.position < 0 if buying_yes else self.position > 0
        remaining = count
        if holding_opposite:
            held = abs(self.position)
            closed = min(held, remaining)
            # Closing k opposite contracts by buying this leg at open_price locks $1 per pair: the
            # opposite contracts are worth 1 - open_price each.
            released = self.cost if closed == held else self.cost * closed // held
            self.realized += notional(complement(open_price), closed) - released
            self.cost -= released
            self.position += closed if buying_yes else -closed
            remaining -= closed
        if remaining:
            self.cost += notional(open_price, remaining)
            self.position += remaining if buying_yes else -remaining

    def settle(self, result: str) -> Money:
        """Settle the net position at $1 per winning contract; returns the payout credited."""
        if result not in ("yes", "no"):
            raise ValueError(f"binary settlement result must be yes or no, got {result!r}")
        won = (self.position > 0 and result == "yes") or (self.position < 0 and result == "no")
        payout = notional(PRICE_SCALE, abs(self.position)) if won else Money(0)
        self.realized += payout - self.cost
        self.cost = 0
        self.position = 0
        self.settled = True
        self.result = result
        return payout

    def unrealized(self, yes_mark: int) -> Money:
        """Open P&L if the position were valued at YES price ``yes_mark`` (mid, or an exit price)."""
        if self.position >= 0:
            return Money(notional(yes_mark, self.position) - self.cost)
        return Money(notional(complement(yes_mark), -self.position) - self.cost)


@dataclass(slots=True)
class Ledger:
    """P&L across markets, keyed by ticker, with an optional strategy tag per fill."""

    markets: dict[str, MarketPnl] = field(default_factory=dict)
    #: Bumped by every fill and settlement, so readers can cache totals until the ledger changes.
    version: int = 0

    def market(self, ticker: str) -> MarketPnl:
        pnl = self.markets.get(ticker)
        if pnl is None:
            pnl = self.markets[ticker] = MarketPnl(ticker)
        return pnl

    def apply_fill(self, ticker: str, side: str, price: int, count: int, fee: int) -> None:
        self.version += 1
        self.market(ticker).apply_fill(side, price, count, fee)

    def settle(self, ticker: str, result: str) -> Money:
        self.version += 1
        return self.market(ticker).settle(result)

    def total_realized(self) -> Money:
        return Money(sum(m.realized for m in self.markets.values()))

    def total_fees(self) -> Money:
        return Money(sum(m.fees for m in self.markets.values()))

    def open_positions(self) -> dict[str, Count]:
        return {t: Count(m.position) for t, m in self.markets.items() if m.position}
