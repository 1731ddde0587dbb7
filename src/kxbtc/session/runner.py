"""The discrete-event loop: the simulator and the trading core on one simulated clock.

Time jumps from one scheduled thing to the next: the exchange's whole seconds (index print, market
lifecycle, the simulated makers), messages arriving across the modelled network, and the core's timer.
Nothing sleeps and nothing depends on the machine's speed, so the same seed and settings give the same
run, event for event.

Timeline of an order: the core decides when a book event arrives; the order reaches the exchange one
network delay later and executes against the book as it is then; the acknowledgement and the fills
come back one delay after that. Market data leaves the exchange when it happens and reaches the core one
delay later; a lost message leaves the book stale until a snapshot (a request and an answer across the
network) rebuilds it.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, replace

from kxbtc.clock import NS_PER_S, Clock, ManualClock
from kxbtc.config import Config
from kxbtc.core.commands import CancelAll, CancelOrders, Command, PlaceOrders, Reconcile
from kxbtc.core.operator_view import OperatorView
from kxbtc.core.trading_core import TradingCore
from kxbtc.domain.events import (
    AckEvent,
    BookDelta,
    BookStale,
    CoreEvent,
    FillEvent,
    MarketDetermined,
    MarketSettled,
    OrderEvent,
    Timer,
)
from kxbtc.session.network import Network, NetworkConfig
from kxbtc.session.sim_venue import SimVenue
from kxbtc.sim.exchange import Exchange, SimConfig
from kxbtc.store.db import SqliteStore
from kxbtc.store.records import RiskEventRecord

#: A fixed default start, so a run without ``start_ns`` is the same run every time (a Wednesday noon UTC).
DEFAULT_START_NS = 1_778_673_600 * NS_PER_S  # 2026-05-13T12:00:00Z
USER_KEY = "kxbtc-session"


@dataclass(slots=True)
class SessionCounts:
    market_events: int = 0  # book and index events delivered to the core
    account_events: int = 0  # fills, order updates, acknowledgements, settlements
    orders_sent: int = 0
    cancel_alls: int = 0
    cancels: int = 0  # orders cancelled one by one (``CancelOrders``)
    lost_messages: int = 0
    resyncs: int = 0
    reconciliations: int = 0


class SimSession:
    def __init__(
        self,
        config: Config,
        *,
        store: SqliteStore,
        seed: int = 1,
        series: tuple[str, ...] = ("KXBTC15M",),
        network: NetworkConfig | None = None,
        sim_config: SimConfig | None = None,
        start_ns: int = DEFAULT_START_NS,
        tick_s: float = 1.0,
        run_id: str = "",
        operator_view: bool = False,
        wall_clock: Clock | None = None,
        publish_min_wall_s: float = 0.0,
    ) -> None:
        self.clock = ManualClock(start_ns)
        cfg = sim_config or SimConfig()
        if tuple(cfg.series) != series:
            cfg = replace(cfg, series=series)
        self.exchange = Exchange(self.clock, seed=seed, config=cfg)
        self.user_id = self.exchange.ensure_user(USER_KEY)
        self.venue = SimVenue(self.exchange, self.user_id, series)
        self.network = Network(network or NetworkConfig(), seed)
        self.store = store
        self.core = TradingCore(config, clock=self.clock, store=store, run_id=run_id or f"session-{seed}")
        self.start_cash = self.venue.cash()
        self.core.account.anchor = self.start_cash
        self.tick_ns = int(tick_s * NS_PER_S)
        self.counts = SessionCounts()
        self._queue: list[tuple[int, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._stale: set[str] = set()  # books whose next delta was lost, awaiting a snapshot
        #: The heartbeat and live markets for ``kxbtc status`` and the dashboard (the demo; not backtests).
        self.view: OperatorView | None = None
        if operator_view:
            self.view = OperatorView(
                self.core,
                store,
                mode="demo",
                wall_clock=wall_clock,
                publish_min_wall_s=publish_min_wall_s,
            )
            self.view.start()

    # -- scheduling -------------------------------------------------------------------------------

    def _at(self, t_ns: int, action: Callable[[], None]) -> None:
        heapq.heappush(self._queue, (t_ns, next(self._seq), action))

    def _to_core(self, event: CoreEvent, sent_ns: int) -> None:
        self._at(self.network.to_core.arrival_ns(sent_ns), lambda: self._deliver(event))

    def _to_venue(self, command: Command, sent_ns: int) -> None:
        self._at(self.network.to_venue.arrival_ns(sent_ns), lambda: self._execute(command))

    # -- the loop ---------------------------------------------------------------------------------

    def run_until(self, end_ns: int, *, on_second: Callable[[SimSession], None] | None = None) -> None:
        now = self.clock.time_ns()
        next_second = (now // NS_PER_S + 1) * NS_PER_S
        next_timer = now + self.tick_ns
        while True:
            t = min(next_second, next_timer, self._queue[0][0] if self._queue else next_second)
            if t > end_ns:
                break
            self.clock.set_ns(max(t, self.clock.time_ns()))
            if t == next_second:
                self.exchange.step()
                self._publish(t)
                for listed, snapshot in self.venue.new_markets(t):
                    self._to_core(listed, t)
                    self._to_core(snapshot, t)
                next_second += NS_PER_S
                if on_second is not None:
                    on_second(self)
            while self._queue and self._queue[0][0] <= t:
                _, _, action = heapq.heappop(self._queue)
                action()
                self._publish(t)
            if t >= next_timer:
                self._deliver(Timer(t))
                next_timer += self.tick_ns
        self.clock.set_ns(max(end_ns, self.clock.time_ns()))

    def _publish(self, now: int) -> None:
        """Send what the exchange published across the network (market data may be lost)."""
        for event in self.venue.drain():
            if isinstance(event, BookDelta) and self.network.to_core.drops():
                self.counts.lost_messages += 1
                self._lose(event.ticker, now)
                continue
            self._to_core(event, now)

    def _lose(self, ticker: str, now: int) -> None:
        """The stream's next message shows the gap: the book goes stale, a snapshot is requested."""
        if ticker in self._stale:
            return
        self._stale.add(ticker)
        self._to_core(BookStale(ticker, "sequence gap (message lost)", now), now)
        arrival = self.network.to_venue.arrival_ns(now)

        def answer() -> None:
            self._stale.discard(ticker)
            self.counts.resyncs += 1
            self._to_core(self.venue.snapshot(ticker, arrival), arrival)

        self._at(arrival, answer)

    def _deliver(self, event: CoreEvent) -> None:
        if isinstance(event, AckEvent | MarketSettled | FillEvent | OrderEvent):
            self.counts.account_events += 1
        else:
            self.counts.market_events += 1
        for command in self.core.handle(event):
            self._to_venue(command, self.clock.time_ns())
        if isinstance(event, MarketSettled | MarketDetermined) and event.ticker in self.venue.settled:
            # The market is over: the core drops its instrument and book (kept, every market ever listed
            # stayed in memory and on the market board).
            self.venue.settled.discard(event.ticker)
            self.core.forget_market(event.ticker)
        elif isinstance(event, MarketSettled):
            self.core.forget_market(event.ticker)

    def _execute(self, command: Command) -> None:
        now = self.clock.time_ns()
        if isinstance(command, PlaceOrders):
            self.counts.orders_sent += len(command.orders)
            acks = self.venue.place(command.orders)
            self._publish(now)  # the fills and book changes the orders caused go out before the answer
            self._to_core(AckEvent(tuple(acks), now), now)
        elif isinstance(command, CancelOrders):
            # Each cancelled order's update (or its fill, if it traded first) comes back on the stream.
            self.counts.cancels += self.venue.cancel(command.order_ids)
            self._publish(now)
        elif isinstance(command, CancelAll):
            self.counts.cancel_alls += 1
            cancelled = self.venue.cancel_all()
            if cancelled:
                self.core.note(
                    RiskEventRecord(now, "cancel_all", "info", f"{cancelled} orders: {command.reason}")
                )
        elif isinstance(command, Reconcile):
            self.counts.reconciliations += 1
            for fill in self.venue.fills_missing(self.core.portfolio.booked_fill_ids()):
                self._to_core(fill, now)

    # -- the end ----------------------------------------------------------------------------------

    def finish(self) -> None:
        """Stop trading: cancel what rests, let every message in flight land, book what is missing."""
        self.core.stopping = True
        now = self.clock.time_ns()
        self.venue.cancel_all()
        self._publish(now)
        while self._queue:
            t, _, action = heapq.heappop(self._queue)
            self.clock.set_ns(max(t, self.clock.time_ns()))
            action()
            self._publish(self.clock.time_ns())
        for fill in self.venue.fills_missing(self.core.portfolio.booked_fill_ids()):
            self.core.handle(fill)
        self.core.snapshot_pnl()
        if self.view is not None:
            self.view.stop()
        self.store.flush()
