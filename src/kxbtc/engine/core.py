"""The live engine: wiring between Kalshi (REST + WebSocket), the trading core and the store.

Every decision is made by ``kxbtc.core.TradingCore``, the same code paper trading, the demo and the
backtests run. This module only translates: Kalshi's stream messages become domain events for the core,
the core's commands become REST calls (``ExecutionRouter``), and their answers go back as events. Slow
work (reconciliation, market discovery, P&L snapshots, the LLM priors) runs on the timer beside the fast
path.

The fast path: the frames the WebSocket connection received together are applied as one batch, each
changed market is evaluated once at its end, and an order is written to the socket right there, before
the read loop reads on (only its answer is awaited, in a task). Its ``intended`` row is written ahead to
a file first (``kxbtc.store.intents``); the records the evaluation made reach the store's writer thread
after the send (``SqliteStore.hold``).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import Awaitable, Callable, Sequence

from kxbtc import latency
from kxbtc.book.orderbook import OrderBook
from kxbtc.clock import Clock
from kxbtc.config import Config
from kxbtc.core.bookkeeping import RISK_BASELINE_KEY, intended_record
from kxbtc.core.commands import (
    CancelAll,
    CancelOrders,
    Command,
    OutgoingOrder,
    PlaceOrders,
    Reconcile,
    RefreshMarkets,
)
from kxbtc.core.feed import connection
from kxbtc.core.operator_view import OperatorView
from kxbtc.core.stand_aside import trading_decision
from kxbtc.core.stats import CoreStats
from kxbtc.core.trading_core import HALT_KEY, TimerSource, TradingCore
from kxbtc.domain.events import AckEvent, MarketDetermined
from kxbtc.engine.cross_venue import CrossVenueDesk
from kxbtc.engine.exchange_sync import ExchangeSync
from kxbtc.engine.index_feed import build_index_feed
from kxbtc.engine.journal import EngineJournal
from kxbtc.engine.llm_requests import llm_requests
from kxbtc.engine.market_follow import follow_markets
from kxbtc.errors import KxbtcError
from kxbtc.execution.router import ExecutionRouter, SubmitResult, ack_of
from kxbtc.kalshi.discovery import ContractSpec
from kxbtc.kalshi.reconcile import Reconciler
from kxbtc.kalshi.rest import KalshiRestClient
from kxbtc.kalshi.rest_orders import ORDERS_V2
from kxbtc.kalshi.rest_transport import StartedWrite
from kxbtc.kalshi.stream import fill_of, order_update_of
from kxbtc.kalshi.ws import KalshiWsClient, Subscription, WsHandler
from kxbtc.kalshi.ws_messages import (
    CfbenchmarksValue,
    EventFeeUpdate,
    EventLifecycle,
    Fill,
    MarketLifecycle,
    OrderbookDelta,
    OrderbookSnapshot,
    UserOrder,
)
from kxbtc.llm.schemas import ForecastRequest
from kxbtc.llm.service import PriorService, build_prior_service
from kxbtc.ops.queries import TRADING_MODE_KEY
from kxbtc.oracle.feeds.base import SpotFeed
from kxbtc.oracle.index_state import IndexState
from kxbtc.portfolio import Portfolio
from kxbtc.risk.limits import RiskManager
from kxbtc.risk.resting import RestingBook
from kxbtc.store.db import SqliteStore
from kxbtc.store.records import RiskEventRecord
from kxbtc.strategy.base import Strategy
from kxbtc.units import Money

log = logging.getLogger(__name__)

__all__ = ["HALT_KEY", "RISK_BASELINE_KEY", "Engine", "EngineStats"]

#: The engine's counters are the core's.
EngineStats = CoreStats


class Engine(WsHandler):
    def __init__(
        self,
        config: Config,
        *,
        rest: KalshiRestClient,
        ws: KalshiWsClient,
        store: SqliteStore,
        clock: Clock,
        run_id: str,
        series: Sequence[str] = ("KXBTC15M",),
        strategies: list[Strategy] | None = None,
        index: IndexState | None = None,
        tick_s: float = 1.0,
        reconcile_every_s: float = 30.0,
        refresh_every_s: float = 10.0,
        cancel_unknown_on_start: bool | None = None,
        clock_error_ms: Callable[[], float] | None = None,
        poly_ws_clock: Clock | None = None,
        simulated: bool = False,
        spot_feeds: Sequence[SpotFeed] | None = None,
        journal: EngineJournal | None = None,
        mode: str | None = None,
        wall_clock: Clock | None = None,
        freeze_gc: bool = False,
    ) -> None:
        self.config = config
        #: Freeze the objects start-up built out of the garbage collector's reach (a process that runs
        #: one engine: ``kxbtc run``, the tick-to-wire bench). See ``start``.
        self.freeze_gc = freeze_gc
        self.rest = rest
        self.ws = ws
        ws.handler = self
        self.store = store
        self.clock = clock
        self.run_id = run_id
        self.series = tuple(series)
        #: Trading against kxbtc's own simulator (paper, the demo, tests): see ``trading_decision``.
        self.simulated = simulated
        #: Every input of the trading core, as a replayable recording (``kxbtc.engine.journal``).
        self.journal = journal
        if journal is not None:
            ws.frame_tap = journal.frame
        self.tick_s = tick_s
        self.reconcile_every_s = reconcile_every_s
        self.refresh_every_s = refresh_every_s
        self.cancel_unknown_on_start = (
            config.engine.on_start_resting == "cancel"
            if cancel_unknown_on_start is None
            else cancel_unknown_on_start
        )
        #: How far our clock may be from true time (ms), from the clock sync; feeds the skew halt.
        self._clock_error_ms = clock_error_ms
        #: Polymarket books and the cross-venue pairs' second legs (``[polymarket] enabled``).
        self.desk: CrossVenueDesk | None = None
        if config.polymarket.enabled:
            self.desk = CrossVenueDesk(
                config, store=store, clock=clock, note_event=self._note_event, ws_clock=poly_ws_clock
            )
        #: The LLM ensemble's priors (``[llm] enabled``): a slow loop beside the fast one, read as plain data.
        self.prior_service: PriorService | None = None
        self._prior_task: asyncio.Task[None] | None = None
        if config.llm.enabled:
            self.prior_service = build_prior_service(
                config.llm, clock, store.record_llm_call, self._llm_requests
            )
        desk = self.desk
        self.core = TradingCore(
            config,
            clock=clock,
            store=store,
            run_id=run_id,
            strategies=strategies,
            books=ws.books,
            index=index,
            priors=self.prior_service.priors if self.prior_service is not None else None,
            timer_sources=[_desk_source(desk)] if desk is not None else [],
        )
        #: Kalshi's prints or the exchange feeds' estimate into the core (``[engine] index``), and the gap.
        self.index_feed = build_index_feed(config, clock, store, self.core.handle, feeds=spot_feeds)
        self.router = ExecutionRouter(rest, store, clock, exchange_index_for=self._exchange_index)
        self.reconciler = Reconciler(rest, self.portfolio, store, clock, on_risk_event=self._note_event)
        self.sync = ExchangeSync(
            self.core, rest, self.router, self.reconciler, clock, journal.booked if journal else None
        )
        #: The heartbeat and the live markets in the database, for ``kxbtc status`` and the dashboard.
        self.view = OperatorView(
            self.core,
            store,
            mode=mode or ("sim" if simulated else "live"),
            wall_clock=wall_clock,
            feeds=self._feed_health,
        )
        self.markets: dict[str, ContractSpec] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._book_sub: Subscription | None = None
        self._reconcile_soon = False
        self._refresh_soon = False
        self._stopping = False
        #: Markets whose book changed in the current batch of frames (None: not inside a batch).
        self._batch: set[str] | None = None
        #: This batch started holding the store's writes (``SqliteStore.hold_writes``).
        self._holding = False
        #: Work to start as tasks once the markets being evaluated are all sent (``_evaluate``).
        self._deferred: list[tuple[Awaitable[object], str]] | None = None

    # -- the core's state, for readers ------------------------------------------------------------

    @property
    def stats(self) -> CoreStats:
        return self.core.stats

    @property
    def portfolio(self) -> Portfolio:
        return self.core.portfolio

    @property
    def risk(self) -> RiskManager:
        return self.core.risk

    @property
    def resting(self) -> RestingBook:
        return self.core.orders.resting

    @property
    def index(self) -> IndexState:
        return self.core.index

    @property
    def strategies(self) -> list[Strategy]:
        return self.core.strategies

    @property
    def results(self) -> dict[str, str]:
        return self.core.account.results

    def equity(self) -> Money:
        return self.core.equity()

    def open_value(self) -> Money:
        return self.core.open_value()

    # -- start, run, stop -------------------------------------------------------------------------

    async def start(self) -> None:
        # Orders a killed run wrote ahead but never committed: known before anything is reconciled.
        recovered = self.store.recover_write_ahead()
        if recovered:
            log.info("recovered %d written-ahead order rows", recovered)
        active = [st.name for st in self.core.strategies] + (["cross_venue"] if self.desk is not None else [])
        trade, why = trading_decision(self.config, active=active, simulated=self.simulated)
        self.core.observe_only = not trade
        log.info("%s", why)  # the operator sees it in the feed (the note below)
        self.store.set_value(TRADING_MODE_KEY, why)
        self._note_event(RiskEventRecord(self.clock.time_ns(), "trading_mode", "info", why))
        self.portfolio.load()
        # Client-side token buckets sized from the account's own limits: we slow down before the
        # exchange has to answer 429.
        await self._guard(self.rest.configure_rate_limits(), "rate-limit setup")
        # The order path's kept-alive connections open while we reconcile: the first order after start
        # finds them ready instead of going the slow way.
        self.rest.presign_orders(ORDERS_V2)
        report = await self.reconciler.run_once()
        if report.balance is not None:
            self.core.account.set_anchor_from_balance(report.balance)
        self.core.restore_risk_day()
        await self._recover_orders()
        # Orders left resting (adopted, or a cancel that failed) weigh on the limits from the first decision.
        await self._guard(self.sync.sync_resting(self.router.sent), "resting-order sync")
        await self.refresh_markets()
        self.ws.start()
        tickers = sorted(self.markets)
        if tickers:
            [self._book_sub] = await self.ws.subscribe("orderbook_delta", market_tickers=tickers)
        await self.ws.subscribe(["fill", "user_orders"])
        await self.ws.subscribe("market_lifecycle_v2")
        await self.ws.subscribe("cfbenchmarks_value", index_ids=["BRTI"])
        self.index_feed.start()
        if self.desk is not None:
            await self._guard(self.desk.connect(), "Polymarket sign-in")
            self.desk.start()
        if self.prior_service is not None:
            self._prior_task = asyncio.ensure_future(self._guard(self.prior_service.run(), "LLM priors"))
        self.rest.presign_orders(ORDERS_V2)  # start-up may have outlived the one made above
        self._carry(self.core.take_commands())
        self.core.update_equity()
        self.view.start()
        if self.freeze_gc:
            # A full collection scans every object alive: with all start-up built (modules, markets,
            # books) that was a 48 ms pause of the loop thread, twice a minute, in the tick-to-wire
            # profile. Frozen, those objects are never scanned again; trading's own garbage still is.
            gc.collect()
            gc.freeze()

    def _feed_health(self) -> dict[str, str]:
        feeds = self.index_feed.status().get("feeds") or {}
        return {str(venue): str(state) for venue, state in feeds.items()}

    async def run(self, *, until_ns: int | None = None, stop: asyncio.Event | None = None) -> None:
        await self.start()
        last_reconcile = last_refresh = self.clock.monotonic()
        try:
            while not (stop is not None and stop.is_set()):
                if until_ns is not None and self.clock.time_ns() >= until_ns:
                    break
                await self.clock.sleep(self.tick_s)
                now = self.clock.monotonic()
                if self._clock_error_ms is not None:
                    self.risk.set_clock_skew(self._clock_error_ms())
                if self._refresh_soon or now - last_refresh >= self.refresh_every_s:
                    self._refresh_soon, last_refresh = False, now
                    await self._guard(self.refresh_markets(), "market refresh")
                if self._reconcile_soon or now - last_reconcile >= self.reconcile_every_s:
                    self._reconcile_soon, last_reconcile = False, now
                    await self._guard(self.reconcile(), "reconcile")
                if self.journal is not None:
                    self.journal.timer()
                self.core.on_timer()
                self._carry(self.core.take_commands())
                self.rest.presign_orders(ORDERS_V2)  # the order path's signature stays under a second old
                self.index_feed.maybe_snapshot()
        finally:
            await self.shutdown()

    async def shutdown(self) -> None:
        if self._stopping:
            return
        self._stopping = True
        self.core.stopping = True
        if self.journal is not None:
            self.journal.stopping()
        if self._prior_task is not None:  # its loop never ends by itself
            self._prior_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._prior_task
        if self.prior_service is not None:
            await self.prior_service.aclose()
        await self.index_feed.close()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, KxbtcError):
                await task
        if self.desk is not None:
            await self._guard(self.desk.close(), "cross-venue desk close")
        await self._guard(self.router.cancel_all("engine shutdown"), "cancel-all at shutdown")
        await self._guard(self.reconcile(), "final reconcile")
        self.core.snapshot_pnl()
        self.index_feed.snapshot()
        self.view.stop()
        await self.ws.close()
        self.store.flush()

    async def _guard(self, work: Awaitable[object], what: str) -> None:
        """Run slow work; a failure is logged and recorded, never swallowed silently, and the loop goes on."""
        try:
            await work
        except KxbtcError as exc:
            log.error("%s failed: %s", what, exc)
            self._note_event(
                RiskEventRecord(self.clock.time_ns(), "engine_error", "warning", f"{what}: {exc}")
            )

    # -- the core's commands ----------------------------------------------------------------------

    def _carry(self, commands: list[Command]) -> None:
        for command in commands:
            if isinstance(command, PlaceOrders):
                # Written here, before the handler returns to the read loop (which would otherwise read
                # and evaluate the rest of the burst while the order waits); only the answer is awaited.
                self._send_orders(command)
            elif isinstance(command, CancelOrders):  # the answer arrives as user_orders updates
                self._spawn(self.router.cancel(command.orders, command.reason), "order cancel")
            elif isinstance(command, CancelAll):
                self._spawn(self.router.cancel_all(command.reason), "cancel-all on breaker")
            elif isinstance(command, Reconcile):
                self._reconcile_soon = True
            elif isinstance(command, RefreshMarkets):
                self._refresh_soon = True

    def _send_orders(self, command: PlaceOrders) -> None:
        # Write-ahead: the orders' "intended" rows leave the process (one os.write) before any byte of
        # an order does, so a SIGKILL right after the send never leaves an order on the exchange that the
        # database will not know at the next start.
        self.store.write_ahead([intended_record(o, command.ts_ns) for o in command.orders])
        # Each order on a kept-alive connection of its own, now. Sent as one batch request instead, two
        # orders decided together (two strategies on one market, a quote's two sides) went the slow way:
        # 4% of the tick-to-wire bench's orders, all in its tail. What cannot go at once goes together.
        later: list[OutgoingOrder] = []
        for order in command.orders:
            started = None if later else self._start(order)
            if started is None:
                later.append(order)
            else:
                self._spawn(self._submit([order], started), "order submit")
        if later:
            self._spawn(self._submit(later), "order submit")

    def _start(self, order: OutgoingOrder) -> StartedWrite | None:
        try:
            return self.router.start(order)
        except (KxbtcError, OSError) as exc:  # the usual path in ``_submit`` sends it and reports errors
            log.warning("order fast path unavailable: %s", exc)
            return None

    async def _submit(
        self, orders: list[OutgoingOrder], started: StartedWrite | None = None
    ) -> list[SubmitResult]:
        approved = [o.order for o in orders]
        # A cross-venue pair's Polymarket leg is sent here, beside its Kalshi leg (both in flight at once).
        paired = self.desk is not None and self.desk.claim(approved)
        results: list[SubmitResult] = []
        try:
            results = await self.router.submit(orders, started)
        finally:
            latency.forget()  # what the answer leads to was not caused by the frame
            # Every order is answered, if only as unknown: the core must release what it holds for them.
            by_id = {r.client_order_id: r for r in results}
            acks = tuple(ack_of(o, by_id.get(o.client_order_id)) for o in orders)
            if self.journal is not None:
                self.journal.acks(acks)
            self._carry(self.core.handle(AckEvent(acks, self.clock.time_ns())))
            if paired and self.desk is not None:  # settle each pair: paired, hedged, unwound or unhedged
                answered = [by_id[o.client_order_id] for o in orders if o.client_order_id in by_id]
                self._spawn(self.desk.hedge(approved, answered), "cross-venue pair")
        return results

    def _spawn(self, work: Awaitable[object], what: str) -> None:
        if self._deferred is not None:  # inside a batch's evaluations: created in order at their end
            self._deferred.append((work, what))
            return
        task: asyncio.Task[None] = asyncio.ensure_future(self._guard(work, what))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- markets and rollover ---------------------------------------------------------------------

    def _exchange_index(self, ticker: str) -> int | None:
        spec = self.markets.get(ticker)
        return spec.exchange_index if spec is not None else None

    async def refresh_markets(self) -> None:
        """Discover open markets; subscribe new ones and drop closed ones (rollover without a restart)."""
        new, gone = await follow_markets(self)
        if self._book_sub is not None:
            if new:
                await self.ws.add_markets(self._book_sub, new)
            if gone:
                await self.ws.delete_markets(self._book_sub, gone)
        # A closed market's book is never read again: kept, a day of hourly ladders held every book
        # ever seen (the soak's resident memory grew about 2.5 MB an hour).
        for ticker in gone:
            self.ws.books.remove(ticker)

    # -- recovery and reconciliation --------------------------------------------------------------

    async def _recover_orders(self) -> None:
        """After a restart: orders resting on the exchange from before are cancelled (or adopted)."""
        if self.cancel_unknown_on_start:
            await self.sync.cancel_leftovers()

    async def reconcile(self) -> None:
        await self.sync.reconcile()
        self.store.trim_write_ahead()

    def _note_event(self, record: RiskEventRecord) -> None:
        self.core.note(record)

    def _llm_requests(self) -> list[ForecastRequest]:
        """What the LLM ensemble is asked about each slow round (cheap; never waits)."""
        return llm_requests(self.core)

    # -- Kalshi's streams, as domain events -------------------------------------------------------

    def on_batch_start(self) -> None:
        self._batch = set()
        # Every record the batch makes (order updates, fills, decisions) is queued after its orders
        # are written, when ``on_batch_end`` releases them.
        self._holding = self.store.hold_writes()
        if self.journal is not None:
            self.journal.batch(end=False)

    def on_orderbook(self, ticker: str, book: OrderBook, msg: OrderbookSnapshot | OrderbookDelta) -> None:
        if self._batch is not None:
            self._batch.add(ticker)  # evaluated once, when the batch ends
        else:  # a book changed outside the read loop (none do today): evaluated now
            self._evaluate([ticker])

    def on_batch_end(self) -> None:
        changed, self._batch = self._batch, None
        if self.journal is not None:
            self.journal.batch(end=True)
        try:
            if changed:
                # In the order the replay's batches use (``TradingCore.end_batch``), so parity holds.
                self._evaluate(sorted(changed) if len(changed) > 1 else list(changed))
        finally:
            if self._holding:
                self._holding = False
                self.store.release_writes()

    def _evaluate(self, tickers: list[str]) -> None:
        # The store hears the evaluations' records after their orders are on the wire, and the tasks
        # that await the answers are created then too (~10 us each, which the next market's order
        # would otherwise wait for; none of them runs before the handler returns anyway), and the
        # decision records encoded.
        self._deferred = []
        decisions = self.core.decision_log
        try:
            with self.store.hold(), self.core.account.steady():
                decisions.defer()
                try:
                    for ticker in tickers:
                        self.core.on_book_changed(ticker)
                        self._carry(self.core.take_commands())
                finally:
                    decisions.write_deferred()
        finally:
            deferred, self._deferred = self._deferred, None
            for work, what in deferred:
                self._spawn(work, what)

    def on_fill(self, msg: Fill) -> None:
        self.core.on_fill(fill_of(msg))

    def on_user_order(self, msg: UserOrder) -> None:
        self.core.on_order_update(order_update_of(msg, self.clock.time_ns()))

    def on_lifecycle(self, msg: MarketLifecycle | EventLifecycle | EventFeeUpdate) -> None:
        if not isinstance(msg, MarketLifecycle):
            self._refresh_soon = True
            return
        body = msg.msg
        if body.event_type == "determined" and body.result:
            self.core.handle(MarketDetermined(body.market_ticker, body.result, self.clock.time_ns()))
        elif body.event_type == "settled":
            self._reconcile_soon = True  # the settlement record and the balance credit are on REST
        elif body.event_type == "created":
            self._refresh_soon = True

    def on_cfbenchmarks(self, msg: CfbenchmarksValue) -> None:
        raw = msg.msg.raw()
        try:
            value = float(raw.value)
        except ValueError:
            return
        self.index_feed.kalshi.on_value(raw.time, value)

    def on_connection(self, connected: bool) -> None:
        if self.core.feed.active and not self._stopping:  # our own close at shutdown is no outage
            self.core.feed.emit(connection("Kalshi", connected, self.clock.time_ns()))
        if connected:
            self._reconcile_soon = True  # whatever the stream missed while down

    def on_error(self, error: KxbtcError) -> None:
        log.warning("ws: %s", error)


def _desk_source(desk: CrossVenueDesk) -> TimerSource:
    return lambda markets, now, freeze_s: desk.decisions(markets, now, final_freeze_s=freeze_s)
