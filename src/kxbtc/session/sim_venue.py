"""The simulator's exchange as a venue of the trading core, in process.

Exchange events become domain events (only for the markets we follow, and only our own fills and
orders); the core's commands become exchange calls whose answers become domain events. This is the
in-process counterpart of the Kalshi adapter: the simulator's REST/WebSocket server and our Kalshi client
carry the same information over sockets.
"""

from __future__ import annotations

from collections.abc import Iterable

from kxbtc.core.commands import OutgoingOrder
from kxbtc.domain.events import (
    BookDelta,
    BookSnapshot,
    CoreEvent,
    FillEvent,
    IndexTick,
    MarketDetermined,
    MarketListed,
    MarketSettled,
    OrderEvent,
)
from kxbtc.domain.instrument import Instrument
from kxbtc.domain.orders import Fill, OrderAck, OrderUpdate
from kxbtc.domain.sides import Leg
from kxbtc.sim import events as sim_events
from kxbtc.sim.exchange import CRYPTO_SHARD, Exchange, SimRejection
from kxbtc.sim.markets import Market
from kxbtc.units import Count, Money, Price

#: A queue this deep never overflows between two of the runner's drains.
_QUEUE_DEPTH = 50_000_000


class SimVenue:
    def __init__(self, exchange: Exchange, user_id: str, series: Iterable[str]) -> None:
        self.exchange = exchange
        self.user_id = user_id
        self.series = frozenset(series)
        self.queue = exchange.subscribe(_QUEUE_DEPTH)
        self.followed: set[str] = set()
        self.listed: set[str] = set()
        self.listed_opens: dict[str, int] = {}  # ticker -> open time, kept after the exchange forgets it
        #: Followed markets whose settlement was published and not yet delivered to the core (the runner
        #: then forgets them, held or not: a market we never traded gets no ``MarketSettled``).
        self.settled: set[str] = set()

    def cash(self) -> Money:
        return self.exchange.accounts.cash_of(self.user_id, 0, CRYPTO_SHARD)

    # -- market data ------------------------------------------------------------------------------

    def new_markets(self, now_ns: int) -> list[tuple[MarketListed, BookSnapshot]]:
        """Markets of our series that opened with a strike since the last call, each with its book
        (what discovery and the subscription's first snapshot give a live client)."""
        found = []
        for market in self.exchange.markets.values():
            if (
                market.ticker in self.listed
                or market.series_ticker not in self.series
                or market.status != "active"
                or (market.floor_strike is None and market.cap_strike is None)
            ):
                continue
            self.listed.add(market.ticker)
            self.listed_opens[market.ticker] = market.open_ns
            self.followed.add(market.ticker)
            found.append(
                (MarketListed(self.instrument(market), now_ns), self.snapshot(market.ticker, now_ns))
            )
        return found

    def instrument(self, market: Market) -> Instrument:
        return Instrument(
            ticker=market.ticker,
            event_ticker=market.event_ticker,
            series=market.series_ticker,
            strike_type=market.strike_type,
            floor_strike=market.floor_strike / 100 if market.floor_strike is not None else None,
            cap_strike=market.cap_strike / 100 if market.cap_strike is not None else None,
            open_ns=market.open_ns,
            close_ns=market.close_ns,
            fees=self.exchange.series_by_ticker[market.series_ticker].fees,
            status="active",
            grid=market.grid,
            exchange_index=market.exchange_index,
            title=market.yes_sub_title,
        )

    def snapshot(self, ticker: str, now_ns: int) -> BookSnapshot:
        book = self.exchange.orderbook(ticker)
        return BookSnapshot(ticker, tuple(book.yes), tuple(book.no), now_ns)

    def drain(self) -> list[CoreEvent]:
        """Everything the exchange published since the last drain that concerns us, as domain events."""
        out: list[CoreEvent] = []
        for event in self.queue.drain():
            translated = self._translate(event)
            if translated is not None:
                out.append(translated)
        return out

    def _translate(self, event: sim_events.ExchangeEvent) -> CoreEvent | None:
        if isinstance(event, sim_events.BookDelta):
            if event.ticker not in self.followed:
                return None
            leg = Leg.YES if event.side == "yes" else Leg.NO
            price = event.yes_price if leg is Leg.YES else event.no_price
            return BookDelta(event.ticker, leg, Price(price), event.delta, event.ts_ns)
        if isinstance(event, sim_events.IndexTick):
            return IndexTick(event.ts_ns, event.value_cents / 100, "simulator")
        if isinstance(event, sim_events.FillEvent):
            fill = event.fill
            if fill.user_id != self.user_id:
                return None
            return FillEvent(
                Fill(
                    fill.fill_id,
                    fill.order_id,
                    fill.ticker,
                    fill.side,
                    fill.price,
                    fill.count,
                    fill.fee,
                    fill.is_taker,
                    fill.ts_ns,
                )
            )
        if isinstance(event, sim_events.OrderUpdate):
            order = event.order
            if order.user_id != self.user_id:
                return None
            return OrderEvent(
                OrderUpdate(
                    order.order_id,
                    order.client_order_id or "",
                    order.ticker,
                    str(order.side),
                    order.price,
                    order.status,
                    order.fill_count,
                    order.remaining,
                    event.ts_ns,
                )
            )
        if isinstance(event, sim_events.LifecycleEvent) and event.market.ticker in self.followed:
            return self._lifecycle(event)
        return None

    def _lifecycle(self, event: sim_events.LifecycleEvent) -> CoreEvent | None:
        market = event.market
        if event.event_type == "determined" and market.result:
            return MarketDetermined(market.ticker, market.result, event.ts_ns)
        if event.event_type != "settled":
            return None
        self.followed.discard(market.ticker)
        self.settled.add(market.ticker)
        for s in self.exchange.accounts.settlements.get(self.user_id, []):
            if s.ticker == market.ticker:
                return MarketSettled(
                    s.ticker,
                    s.event_ticker,
                    s.market_result,
                    s.yes_count,
                    s.no_count,
                    s.yes_total_cost,
                    s.no_total_cost,
                    s.revenue,
                    s.fee_cost,
                    s.settled_ns,
                )
        return MarketDetermined(market.ticker, market.result, event.ts_ns) if market.result else None

    # -- orders -----------------------------------------------------------------------------------

    def place(self, orders: Iterable[OutgoingOrder]) -> list[OrderAck]:
        acks = []
        for out in orders:
            intent = out.order.intent
            try:
                created = self.exchange.create_order(
                    self.user_id,
                    ticker=intent.ticker,
                    side=intent.side,
                    price=intent.price,
                    count=out.order.count,
                    time_in_force=intent.time_in_force,
                    self_trade_prevention_type="taker_at_cross",
                    client_order_id=out.client_order_id,
                )
            except SimRejection as exc:
                acks.append(
                    OrderAck(out.client_order_id, intent.ticker, None, "rejected", _NONE, _NONE, exc.code)
                )
                continue
            remaining = created.remaining_count
            status = "resting" if remaining > 0 else ("executed" if created.fill_count > 0 else "canceled")
            acks.append(
                OrderAck(
                    out.client_order_id,
                    intent.ticker,
                    created.order.order_id,
                    status,
                    created.fill_count,
                    remaining,
                )
            )
        return acks

    def cancel(self, order_ids: Iterable[str]) -> int:
        """Cancel these orders of ours where they still rest; how many. One already filled or cancelled
        is left alone: its update has gone out already."""
        cancelled = 0
        for order_id in order_ids:
            order = self.exchange.orders.get(order_id)
            if order is not None and order.user_id == self.user_id and order.is_live:
                self.exchange.cancel_order(
                    self.user_id, order_id, exchange_index=order.exchange_index, market_ticker=order.ticker
                )
                cancelled += 1
        return cancelled

    def cancel_all(self) -> int:
        """Cancel every order of ours still resting; how many."""
        cancelled = 0
        for order in [o for o in self.exchange.orders.values() if o.user_id == self.user_id]:
            if order.is_live:
                self.exchange.cancel_order(
                    self.user_id,
                    order.order_id,
                    exchange_index=order.exchange_index,
                    market_ticker=order.ticker,
                )
                cancelled += 1
        return cancelled

    def fills_missing(self, known: set[str]) -> list[FillEvent]:
        """Fills the exchange has that ``known`` lacks (what a REST reconciliation finds)."""
        return [
            FillEvent(
                Fill(
                    f.fill_id,
                    f.order_id,
                    f.ticker,
                    f.side,
                    f.price,
                    f.count,
                    f.fee,
                    f.is_taker,
                    f.ts_ns,
                    "rest",
                )
            )
            for f in self.exchange.accounts.fills.get(self.user_id, [])
            if f.fill_id not in known
        ]


_NONE = Count(0)
