"""How an order meets the simulated book: plan, collateral check, execution of each fill against the
ledger, resting the remainder, and taking an order off the book. Order entry and the market lifecycle
both drive it."""

from __future__ import annotations

import heapq

from kxbtc.clock import NS_PER_S
from kxbtc.sim.accounts import MONEY_PER_COUNT_DOLLAR, Fill, PositionState, Trade, leg_price, reserve_for
from kxbtc.sim.candles import Ohlc
from kxbtc.sim.events import FillEvent, PositionUpdate, TradeEvent
from kxbtc.sim.exchange_market_data import MarketData
from kxbtc.sim.exchange_publishing import Publisher
from kxbtc.sim.exchange_results import invalid
from kxbtc.sim.exchange_state import ExchangeState
from kxbtc.sim.markets import Market
from kxbtc.sim.matching import MatchPlan, Order
from kxbtc.units import Count, Money, Price, notional


class Execution:
    """Matching, collateral, fills and cancels: the mechanics under order entry and the lifecycle."""

    def __init__(self, state: ExchangeState, publisher: Publisher, market_data: MarketData) -> None:
        self.state = state
        self.publisher = publisher
        self.market_data = market_data

    def reduce_only_cap(self, order: Order) -> Count:
        state = self.state.accounts.peek_position(order.user_id, order.subaccount, order.ticker)
        pos = 0 if state is None else state.position
        closable = max(-pos, 0) if order.side == "bid" else max(pos, 0)
        return Count(min(order.remaining, closable))

    def enter(self, order: Order, market: Market, now: int) -> tuple[Count, Money, Money]:
        """Match, check collateral, execute and rest a new ``order``. Returns this entry's (filled, fill
        cost, fees). Raises before changing anything when the order is refused."""
        plan, rests = self.prepare(order, market)
        return self.commit(order, market, plan, rests, now)

    def prepare(self, order: Order, market: Market) -> tuple[MatchPlan, bool]:
        """Plan ``order`` against the book and check it may enter; changes nothing."""
        stp = order.self_trade_prevention_type or "taker_at_cross"
        plan = self.state.books[order.ticker].plan(order, order.remaining, stp)
        if order.post_only and plan.crosses:
            raise invalid("invalid_order", "invalid order", "post only cross")
        self_crossed = plan.stp_stopped or bool(plan.stp_cancels)
        if order.time_in_force == "fill_or_kill" and not self_crossed and plan.filled < order.remaining:
            # All-or-none: nothing executes. (A self-crossing FOK behaves like IOC per its STP mode.)
            return MatchPlan(crosses=plan.crosses), False
        rests = (
            order.time_in_force == "good_till_canceled"
            and not plan.stp_stopped
            and order.remaining - plan.filled > 0
        )
        self._check_collateral(order, market, plan, rests)
        return plan, rests

    def commit(
        self, order: Order, market: Market, plan: MatchPlan, rests: bool, now: int
    ) -> tuple[Count, Money, Money]:
        user = self.state.user_states[order.user_id]
        if order.order_id not in self.state.orders and order.seq == 0:
            if order.client_order_id is not None:
                user.client_ids.add(order.client_order_id)
            if not user.internal:
                user.orders.append(order)
        self.state.orders[order.order_id] = order
        order.seq = self.state.next_seq()  # time priority restarts on every entry
        for own in plan.stp_cancels:
            self.cancel(own, now, "SelfTradePrevention")
        filled = cost = fees = 0
        for planned in plan.fills:
            fee, leg_cost = self._execute(order, planned.maker, planned.price, planned.count, market, now)
            filled += planned.count
            cost += leg_cost
            fees += fee
        book = self.state.books[order.ticker]
        if order.remaining > 0 and rests:
            order.status = "resting"
            self.state.index_resting(order)
            self.publisher.publish_level(book.rest(order), market, now)
            if order.expiration_ts is not None:
                heapq.heappush(self.state.expiries, (order.expiration_ts, order.seq, order.order_id))
        else:
            order.remaining = Count(0)
            if order.fill_count == order.initial_count:
                order.status = "executed"
            else:
                order.status = "canceled"
                order.last_update_reason = (
                    "SelfTradePrevention" if plan.stp_stopped else _unfilled_reason(order.time_in_force)
                )
            if order.internal:
                self.state.orders.pop(order.order_id, None)
        order.last_update_ns = now
        self.state.update_reserve(order.user_id, order.subaccount, order.ticker, market.exchange_index)
        self.publisher.publish_order(order, now)
        self.publisher.publish_ticker(market, now)
        return Count(filled), Money(cost), Money(fees)

    def _check_collateral(self, order: Order, market: Market, plan: MatchPlan, rests: bool) -> None:
        fees_schedule = self.state.series_by_ticker[market.series_ticker].fees
        current = self.state.accounts.peek_position(order.user_id, order.subaccount, order.ticker)
        sim = (
            current.copy()
            if current
            else PositionState(order.ticker, order.event_ticker, market.exchange_index)
        )
        cash = 0
        for planned in plan.fills:
            cash += sim.trade(order.side, planned.price, planned.count)
            cash -= fees_schedule.fee(planned.price, planned.count, is_taker=True)
        key = (order.user_id, order.subaccount, order.ticker)
        canceled = {o.order_id for o in plan.stp_cancels}
        others = [
            o
            for oid, o in self.state.resting.get(key, {}).items()
            if oid not in canceled and oid != order.order_id
        ]
        remainder = order.remaining - plan.filled if rests else 0
        after = reserve_for(others, [(order.side, order.price, remainder)], sim.position, fees_schedule)
        before = self.state.accounts.reserve_of(order.user_id, order.subaccount, order.ticker)
        available = self.state.accounts.available(order.user_id, order.subaccount, market.exchange_index)
        if available + cash - (after - before) < 0:
            raise invalid("insufficient_balance", "insufficient balance")

    def _execute(
        self, taker: Order, maker: Order, price: Price, count: Count, market: Market, now: int
    ) -> tuple[Money, Money]:
        fees_schedule = self.state.series_by_ticker[market.series_ticker].fees
        trade_id = self.state.uuid()
        seq = self.state.next_seq()
        taker_fee = fees_schedule.fee(price, count, is_taker=True)
        maker_fee = fees_schedule.fee(price, count, is_taker=False)
        oi_change = 0
        results: list[tuple[Order, Money, PositionState]] = []
        for order, fee in ((maker, maker_fee), (taker, taker_fee)):
            state = self.state.accounts.position(
                order.user_id, order.subaccount, order.ticker, order.event_ticker, market.exchange_index
            )
            before = max(state.position, 0)
            exact = state.exact_cash(order.side, price, count)
            cash = state.trade(order.side, price, count)
            oi_change += max(state.position, 0) - before
            state.fees_paid = Money(state.fees_paid + fee)
            state.last_updated_ns = now
            self.state.accounts.move_cash(order.user_id, order.subaccount, market.exchange_index, cash - fee)
            ledger = self.state.accounts.ledger
            ledger.fees = Money(ledger.fees + fee)
            ledger.dust = Money(ledger.dust + exact - cash)
            leg_cost = notional(leg_price(order.side, price), count)
            order.remaining = Count(order.remaining - count)
            order.fill_count = Count(order.fill_count + count)
            if order is taker:
                order.taker_fill_cost = Money(order.taker_fill_cost + leg_cost)
                order.taker_fees = Money(order.taker_fees + fee)
            else:
                order.maker_fill_cost = Money(order.maker_fill_cost + leg_cost)
                order.maker_fees = Money(order.maker_fees + fee)
            order.last_update_ns = now
            results.append((order, fee, state))
        ledger = self.state.accounts.ledger
        ledger.escrow = Money(ledger.escrow + oi_change * MONEY_PER_COUNT_DOLLAR)
        market.open_interest = Count(market.open_interest + oi_change)
        market.volume = Count(market.volume + count)
        market.last_price = price
        market.recent_volume.append((now, count))
        if market.recent_volume[0][0] < now - 86_400 * NS_PER_S:
            market.recent_volume = [(t, c) for t, c in market.recent_volume if t >= now - 86_400 * NS_PER_S]
        candle = self.market_data.candle(market.ticker, now // NS_PER_S)
        candle.price = Ohlc.of(price) if candle.price is None else candle.price
        candle.price.add(price)
        candle.price_sum += price * count
        candle.volume += count
        candle.open_interest = market.open_interest
        trade = Trade(trade_id, market.ticker, price, count, taker.side, now, seq)
        self.state.trades[market.ticker].append(trade)
        # The maker's resting size shrinks first (the book change precedes the trade on the wire).
        if maker.remaining == 0:
            maker.status = "executed"
            self.state.unindex_resting(maker)
        change = self.state.books[market.ticker].take_from(maker, count)
        self.publisher.publish_level(change, market, now)
        self.state.bus.publish(TradeEvent(trade, market.market_id))
        for order, fee, state in results:
            fill = Fill(
                fill_id=trade_id,
                order_id=order.order_id,
                user_id=order.user_id,
                subaccount=order.subaccount,
                ticker=market.ticker,
                event_ticker=market.event_ticker,
                side=order.side,
                price=price,
                count=count,
                is_taker=order is taker,
                fee=fee,
                ts_ns=now,
                post_position=state.position,
                exchange_index=market.exchange_index,
                client_order_id=order.client_order_id,
                seq=seq,
            )
            if order.internal:
                continue  # synthetic counterparties have no connections to tell
            self.state.accounts.record_fill(fill)
            self.state.bus.publish(FillEvent(fill))
            self.state.bus.publish(PositionUpdate(order.user_id, order.subaccount, state.copy(), now))
        self.state.update_reserve(maker.user_id, maker.subaccount, maker.ticker, market.exchange_index)
        self.publisher.publish_order(maker, now)
        return taker_fee, notional(leg_price(taker.side, price), count)

    def cancel(self, order: Order, now: int, reason: str) -> Count:
        """Take a live order off the book; returns the size removed."""
        reduced = order.remaining
        order.remaining = Count(0)
        order.status = "canceled"
        order.last_update_ns = now
        order.last_update_reason = reason
        self.state.unindex_resting(order)
        market = self.state.markets[order.ticker]
        change = self.state.books[order.ticker].take_from(order, reduced)
        self.publisher.publish_level(change, market, now)
        self.state.update_reserve(order.user_id, order.subaccount, order.ticker, market.exchange_index)
        self.publisher.publish_order(order, now)
        return reduced


def _unfilled_reason(time_in_force: str) -> str:
    return {"fill_or_kill": "FillOrKill", "immediate_or_cancel": "ImmediateOrCancel"}.get(
        time_in_force, "Canceled"
    )
