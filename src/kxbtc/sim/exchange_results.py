"""What the simulated exchange answers: ``SimRejection`` when it refuses, result records when it acts."""

from __future__ import annotations

from dataclasses import dataclass

from kxbtc.sim.accounts import PositionState
from kxbtc.sim.markets import Market
from kxbtc.sim.matching import Order
from kxbtc.units import Count, Money, Price

# ----------------------------------------------------------------------------------------------
# rejections


class SimRejection(Exception):
    """The exchange refuses a request; ``status``/``code``/``message``/``details`` as Kalshi sends them."""

    def __init__(self, status: int, code: str, message: str, details: str = "") -> None:
        super().__init__(f"{status} {code}: {message}" + (f" ({details})" if details else ""))
        self.status = status
        self.code = code
        self.message = message
        self.details = details


def not_found() -> SimRejection:
    return SimRejection(404, "not_found", "not found")


def invalid(code: str, message: str, details: str = "") -> SimRejection:
    return SimRejection(400, code, message, details)


def market_inactive(market: Market) -> SimRejection:
    # Kalshi's REST spelling of MARKET_INACTIVE was never captured (kalshi-api.md §13 item 14); the FIX
    # text is upper case, REST codes are lower snake case, so this is the likely form.
    return invalid("market_inactive", "market is not active", f"market status is {market.status}")


# ----------------------------------------------------------------------------------------------
# results


@dataclass(frozen=True, slots=True)
class _FillResult:
    """An order and its counts after a request; per-contract averages only when the request filled."""

    order: Order
    fill_count: Count
    remaining_count: Count
    average_fill_price: Price | None
    average_fee_paid: Price | None
    ts_ms: int


@dataclass(frozen=True, slots=True)
class CreateResult(_FillResult):
    """V2 create response: ``fill_count`` is what this request filled; averages only when it filled."""


@dataclass(frozen=True, slots=True)
class CancelResult:
    order: Order
    reduced_by: Count
    ts_ms: int


@dataclass(frozen=True, slots=True)
class AmendResult(_FillResult):
    """V2 amend response: ``fill_count`` is the order's whole fill; averages over what the amend filled."""


@dataclass(frozen=True, slots=True)
class DecreaseResult:
    order: Order
    reduced_by: Count
    remaining_count: Count
    ts_ms: int


@dataclass(frozen=True, slots=True)
class MarketPositionView:
    state: PositionState
    resting_orders_count: int


@dataclass(frozen=True, slots=True)
class EventPositionView:
    event_ticker: str
    total_cost: Money
    total_cost_shares: Count
    event_exposure: Money
    realized_pnl: Money
    fees_paid: Money


@dataclass(frozen=True, slots=True)
class PositionsPage:
    market_positions: list[MarketPositionView]
    event_positions: list[EventPositionView]
    cursor: str


@dataclass(frozen=True, slots=True)
class Balance:
    """``available`` excludes resting-order collateral; ``by_shard`` is the same per exchange_index."""

    available: Money
    by_shard: dict[int, Money]
    portfolio_value_cents: int
    updated_ts: int


@dataclass(frozen=True, slots=True)
class Orderbook:
    """REST book: YES bids and NO bids (NO-leg prices), each sorted per ``config.orderbook_ascending``."""

    yes: list[tuple[Price, Count]]
    no: list[tuple[Price, Count]]


@dataclass(frozen=True, slots=True)
class ExchangeStatus:
    exchange_active: bool
    trading_active: bool


@dataclass(frozen=True, slots=True)
class Transfer:
    transfer_id: str
    user_id: str
    subaccount: int
    source_shard: int
    destination_shard: int
    amount: Money
    status: str
    created_ns: int
