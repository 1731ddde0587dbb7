"""Plain records the store keeps. Money, prices and counts are integers in the wire's units."""

from __future__ import annotations

from dataclasses import dataclass

from kxbtc.units import Count, Money, Price

NO_CONTRACTS = Count(0)
NO_MONEY = Money(0)


@dataclass(frozen=True, slots=True)
class OrderRecord:
    client_order_id: str
    ticker: str
    side: str  # "bid" (buy YES) or "ask" (sell YES = buy NO); YES-leg price
    price: Price
    count: Count
    time_in_force: str
    status: str  # intended | resting | executed | canceled | rejected | unknown
    created_ns: int
    updated_ns: int
    strategy: str = ""
    order_id: str | None = None
    fill_count: Count = NO_CONTRACTS
    remaining_count: Count = NO_CONTRACTS
    fees: Money = NO_MONEY
    exchange_index: int | None = None


@dataclass(frozen=True, slots=True)
class FillRecord:
    fill_id: str
    order_id: str
    ticker: str
    side: str
    price: Price
    count: Count
    fee: Money
    is_taker: bool
    ts_ns: int
    strategy: str = ""
    source: str = "ws"  # ws | rest (found by reconciliation)


@dataclass(frozen=True, slots=True)
class PositionRecord:
    ticker: str
    position: Count  # > 0 long YES, < 0 long NO
    exposure: Money
    realized_pnl: Money
    fees_paid: Money
    updated_ns: int


@dataclass(frozen=True, slots=True)
class SettlementRecord:
    ticker: str
    event_ticker: str
    result: str
    yes_count: Count
    no_count: Count
    yes_cost: Money
    no_cost: Money
    revenue: Money
    fee: Money
    settled_ns: int


@dataclass(frozen=True, slots=True)
class RiskEventRecord:
    ts_ns: int
    kind: str
    severity: str  # info | warning | halt
    detail: str


@dataclass(frozen=True, slots=True)
class PnlSnapshot:
    ts_ns: int
    day: str
    equity: Money
    realized: Money
    unrealized_mid: Money
    unrealized_exit: Money
    fees: Money
