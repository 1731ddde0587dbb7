"""The simulated exchange's event fan-out: subscriber queues and the events it publishes on the bus
(index ticks, book deltas, order updates, ticker updates)."""

from __future__ import annotations

from dataclasses import replace

from kxbtc.clock import NS_PER_S
from kxbtc.sim.events import BookDelta, EventQueue, IndexTick, OrderUpdate, TickerUpdate
from kxbtc.sim.exchange_market_data import MarketData
from kxbtc.sim.markets import Market
from kxbtc.sim.matching import LevelChange, Order
from kxbtc.units import Count


class Publishing(MarketData):
    """Subscriber queues and the events published on ``self.bus``."""

    def subscribe(self, maxlen: int = 200_000) -> EventQueue:
        """A queue of every exchange event from now on (see ``kxbtc.sim.events``)."""
        return self.bus.subscribe(maxlen)

    def unsubscribe(self, queue: EventQueue) -> None:
        self.bus.unsubscribe(queue)

    def _publish_index(self, s: int, value: int) -> None:
        close_s = -(-s // 900) * 900
        size = s - (close_s - 60) if close_s - 60 < s else 0
        window_sum = sum(self.prices.value_cents(x) for x in range(close_s - size + 1, s + 1)) if size else 0
        self.bus.publish(
            IndexTick(
                s * NS_PER_S,
                value,
                sum(self._recent),
                len(self._recent),
                close_s * NS_PER_S,
                window_sum,
                size,
            )
        )

    def _publish_level(self, change: LevelChange, market: Market, now: int) -> None:
        if not self.bus.has_subscribers or change.delta == 0:
            return
        order = change.order
        self.bus.publish(
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

    def _publish_order(self, order: Order, now: int) -> None:
        if self.bus.has_subscribers and not order.internal:
            self.bus.publish(OrderUpdate(replace(order), now))

    def _publish_ticker(self, market: Market, now: int) -> None:
        bid, bid_size, ask, ask_size = self.top_of_book(market.ticker)
        state = (bid, bid_size, ask, ask_size, market.volume, market.open_interest)
        if self._ticker_state.get(market.ticker) == state:
            return
        last = self._ticker_state.get(market.ticker)
        self._ticker_state[market.ticker] = state
        if self.bus.has_subscribers:
            traded = Count(market.volume - last[4]) if last else Count(0)
            self.bus.publish(TickerUpdate(market, bid, ask, bid_size, ask_size, traded, now))
