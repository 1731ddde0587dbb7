"""Time on the simulated exchange: ``step`` brings it up to the clock one index second at a time,
lists events ahead of their windows, opens, closes, determines and settles markets, expires orders,
pauses trading for the weekly maintenance and forgets old finalized markets."""

from __future__ import annotations

import heapq
import logging
from typing import Protocol

from kxbtc.clock import NS_PER_S
from kxbtc.sim.accounts import MONEY_PER_COUNT_DOLLAR, Settlement
from kxbtc.sim.events import EventCreated, LifecycleEvent, PositionUpdate
from kxbtc.sim.exchange_execution import Execution
from kxbtc.sim.exchange_market_data import MarketData
from kxbtc.sim.exchange_publishing import Publisher
from kxbtc.sim.exchange_state import ExchangeState
from kxbtc.sim.market_specs import (
    HOUR_NS,
    QUARTER_NS,
    RULES_SECONDARY,
    MarketSpec,
    spec_15m,
    specs_kxbtc,
    specs_kxbtcd,
)
from kxbtc.sim.market_text import (
    dollars_display,
    et_phrase,
    event_ticker_15m,
    event_ticker_hourly,
    in_weekly_maintenance,
)
from kxbtc.sim.markets import GRIDS, Event, Market, settlement_average_cents
from kxbtc.sim.matching import OrderBook
from kxbtc.units import Count, Money

# The records keep the logger name they had when this code lived in ``kxbtc.sim.exchange``.
log = logging.getLogger("kxbtc.sim.exchange")


class Participant(Protocol):
    """Something that trades on the exchange as time passes (the synthetic counterparties)."""

    def step(self, now_ns: int) -> None: ...


class MarketLifecycle:
    """The clock: index seconds, market schedule and lifecycle, settlement, expiry and pauses."""

    def __init__(
        self, state: ExchangeState, execution: Execution, publisher: Publisher, market_data: MarketData
    ) -> None:
        self.state = state
        self.execution = execution
        self.publisher = publisher
        self.market_data = market_data
        #: Stepped after the exchange's own work on every step (``Exchange.liquidity``).
        self.counterparties: Participant | None = None
        now_s = state.clock.time_ns() // NS_PER_S
        self._last_s = max(state.prices.first_second(), now_s - 1)  # the last index second processed
        self._lifecycle: list[tuple[int, int, str]] = []  # heap of (t_ns, seq, ticker) due for a look
        self._created_closes: set[tuple[str, int]] = set()  # (series, close) already listed
        self._stepping = False

    def step(self, now_ns: int | None = None) -> None:
        """Bring the exchange up to ``now_ns`` (default: the clock): index seconds, lifecycle, expiry,
        counterparties. Re-entrant calls (from inside a step) do nothing."""
        if self._stepping:
            return
        self._stepping = True
        try:
            now = self.state.clock.time_ns() if now_ns is None else now_ns
            now_s = now // NS_PER_S
            while self._last_s < now_s:
                self._last_s += 1
                self._second(self._last_s)
            self._expire(now_s)
            if self.counterparties is not None:
                self.counterparties.step(now)
        finally:
            self._stepping = False

    async def run(self, interval_s: float = 0.1) -> None:
        """Step on the injected clock until cancelled."""
        while True:
            try:
                self.step()
            except Exception:  # the loop must survive one bad step; the error is logged with its type
                log.exception("simulated exchange step failed")
            await self.state.clock.sleep(interval_s)

    def _second(self, s: int) -> None:
        t_ns = s * NS_PER_S
        value = self.state.prices.value_cents(s)
        self._ensure_schedule(t_ns)
        while self._lifecycle and self._lifecycle[0][0] <= t_ns:
            _, _, ticker = heapq.heappop(self._lifecycle)
            self._advance_market(ticker, t_ns)
        if self.state.config.weekly_maintenance:
            paused = in_weekly_maintenance(t_ns)
            if paused == self.state.trading_active:
                self.set_trading_active(not paused)
        self.market_data.sample_candles(s)
        if self.state.bus.has_subscribers:
            self.publisher.publish_index(s, value)
        self.state.recent.append(value)
        if len(self.state.recent) > 60:
            del self.state.recent[0]

    def index_value(self, second: int | None = None) -> int:
        """The index (cents) at ``second`` (default: the last processed second)."""
        return self.state.prices.value_cents(self._last_s if second is None else second)

    def index_window(self, close_s: int, upto_s: int | None = None) -> list[int]:
        """Values of the settlement window ``(close - 60, close]`` observed up to ``upto_s``."""
        last = min(close_s, self._last_s if upto_s is None else upto_s)
        return [self.state.prices.value_cents(x) for x in range(close_s - 59, last + 1)]

    # -- schedule and lifecycle -------------------------------------------------------------------

    def _ensure_schedule(self, t_ns: int) -> None:
        if "KXBTC15M" in self.state.series_by_ticker:
            quarter = t_ns // QUARTER_NS * QUARTER_NS
            for k in range(1, self.state.config.windows_ahead_15m + 2):
                close = quarter + k * QUARTER_NS
                if ("KXBTC15M", close) not in self._created_closes:
                    self._created_closes.add(("KXBTC15M", close))
                    self._create_event(
                        "KXBTC15M",
                        event_ticker_15m(close),
                        close,
                        close - QUARTER_NS,
                        [spec_15m(close)],
                        t_ns,
                    )
        hour = t_ns // HOUR_NS * HOUR_NS
        for series in ("KXBTCD", "KXBTC"):
            if series not in self.state.series_by_ticker:
                continue
            for close in (hour + HOUR_NS, hour + 2 * HOUR_NS):
                if (series, close) in self._created_closes:
                    continue
                if close - HOUR_NS - self.state.config.hourly_lead_s * NS_PER_S > t_ns:
                    continue
                self._created_closes.add((series, close))
                ticker = event_ticker_hourly(series, close)
                spot = self.state.prices.value_cents(t_ns // NS_PER_S)
                if series == "KXBTCD":
                    specs = specs_kxbtcd(ticker, close, spot, self.state.config.ladder_each_side)
                else:
                    specs = specs_kxbtc(ticker, close, spot, self.state.config.range_each_side)
                self._create_event(series, ticker, close, close - HOUR_NS, specs, t_ns)
        self._prune(t_ns)

    def _create_event(
        self,
        series_ticker: str,
        event_ticker: str,
        close_ns: int,
        open_ns: int,
        specs: list[MarketSpec],
        t_ns: int,
    ) -> None:
        series = self.state.series_by_ticker[series_ticker]
        event = Event(
            event_ticker=event_ticker,
            series_ticker=series_ticker,
            title=series.title if series_ticker == "KXBTC15M" else f"{series.title} on {et_phrase(close_ns)}",
            sub_title=et_phrase(close_ns),
            strike_ns=close_ns,
            exchange_index=series.exchange_index,
            mutually_exclusive=series_ticker == "KXBTC",
            strike_period="fifteen_min" if series_ticker == "KXBTC15M" else "hour",
            updated_ns=t_ns,
            seq=self.state.next_seq(),
        )
        self.state.events_by_ticker[event_ticker] = event
        self.state.bus.publish(EventCreated(event, t_ns))
        for spec in specs:
            market = Market(
                ticker=spec.ticker,
                event_ticker=event_ticker,
                series_ticker=series_ticker,
                market_id=self.state.uuid(),
                title=spec.title,
                yes_sub_title=spec.yes_sub_title,
                no_sub_title=spec.no_sub_title,
                strike_type=spec.strike_type,
                floor_strike=spec.floor_strike,
                cap_strike=spec.cap_strike,
                created_ns=t_ns,
                open_ns=open_ns,
                close_ns=close_ns,
                settlement_timer_s=series.settlement_timer_s,
                price_level_structure=series.price_level_structure,
                grid=GRIDS[series.price_level_structure],
                exchange_index=series.exchange_index,
                rules_primary=spec.rules_primary,
                rules_secondary=RULES_SECONDARY,
                seq=self.state.next_seq(),
                updated_ns=t_ns,
            )
            self.state.markets[market.ticker] = market
            self.state.books[market.ticker] = OrderBook(market.ticker)
            self.state.trades[market.ticker] = []
            event.market_tickers.append(market.ticker)
            self.state.bus.publish(LifecycleEvent("created", market, t_ns))
            heapq.heappush(self._lifecycle, (max(open_ns, t_ns), market.seq, market.ticker))

    def _advance_market(self, ticker: str, t_ns: int) -> None:
        market = self.state.markets.get(ticker)
        if market is None:
            return
        if market.status == "initialized" and t_ns >= market.open_ns:
            if market.series_ticker == "KXBTC15M":
                strike = settlement_average_cents(self.index_window(market.open_ns // NS_PER_S))
                market.floor_strike = strike
                market.yes_sub_title = market.no_sub_title = f"Target Price: {dollars_display(strike)}"
                market.updated_ns = t_ns
                self.state.bus.publish(LifecycleEvent("metadata_updated", market, t_ns))
            market.status = "active"
        if market.status == "active" and t_ns >= market.close_ns:
            market.status = "closed"
            self._cancel_all_resting(market, t_ns, "MarketClosed")
        if market.status == "closed" and t_ns >= market.close_ns:
            value = settlement_average_cents(self.index_window(market.close_ns // NS_PER_S))
            market.settlement_value_cents = value
            market.result = "yes" if market.yes_wins(value) else "no"
            market.status = "determined"
            market.determined_ns = t_ns
            market.updated_ns = t_ns
            self.state.bus.publish(LifecycleEvent("determined", market, t_ns))
        if market.status == "determined":
            assert market.determined_ns is not None
            due = market.determined_ns + market.settlement_timer_s * NS_PER_S
            if t_ns >= due:
                self._settle(market, t_ns)
                return
            heapq.heappush(self._lifecycle, (due, market.seq, ticker))
            return
        if market.status == "initialized":
            heapq.heappush(self._lifecycle, (market.open_ns, market.seq, ticker))
        elif market.status == "active":
            heapq.heappush(self._lifecycle, (market.close_ns, market.seq, ticker))

    def _settle(self, market: Market, t_ns: int) -> None:
        market.status = "finalized"
        market.settled_ns = t_ns
        market.updated_ns = t_ns
        yes_won = market.result == "yes"
        for key in [k for k in self.state.accounts.positions if k[2] == market.ticker]:
            state = self.state.accounts.positions.pop(key)
            user_id, subaccount, _ = key
            pos = state.position
            won = pos > 0 if yes_won else pos < 0
            payout = Money(abs(pos) * MONEY_PER_COUNT_DOLLAR) if won else Money(0)
            if payout:
                self.state.accounts.move_cash(user_id, subaccount, state.exchange_index, payout)
            ledger = self.state.accounts.ledger
            ledger.payouts = Money(ledger.payouts + payout)
            if pos > 0:
                ledger.escrow = Money(ledger.escrow - pos * MONEY_PER_COUNT_DOLLAR)
            if self.state.is_internal(user_id):
                continue
            settlement = Settlement(
                user_id=user_id,
                subaccount=subaccount,
                ticker=market.ticker,
                event_ticker=market.event_ticker,
                exchange_index=market.exchange_index,
                market_result="yes" if yes_won else "no",
                yes_count=Count(max(pos, 0)),
                yes_total_cost=state.cost if pos > 0 else Money(0),
                no_count=Count(max(-pos, 0)),
                no_total_cost=state.cost if pos < 0 else Money(0),
                revenue=payout,
                value_cents=100 if yes_won else 0,
                fee_cost=state.fees_paid,
                settled_ns=t_ns,
                seq=self.state.next_seq(),
            )
            self.state.accounts.record_settlement(settlement)
            state.realized_pnl = Money(state.realized_pnl + payout - state.cost)
            state.cost = Money(0)
            state.position = Count(0)
            state.last_updated_ns = t_ns
            self.state.bus.publish(PositionUpdate(user_id, subaccount, state.copy(), t_ns))
        market.open_interest = Count(0)
        self.state.bus.publish(LifecycleEvent("settled", market, t_ns))

    def _prune(self, t_ns: int) -> None:
        horizon = t_ns - self.state.config.retain_finalized_s * NS_PER_S
        if t_ns % (60 * NS_PER_S):
            return  # once a minute is plenty
        gone = [
            t
            for t, m in self.state.markets.items()
            if m.status == "finalized" and m.settled_ns is not None and m.settled_ns < horizon
        ]
        for ticker in gone:
            market = self.state.markets.pop(ticker)
            self.state.books.pop(ticker, None)
            self.state.trades.pop(ticker, None)
            self.state.candles.pop(ticker, None)
            self.publisher.forget(ticker)
            event = self.state.events_by_ticker.get(market.event_ticker)
            if event is not None and all(t not in self.state.markets for t in event.market_tickers):
                del self.state.events_by_ticker[market.event_ticker]
        if gone:
            self._forget_orders(set(gone))

    def _forget_orders(self, tickers: set[str]) -> None:
        """Users' orders in forgotten markets go with them (all finished: a market settles only after its
        orders are canceled), so a long run stays flat. Their client order ids stay taken, and the users'
        fills and settlements stay: they are the account's history."""
        for user in self.state.user_states.values():
            if not user.orders:
                continue
            kept = [o for o in user.orders if o.ticker not in tickers or o.is_live]
            if len(kept) == len(user.orders):
                continue
            for order in user.orders:
                if order.ticker in tickers and not order.is_live:
                    self.state.orders.pop(order.order_id, None)
            user.orders = kept

    # -- pauses, market close and order expiry -------------------------------------------------

    def set_trading_active(self, active: bool) -> None:
        """Pause or resume trading (cancels stay allowed); orders with ``cancel_order_on_pause`` go."""
        self.state.trading_active = active
        if not active:
            now = self.state.now_ns()
            for order in [o for o in self.state.orders.values() if o.is_live and o.cancel_order_on_pause]:
                self.execution.cancel(order, now, "ExchangePaused")

    def _cancel_all_resting(self, market: Market, now: int, reason: str) -> None:
        for order in self.state.books[market.ticker].resting_orders():
            self.execution.cancel(order, now, reason)
        self.publisher.publish_ticker(market, now)

    def _expire(self, now_s: int) -> None:
        while self.state.expiries and self.state.expiries[0][0] <= now_s:
            _, seq, order_id = heapq.heappop(self.state.expiries)
            order = self.state.orders.get(order_id)
            if order is not None and order.is_live and order.seq == seq:
                self.execution.cancel(order, now_s * NS_PER_S, "Expired")
                self.publisher.publish_ticker(self.state.markets[order.ticker], now_s * NS_PER_S)
