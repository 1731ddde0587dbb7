"""Order entry on the simulated exchange: V2 create, cancel, decrease and amend, one by one or in
batches; each checks the request as Kalshi does and hands the order to ``Execution``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, NotRequired, TypedDict, TypeVar

from kxbtc.clock import NS_PER_MS, NS_PER_S
from kxbtc.sim.exchange_execution import Execution
from kxbtc.sim.exchange_publishing import Publisher
from kxbtc.sim.exchange_results import (
    AmendResult,
    CancelResult,
    CreateResult,
    DecreaseResult,
    SimRejection,
    invalid,
    market_inactive,
    not_found,
)
from kxbtc.sim.exchange_state import ExchangeState
from kxbtc.sim.matching import STP_TYPES, TIME_IN_FORCE, Order
from kxbtc.units import Count, Money, Price

#: 9999-12-31T23:59:59Z, the last instant RFC 3339 can write; a timestamp in milliseconds is far beyond it.
MAX_EXPIRATION_S = 253_402_300_799

R = TypeVar("R")


# The keyword arguments of the order requests, as types, so the facade can pass them through unchanged;
# the defaults of the optional ones are in the ``OrderEntry`` signatures.


class NewOrder(TypedDict):
    """``create_order``'s keyword arguments."""

    ticker: str
    side: str
    price: int
    count: int
    time_in_force: str
    self_trade_prevention_type: str | None
    client_order_id: NotRequired[str | None]
    post_only: NotRequired[bool]
    reduce_only: NotRequired[bool]
    cancel_order_on_pause: NotRequired[bool]
    expiration_time: NotRequired[int | None]
    order_group_id: NotRequired[str | None]
    subaccount: NotRequired[int]
    exchange_index: NotRequired[int | None]


class OrderTarget(TypedDict, total=False):
    """``cancel_order``'s keyword arguments: where to look for the order."""

    subaccount: int | None
    exchange_index: int | None
    market_ticker: str | None


class Decrease(OrderTarget, total=False):
    """``decrease_order``'s keyword arguments."""

    reduce_by: int | None
    reduce_to: int | None


class Amendment(TypedDict):
    """``amend_order``'s keyword arguments."""

    ticker: str
    side: str
    price: int
    count: int
    client_order_id: NotRequired[str | None]
    updated_client_order_id: NotRequired[str | None]
    subaccount: NotRequired[int | None]
    exchange_index: NotRequired[int | None]


class OrderEntry:
    """The V2 order endpoints: checks a request, then enters, cancels, decreases or amends the order. The
    facade brings the exchange up to the clock before each."""

    def __init__(self, state: ExchangeState, execution: Execution, publisher: Publisher) -> None:
        self.state = state
        self.execution = execution
        self.publisher = publisher

    def create_order(
        self,
        user_id: str,
        *,
        ticker: str,
        side: str,
        price: int,
        count: int,
        time_in_force: str,
        self_trade_prevention_type: str | None,
        client_order_id: str | None = None,
        post_only: bool = False,
        reduce_only: bool = False,
        cancel_order_on_pause: bool = False,
        expiration_time: int | None = None,
        order_group_id: str | None = None,
        subaccount: int = 0,
        exchange_index: int | None = None,
    ) -> CreateResult:
        """V2 create (``POST /portfolio/events/orders``). ``side`` bid|ask on the YES leg; ``price`` on the
        market's grid; ``expiration_time`` Unix seconds (GTC only). ``self_trade_prevention_type`` None
        (legacy orders) behaves as ``taker_at_cross`` and is omitted from the rendered order."""
        user = self.state.user(user_id)
        market = self.state.markets.get(ticker)
        if market is None or (exchange_index is not None and exchange_index != market.exchange_index):
            raise invalid("market_not_found", "market not found")
        if side not in ("bid", "ask"):
            raise invalid("invalid_parameters", "invalid parameters", "side must be bid or ask")
        if time_in_force not in TIME_IN_FORCE:
            raise invalid("invalid_parameters", "invalid parameters", "bad time_in_force")
        if self_trade_prevention_type is not None and self_trade_prevention_type not in STP_TYPES:
            raise invalid("invalid_parameters", "invalid parameters", "bad self_trade_prevention_type")
        if count <= 0:
            raise invalid("invalid_order_size", "invalid order size")
        if not market.grid.is_valid(price):
            raise invalid("invalid_price", "invalid price")
        now = self.state.now_ns()
        if expiration_time is not None:
            if time_in_force != "good_till_canceled":
                raise invalid("invalid_parameters", "invalid parameters", "expiration_time requires GTC")
            if expiration_time * NS_PER_S <= now:
                raise invalid("invalid_order", "invalid order", "Expiration timestamp must be in the future")
            if expiration_time > MAX_EXPIRATION_S:
                # Milliseconds (or any year past 9999) cannot be rendered as an RFC 3339 time later.
                raise invalid(
                    "invalid_parameters", "invalid parameters", "expiration_time must be Unix seconds"
                )
        if client_order_id is not None and client_order_id in user.client_ids:
            raise SimRejection(409, "order_already_exists", "order already exists")
        if not self.state.exchange_active or not self.state.trading_active:
            # No recording of a paused exchange's answer exists; the FIX reject text is EXCHANGE_UNAVAILABLE.
            raise invalid("trading_is_paused", "trading is paused")
        if not market.is_trading:
            raise market_inactive(market)
        order = Order(
            order_id=self.state.uuid(),
            user_id=user_id,
            subaccount=subaccount,
            ticker=ticker,
            event_ticker=market.event_ticker,
            side="bid" if side == "bid" else "ask",
            price=Price(price),
            initial_count=Count(count),
            time_in_force=time_in_force,
            self_trade_prevention_type=self_trade_prevention_type,
            created_ns=now,
            seq=0,
            exchange_index=market.exchange_index,
            client_order_id=client_order_id,
            post_only=post_only,
            reduce_only=reduce_only,
            expiration_ts=expiration_time,
            cancel_order_on_pause=cancel_order_on_pause,
            order_group_id=order_group_id,
            remaining=Count(count),
            last_update_ns=now,
            internal=user.internal,
        )
        if reduce_only:
            order.remaining = self.execution.reduce_only_cap(order)
        filled, cost, fees = self.execution.enter(order, market, now)
        return CreateResult(
            order, filled, order.remaining, _average(cost, filled), _average(fees, filled), now // NS_PER_MS
        )

    def _find_order(
        self,
        user_id: str,
        order_id: str,
        subaccount: int | None,
        exchange_index: int | None,
        market_ticker: str | None,
    ) -> Order:
        order = self.state.orders.get(order_id)
        if order is None or order.user_id != user_id:
            raise not_found()
        if subaccount is not None and order.subaccount != subaccount:
            raise not_found()
        shard = exchange_index
        if shard is None and market_ticker is not None:
            market = self.state.markets.get(market_ticker)
            shard = market.exchange_index if market is not None else 0
        if shard is None:
            shard = 0 if self.state.config.strict_shard_routing else order.exchange_index
        if shard != order.exchange_index:
            raise not_found()
        return order

    def cancel_order(
        self,
        user_id: str,
        order_id: str,
        *,
        subaccount: int | None = None,
        exchange_index: int | None = None,
        market_ticker: str | None = None,
    ) -> CancelResult:
        """V2 cancel. 404 ``not_found`` for unknown, canceled or executed orders, and for orders on another
        shard than the one the request routes to (no ``exchange_index``/``market_ticker`` = shard 0)."""
        self.state.user(user_id)
        order = self._find_order(user_id, order_id, subaccount, exchange_index, market_ticker)
        if not order.is_live:
            raise not_found()
        now = self.state.now_ns()
        reduced = self.execution.cancel(order, now, "Canceled")
        self.publisher.publish_ticker(self.state.markets[order.ticker], now)
        return CancelResult(order, reduced, now // NS_PER_MS)

    def decrease_order(
        self,
        user_id: str,
        order_id: str,
        *,
        reduce_by: int | None = None,
        reduce_to: int | None = None,
        subaccount: int | None = None,
        exchange_index: int | None = None,
        market_ticker: str | None = None,
    ) -> DecreaseResult:
        """V2 decrease: exactly one of ``reduce_by`` / ``reduce_to``; keeps queue priority; reaching zero
        cancels the order."""
        self.state.user(user_id)
        if (reduce_by is None) == (reduce_to is None):
            raise invalid("invalid_parameters", "invalid parameters", "exactly one of reduce_by, reduce_to")
        order = self._find_order(user_id, order_id, subaccount, exchange_index, market_ticker)
        if not order.is_live:
            raise not_found()
        market = self.state.markets[order.ticker]
        if not market.is_trading:
            raise market_inactive(market)
        if reduce_by is not None:
            if reduce_by <= 0:
                raise invalid("invalid_order_size", "invalid order size")
            new_remaining = max(order.remaining - reduce_by, 0)
        else:
            assert reduce_to is not None
            if reduce_to < 0:
                raise invalid("invalid_order_size", "invalid order size")
            new_remaining = min(order.remaining, reduce_to)
        now = self.state.now_ns()
        reduced = Count(order.remaining - new_remaining)
        if new_remaining == 0:
            self.execution.cancel(order, now, "Decrease")
        elif reduced:
            order.remaining = Count(new_remaining)
            order.last_update_ns = now
            order.last_update_reason = "Decrease"
            change = self.state.books[order.ticker].take_from(order, reduced)
            self.publisher.publish_level(change, market, now)
            self.state.update_reserve(order.user_id, order.subaccount, order.ticker, market.exchange_index)
            self.publisher.publish_order(order, now)
        self.publisher.publish_ticker(market, now)
        return DecreaseResult(order, reduced, order.remaining, now // NS_PER_MS)

    def amend_order(
        self,
        user_id: str,
        order_id: str,
        *,
        ticker: str,
        side: str,
        price: int,
        count: int,
        client_order_id: str | None = None,
        updated_client_order_id: str | None = None,
        subaccount: int | None = None,
        exchange_index: int | None = None,
    ) -> AmendResult:
        """V2 amend: ``count`` is the new total (filled + resting). A size-only decrease keeps priority;
        any other change re-enters the order (it may fill at once) at the back of its new level."""
        user = self.state.user(user_id)
        order = self._find_order(user_id, order_id, subaccount, exchange_index, ticker)
        if not order.is_live:
            raise not_found()
        if order.ticker != ticker:
            raise invalid("order_ticker_mismatch", "order ticker mismatch")
        if order.side != side:
            raise invalid("order_side_mismatch", "order side mismatch")
        if client_order_id is not None and client_order_id != order.client_order_id:
            raise invalid("order_id_and_client_order_id_mismatch", "order id and client order id mismatch")
        market = self.state.markets[order.ticker]
        if not market.is_trading:
            raise market_inactive(market)
        if not market.grid.is_valid(price):
            raise invalid("invalid_price", "invalid price")
        new_remaining = count - order.fill_count
        if new_remaining <= 0:
            raise invalid("invalid_order", "invalid order", "amended count must exceed the filled count")
        if updated_client_order_id is not None and updated_client_order_id in user.client_ids:
            raise SimRejection(409, "order_already_exists", "order already exists")
        now = self.state.now_ns()
        filled_before = order.fill_count
        cost_before = order.taker_fill_cost
        fees_before = order.taker_fees
        if price == order.price and new_remaining <= order.remaining:
            if new_remaining < order.remaining:
                self.decrease_order(
                    user_id, order_id, reduce_to=new_remaining, exchange_index=order.exchange_index
                )
        else:
            # Plan the re-priced order first (its own resting size is on its own side, so it cannot
            # affect the plan); only then take it off its old level and re-enter it at the back.
            trial = replace(order, price=Price(price), remaining=Count(new_remaining))
            plan, rests = self.execution.prepare(trial, market)
            self.state.unindex_resting(order)
            self.publisher.publish_level(self.state.books[order.ticker].remove(order), market, now)
            order.price = Price(price)
            order.remaining = Count(new_remaining)
            order.initial_count = Count(count)
            order.last_update_reason = "Amend"
            self.execution.commit(order, market, plan, rests, now)
        if updated_client_order_id is not None:
            user.client_ids.add(updated_client_order_id)
            order.client_order_id = updated_client_order_id
        filled = Count(order.fill_count - filled_before)
        return AmendResult(
            order,
            order.fill_count,
            order.remaining,
            _average(Money(order.taker_fill_cost - cost_before), filled),
            _average(Money(order.taker_fees - fees_before), filled),
            now // NS_PER_MS,
        )

    def each_of_batch(
        self, items: list[dict[str, Any]], one: Callable[[dict[str, Any]], R]
    ) -> list[R | SimRejection]:
        """Apply ``one`` to every item of a batch (at most ``config.max_batch``); a rejection fails alone.
        The facade passes its own create or cancel, so each item steps the exchange as a single request."""
        if len(items) > self.state.config.max_batch:
            raise invalid(
                "invalid_parameters", "invalid parameters", f"at most {self.state.config.max_batch} orders"
            )
        out: list[R | SimRejection] = []
        for item in items:
            try:
                out.append(one(item))
            except SimRejection as rejection:
                out.append(rejection)
        return out


def _average(amount: int, count: int) -> Price | None:
    """Per-contract average of a Money total over ``count`` (1e-2), rounded half-up to 4 dp."""
    if count <= 0:
        return None
    return Price((2 * amount + count) // (2 * count))
