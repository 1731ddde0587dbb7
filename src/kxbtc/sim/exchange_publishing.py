"""The simulated exchange's event fan-out: subscriber queues on the bus and the events published on it
(index ticks, book deltas, order updates, ticker updates)."""

from __future__ import annotations

from dataclasses import replace

from kxbtc.clock import NS_PER_S
from kxbtc.sim.events import BookDelta, EventQueue, IndexTick, OrderUpdate, TickerUpdate
from kxbtc.sim.exchange_market_data import MarketData
from kxbtc.sim.exchange_state import ExchangeState
from kxbtc.sim.markets import Market
from kxbtc.sim.matching import LevelChange, Order
from kxbtc.units import Count


class Publisher:
    """Subscriber queues and the events published on the state's bus."""

    def __init__(self, state: ExchangeState, market_data: MarketData) -> None:
        self.state = state
        self.market_data = market_data
        #: Per market, the last published (bid, bid size, ask, ask size, volume, open interest).
        self._ticker_state: dict[str, tuple[int, int, int, int, int, int]] = {}

    def subscribe(self, maxlen: int = 200_000) -> EventQueue:
        """A queue of every exchange event from now on (see ``kxbtc.sim.events``)."""
        return self.state.bus.subscribe(maxlen)

    def unsubscribe(self, queue: EventQueue) -> None:
        self.state.bus.unsubscribe(queue)

    def forget(self, ticker: str) -> None:
        """Drop what is kept about a market that left the exchange."""
        self._ticker_state.pop(ticker, None)

    def publish_index(self, s: int, value: int) -> None:
        state = self.state
        close_s = -(-s // 900) * 900
        size = s - (close_s - 60) if close_s - 60 < s else 0
        window_sum = sum(state.prices.value_cents(x) for x in range(close_s - size + 1, s + 1)) if size else 0
        state.bus.publish(
            IndexTick(
                s * NS_PER_S,
                value,
                sum(state.recent),
                len(state.recent),
                close_s * NS_PER_S,
                window_sum,
                size,
            )
        )

    def publish_level(self, change: LevelChange, market: Market, now: int) -> None:
        bus = self.state.bus
        if not bus.has_subscribers or change.delta == 0:
            return
        order = change.order
        bus.publish(
            BookDelta(
                ticker=market.ticker,
                market_id=market.market_id,
                side="yes" if change.side == "bid" else "no",
                yes_price=change.price,
                delta=change.delta,
                ts_ns=now,
                user_id=order.user_id,
                client_order_id=order.client_order_id,
                subaccount=order.subaccount,
            )
        )

    def publish_order(self, order: Order, now: int) -> None:
        bus = self.state.bus
        if bus.has_subscribers and not order.internal:
            bus.publish(OrderUpdate(replace(order), now))

    def publish_ticker(self, market: Market, now: int) -> None:
        """A ticker update when the top of book, volume or open interest changed since the last one."""
        bid, bid_size, ask, ask_size = self.market_data.top_of_book(market.ticker)
        current = (bid, bid_size, ask, ask_size, market.volume, market.open_interest)
        last = self._ticker_state.get(market.ticker)
        if last == current:
            return
        self._ticker_state[market.ticker] = current
        if self.state.bus.has_subscribers:
            traded = Count(market.volume - last[4]) if last else Count(0)
            self.state.bus.publish(TickerUpdate(market, bid, ask, bid_size, ask_size, traded, now))
