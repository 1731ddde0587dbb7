"""A user's portfolio on the simulated exchange: reads of orders, fills, settlements, positions, balance
and queue positions, and transfers of cash between shards."""

from __future__ import annotations

from typing import TypedDict, Unpack

from kxbtc.clock import NS_PER_S
from kxbtc.sim.accounts import Fill, PositionState, Settlement
from kxbtc.sim.exchange_config import SHARDS
from kxbtc.sim.exchange_results import (
    Balance,
    EventPositionView,
    MarketPositionView,
    PositionsPage,
    Transfer,
    invalid,
    not_found,
)
from kxbtc.sim.exchange_state import ExchangeState
from kxbtc.sim.matching import Order
from kxbtc.sim.paging import Page, PortfolioQuery, paginate, portfolio_page
from kxbtc.units import PRICE_SCALE, Count, Money, notional


class PositionsQuery(TypedDict, total=False):
    """``positions_page``'s keyword arguments (the facade passes them through; defaults there)."""

    ticker: str | None
    event_ticker: str | None
    count_filter: str | None
    subaccount: int | None
    exchange_index: int | None
    cursor: str
    limit: int


class Portfolio:
    """A user's portfolio reads and transfers; the facade brings the exchange up to the clock before each."""

    def __init__(self, state: ExchangeState) -> None:
        self.state = state

    def order(self, user_id: str, order_id: str) -> Order:
        order = self.state.orders.get(order_id)
        if order is None or order.user_id != user_id:
            raise not_found()
        return order

    def orders_page(
        self,
        user_id: str,
        *,
        event_ticker: str | None = None,
        status: str | None = None,
        **query: Unpack[PortfolioQuery],
    ) -> Page[Order]:
        """Newest first. ``event_ticker`` may be a comma list."""
        events = set(event_ticker.split(",")) if event_ticker else None
        orders = (
            o
            for o in self.state.user(user_id).orders
            if (events is None or o.event_ticker in events) and (status is None or o.status == status)
        )
        return portfolio_page(orders, lambda o: o.created_ns, query)

    def fills_page(
        self, user_id: str, *, order_id: str | None = None, **query: Unpack[PortfolioQuery]
    ) -> Page[Fill]:
        self.state.user(user_id)
        fills = (
            f
            for f in self.state.accounts.fills.get(user_id, [])
            if order_id is None or f.order_id == order_id
        )
        return portfolio_page(fills, lambda f: f.ts_ns, query)

    def settlements_page(
        self, user_id: str, *, event_ticker: str | None = None, **query: Unpack[PortfolioQuery]
    ) -> Page[Settlement]:
        self.state.user(user_id)
        settlements = (
            s
            for s in self.state.accounts.settlements.get(user_id, [])
            if event_ticker is None or s.event_ticker == event_ticker
        )
        return portfolio_page(settlements, lambda s: s.settled_ns, query)

    def positions_page(
        self,
        user_id: str,
        *,
        ticker: str | None = None,
        event_ticker: str | None = None,
        count_filter: str | None = None,
        subaccount: int | None = None,
        exchange_index: int | None = None,
        cursor: str = "",
        limit: int = 100,
    ) -> PositionsPage:
        """Unsettled positions; ``count_filter`` ``position`` and/or ``total_traded`` drop zero rows."""
        self.state.user(user_id)
        filters = set(count_filter.split(",")) if count_filter else set()
        rows: list[tuple[int, MarketPositionView]] = []
        for (u, sub, t), state in self.state.accounts.positions.items():
            if u != user_id or (subaccount is not None and sub != subaccount):
                continue
            if (ticker is not None and t != ticker) or (
                event_ticker is not None and state.event_ticker != event_ticker
            ):
                continue
            if exchange_index is not None and state.exchange_index != exchange_index:
                continue
            if "position" in filters and state.position == 0:
                continue
            if "total_traded" in filters and state.total_traded == 0:
                continue
            resting = len(self.state.resting.get((u, sub, t), {}))
            market = self.state.markets.get(t)
            # Subaccounts (0..63) of one market share its sequence number: keep cursor keys unique.
            rows.append(((market.seq if market else 0) * 64 + sub, MarketPositionView(state, resting)))
        page = paginate(rows, lambda r: r[0], cursor, limit)
        views = [v for _, v in page.items]
        by_event: dict[str, list[PositionState]] = {}
        for view in views:
            by_event.setdefault(view.state.event_ticker, []).append(view.state)
        events = [
            EventPositionView(
                event_ticker=e,
                total_cost=Money(sum(s.total_traded for s in states)),
                total_cost_shares=Count(sum(s.volume for s in states)),
                event_exposure=Money(sum(s.cost for s in states)),
                realized_pnl=Money(sum(s.realized_pnl for s in states)),
                fees_paid=Money(sum(s.fees_paid for s in states)),
            )
            for e, states in by_event.items()
        ]
        return PositionsPage(views, events, page.cursor)

    def balance(self, user_id: str, *, subaccount: int = 0, exchange_index: int | None = None) -> Balance:
        self.state.user(user_id)
        shards = SHARDS if exchange_index is None else (exchange_index,)
        by_shard = {s: self.state.accounts.available(user_id, subaccount, s) for s in shards}
        value = 0
        for (u, sub, t), state in self.state.accounts.positions.items():
            if u != user_id or sub != subaccount or state.position == 0:
                continue
            market = self.state.markets.get(t)
            mark = market.last_price if market else 0
            leg = mark if state.position > 0 else PRICE_SCALE - mark
            value += notional(leg, abs(state.position))
        return Balance(
            available=Money(sum(by_shard.values())),
            by_shard=by_shard,
            portfolio_value_cents=value // 10_000,
            updated_ts=self.state.now_ns() // NS_PER_S,
        )

    def queue_position(self, user_id: str, order_id: str) -> Count:
        order = self.order(user_id, order_id)
        if not order.is_live:
            return Count(0)
        return self.state.books[order.ticker].queue_ahead(order)

    def transfers_of(self, user_id: str) -> list[Transfer]:
        return list(self.state.transfers.get(user_id, []))

    def transfer(
        self, user_id: str, *, source_shard: int, destination_shard: int, amount: Money, subaccount: int = 0
    ) -> Transfer:
        """Intra-exchange transfer (completes at once). ``amount`` in Money, at $0.0001 granularity."""
        state = self.state
        state.user(user_id)
        if source_shard not in SHARDS or destination_shard not in SHARDS or source_shard == destination_shard:
            raise invalid("invalid_parameters", "invalid parameters", "bad source/destination shard")
        if amount <= 0 or amount % 100:
            raise invalid("invalid_parameters", "invalid parameters", "amount must be positive centicents")
        if state.accounts.available(user_id, subaccount, source_shard) < amount:
            raise invalid("insufficient_balance", "insufficient balance")
        state.accounts.move_cash(user_id, subaccount, source_shard, -amount)
        state.accounts.move_cash(user_id, subaccount, destination_shard, amount)
        record = Transfer(
            state.uuid(),
            user_id,
            subaccount,
            source_shard,
            destination_shard,
            amount,
            "complete",
            state.now_ns(),
        )
        state.transfers.setdefault(user_id, []).append(record)
        return record
