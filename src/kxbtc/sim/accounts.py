"""Cash, collateral, positions, fills and settlements of every simulated account.

Accounting model (one YES+NO pair is backed by $1 held by the exchange, the "escrow"):
- Buying a leg at ``q`` (a YES bid at p buys YES at p; a YES ask at p buys NO at 1 - p) opens exposure
  and debits ``q`` per contract, or, against an opposite holding, closes it and credits ``1 - q`` per
  contract (the YES+NO pair is worth exactly $1). Positions therefore net per market.
- Resting orders reserve their worst-case collateral (limit price per contract, less what would close an
  opposite holding, plus the maker fee where the series charges one). ``available = cash - reserved``.
- Cash only ever moves in $0.0001 steps: a debit is rounded up and a credit down, and the dust goes to
  the exchange like the fees do. So ``sum(cash) + fees + dust + $1 * open interest == deposits`` always.
- Settlement pays $1 per winning contract of the net position and closes it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from kxbtc.pricing.fees import FeeSchedule
from kxbtc.sim.matching import Order
from kxbtc.units import PRICE_SCALE, Count, Money, Price, notional

#: Money per contract-hundredth at $1: 1 Count unit (0.01 contract) x $1 = $0.01 = 10,000 Money.
MONEY_PER_COUNT_DOLLAR = 10_000
#: The granularity cash moves in ($0.0001).
CASH_STEP = 100

AccountKey = tuple[str, int]  # (user_id, subaccount)

ZERO_COUNT = Count(0)
ZERO_MONEY = Money(0)


def ceil_cash(value: int) -> Money:
    return Money(-(-value // CASH_STEP) * CASH_STEP)


def floor_cash(value: int) -> Money:
    return Money(value // CASH_STEP * CASH_STEP)


def leg_price(side: str, yes_price: int) -> Price:
    """Price paid per contract of the leg a book side buys: bid buys YES at p, ask buys NO at 1 - p."""
    return Price(yes_price if side == "bid" else PRICE_SCALE - yes_price)


@dataclass(slots=True)
class PositionState:
    """One account's holding in one market. ``position`` > 0 is long YES, < 0 long NO."""

    ticker: str
    event_ticker: str
    exchange_index: int
    position: Count = ZERO_COUNT
    #: What the open position cost (the wire's market_exposure): always >= 0.
    cost: Money = ZERO_MONEY
    realized_pnl: Money = ZERO_MONEY
    fees_paid: Money = ZERO_MONEY
    total_traded: Money = ZERO_MONEY
    volume: Count = ZERO_COUNT
    last_updated_ns: int = 0

    def copy(self) -> PositionState:
        return PositionState(
            self.ticker,
            self.event_ticker,
            self.exchange_index,
            self.position,
            self.cost,
            self.realized_pnl,
            self.fees_paid,
            self.total_traded,
            self.volume,
            self.last_updated_ns,
        )

    def trade(self, side: str, yes_price: int, count: int) -> Money:
        """Apply a fill (without the fee); returns the cash change (negative = paid)."""
        direction = 1 if side == "bid" else -1
        leg = leg_price(side, yes_price)
        pos: int = self.position
        cash = 0
        closing = 0
        if pos * direction < 0:
            closing = min(count, abs(pos))
            credit = floor_cash(notional(PRICE_SCALE - leg, closing))
            released = self.cost * closing // abs(pos)
            self.cost = Money(self.cost - released)
            self.realized_pnl = Money(self.realized_pnl + credit - released)
            pos += direction * closing
            cash += credit
        opening = count - closing
        if opening:
            debit = ceil_cash(notional(leg, opening))
            self.cost = Money(self.cost + debit)
            pos += direction * opening
            cash -= debit
        self.position = Count(pos)
        self.total_traded = Money(self.total_traded + notional(leg, count))
        self.volume = Count(self.volume + count)
        return Money(cash)

    def exact_cash(self, side: str, yes_price: int, count: int) -> int:
        """The unrounded cash change of the same fill (for the dust ledger)."""
        direction = 1 if side == "bid" else -1
        leg = leg_price(side, yes_price)
        closing = min(count, abs(self.position)) if self.position * direction < 0 else 0
        return notional(PRICE_SCALE - leg, closing) - notional(leg, count - closing)


@dataclass(frozen=True, slots=True)
class Fill:
    """One side of one execution, as the owner of ``order_id`` sees it."""

    fill_id: str  # == trade_id
    order_id: str
    user_id: str
    subaccount: int
    ticker: str
    event_ticker: str
    side: str  # book side of this order: bid | ask
    price: Price  # YES-leg execution price
    count: Count
    is_taker: bool
    fee: Money
    ts_ns: int
    post_position: Count
    exchange_index: int
    client_order_id: str | None
    seq: int


@dataclass(frozen=True, slots=True)
class Trade:
    """A public execution. ``taker_side`` is the taker's book side."""

    trade_id: str
    ticker: str
    price: Price
    count: Count
    taker_side: str
    ts_ns: int
    seq: int


@dataclass(frozen=True, slots=True)
class Settlement:
    """An account's settlement record for one market (Kalshi's Settlement shape)."""

    user_id: str
    subaccount: int
    ticker: str
    event_ticker: str
    exchange_index: int
    market_result: Literal["yes", "no"]
    yes_count: Count
    yes_total_cost: Money
    no_count: Count
    no_total_cost: Money
    revenue: Money  # payout; the wire shows whole cents
    value_cents: int | None
    fee_cost: Money
    settled_ns: int
    seq: int


@dataclass(slots=True)
class Ledger:
    """Exchange-wide totals the conservation tests compare against."""

    deposits: Money = ZERO_MONEY
    fees: Money = ZERO_MONEY
    dust: Money = ZERO_MONEY
    escrow: Money = ZERO_MONEY  # $1 per open YES+NO pair
    payouts: Money = ZERO_MONEY


@dataclass(slots=True)
class Accounts:
    """Cash per (user, subaccount, shard), positions per (user, subaccount, ticker), and the journals."""

    cash: dict[tuple[str, int, int], Money] = field(default_factory=dict)
    positions: dict[tuple[str, int, str], PositionState] = field(default_factory=dict)
    #: Collateral held for resting orders, per (user, subaccount, ticker) and summed per shard.
    reserves: dict[tuple[str, int, str], tuple[int, Money]] = field(default_factory=dict)
    reserve_totals: dict[tuple[str, int, int], Money] = field(default_factory=dict)
    fills: dict[str, list[Fill]] = field(default_factory=dict)
    settlements: dict[str, list[Settlement]] = field(default_factory=dict)
    ledger: Ledger = field(default_factory=Ledger)

    # -- cash ---------------------------------------------------------------------------------

    def deposit(self, user_id: str, amount: int, exchange_index: int, subaccount: int = 0) -> None:
        if amount % CASH_STEP:
            raise ValueError("deposits move in $0.0001 steps")
        key = (user_id, subaccount, exchange_index)
        self.cash[key] = Money(self.cash.get(key, 0) + amount)
        self.ledger.deposits = Money(self.ledger.deposits + amount)

    def move_cash(self, user_id: str, subaccount: int, exchange_index: int, delta: int) -> None:
        key = (user_id, subaccount, exchange_index)
        self.cash[key] = Money(self.cash.get(key, 0) + delta)

    def cash_of(self, user_id: str, subaccount: int, exchange_index: int) -> Money:
        return self.cash.get((user_id, subaccount, exchange_index), Money(0))

    def reserved_on(self, user_id: str, subaccount: int, exchange_index: int) -> Money:
        return self.reserve_totals.get((user_id, subaccount, exchange_index), Money(0))

    def reserve_of(self, user_id: str, subaccount: int, ticker: str) -> Money:
        entry = self.reserves.get((user_id, subaccount, ticker))
        return Money(0) if entry is None else entry[1]

    def set_reserve(
        self, user_id: str, subaccount: int, ticker: str, exchange_index: int, amount: int
    ) -> None:
        key = (user_id, subaccount, ticker)
        old = self.reserves.get(key)
        old_amount = 0 if old is None else old[1]
        tkey = (user_id, subaccount, exchange_index)
        self.reserve_totals[tkey] = Money(self.reserve_totals.get(tkey, 0) - old_amount + amount)
        if amount:
            self.reserves[key] = (exchange_index, Money(amount))
        else:
            self.reserves.pop(key, None)

    def available(self, user_id: str, subaccount: int, exchange_index: int) -> Money:
        return Money(
            self.cash_of(user_id, subaccount, exchange_index)
            - self.reserved_on(user_id, subaccount, exchange_index)
        )

    # -- positions ----------------------------------------------------------------------------

    def position(
        self, user_id: str, subaccount: int, ticker: str, event_ticker: str, exchange_index: int
    ) -> PositionState:
        key = (user_id, subaccount, ticker)
        state = self.positions.get(key)
        if state is None:
            state = self.positions[key] = PositionState(ticker, event_ticker, exchange_index)
        return state

    def peek_position(self, user_id: str, subaccount: int, ticker: str) -> PositionState | None:
        return self.positions.get((user_id, subaccount, ticker))

    def record_fill(self, fill: Fill) -> None:
        self.fills.setdefault(fill.user_id, []).append(fill)

    def record_settlement(self, settlement: Settlement) -> None:
        self.settlements.setdefault(settlement.user_id, []).append(settlement)


def reserve_for(
    orders: Iterable[Order], extra: Iterable[tuple[str, int, int]], position: int, fees: FeeSchedule
) -> Money:
    """Collateral for resting orders: leg price x size, minus what would close the opposite holding (the
    cheapest orders are taken as the closing ones, which keeps the reserve conservative), plus maker fees."""
    legs: dict[str, list[tuple[int, int]]] = {"bid": [], "ask": []}
    maker_fees = 0
    charges_makers = fees.coefficient(is_taker=False) != 0
    for side, price, remaining in [*((o.side, o.price, o.remaining) for o in orders), *extra]:
        if remaining <= 0:
            continue
        legs[side].append((leg_price(side, price), remaining))
        if charges_makers:
            maker_fees += fees.fee(price, remaining, is_taker=False)
    total = maker_fees
    for side, cover in (("bid", max(-position, 0)), ("ask", max(position, 0))):
        for leg, size in sorted(legs[side]):
            covered = min(cover, size)
            cover -= covered
            total += leg * (size - covered)
    return ceil_cash(total)
