"""The engine: one asyncio process wiring the exchange streams to strategies, risk, execution and the store.

Fast path (WS book update -> strategies -> risk -> order task): pure computation on in-memory state; the
order is sent by a task so the handler returns at once, writes go to the store's queue, and nothing on
this path awaits the network, the disk or an LLM. Slow work (reconciliation, market discovery, P&L
snapshots) runs on the timer beside it.

Equity for the risk limits is derived from fills: an anchor K taken from the exchange's balance at start,
plus realized P&L net of fees, plus open positions marked to mid. Fills carry exact prices and fees, so
this tracks the exchange's cash to the micro-dollar; every reconciliation checks it against the REST
balance and reports a persistent gap as a risk event.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from kxbtc.book.orderbook import OrderBook
from kxbtc.clock import NS_PER_S, Clock
from kxbtc.config import Config
from kxbtc.engine.cross_venue import CrossVenueDesk
from kxbtc.engine.oracle import IndexState
from kxbtc.errors import KxbtcError
from kxbtc.execution.router import ExecutionRouter, SubmitResult
from kxbtc.kalshi.discovery import ContractSpec, open_contracts
from kxbtc.kalshi.rest import KalshiRestClient
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
from kxbtc.llm.service import PriorService, build_prior_service, forecast_request
from kxbtc.portfolio import Portfolio
from kxbtc.pricing.fees import BTC_DEFAULT_FEES, FeeSchedule
from kxbtc.risk.limits import ApprovedOrder, MarketRisk, Rejection, RiskEvent, RiskManager
from kxbtc.risk.resting import RestingBook, RestingOrder
from kxbtc.store.db import SqliteStore
from kxbtc.store.reconcile import Reconciler
from kxbtc.store.records import FillRecord, PnlSnapshot, RiskEventRecord
from kxbtc.strategy import build_strategies
from kxbtc.strategy.base import Decision, DecisionContext, MarketState, Strategy, contract_view
from kxbtc.strategy.imbalance import imbalance_drift
from kxbtc.units import PRICE_SCALE, Count, Money, parse_count, parse_money, parse_price

log = logging.getLogger(__name__)

HALT_KEY = "halted"
RISK_BASELINE_KEY = "risk_baseline"  # the day's starting equity and the peak, kept over restarts
REJECTION_LOG_EVERY_S = 10  # the store key the manual kill switch (`kxbtc halt`) writes


@dataclass(slots=True)
class EngineStats:
    evaluations: int = 0
    decisions: int = 0
    approved: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    orders_sent: int = 0
    orders_filled: int = 0
    fills_ws: int = 0
    fills_repaired: int = 0
    settlements: int = 0
    markets_seen: set[str] = field(default_factory=set)
    risk_events: list[RiskEventRecord] = field(default_factory=list)


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
    ) -> None:
        self.config = config
        self.rest = rest
        self.ws = ws
        ws.handler = self
        self.store = store
        self.clock = clock
        self.run_id = run_id
        self.series = tuple(series)
        self.strategies = strategies if strategies is not None else build_strategies(config.strategies)
        self.index = index or IndexState()
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

        self.portfolio = Portfolio(store)
        self.risk = RiskManager(config.risk, clock)
        self.router = ExecutionRouter(
            rest, store, clock, run_id=run_id, exchange_index_for=self._exchange_index
        )
        self.reconciler = Reconciler(rest, self.portfolio, store, clock, on_risk_event=self._note_event)
        self.stats = EngineStats()
        self.markets: dict[str, ContractSpec] = {}
        self.results: dict[str, str] = {}  # determined results, for marking closed positions
        self._marks: dict[str, int] = {}  # last YES mid per market, Price units
        self._anchor = 0  # equity = anchor + realized - fees + unrealized
        self._last_anchor_gap = 0
        self._inflight: set[str] = set()
        self._rejection_logged: dict[tuple[str, str, str], int] = {}
        self._pending_risk = 0  # worst-case loss of orders sent or filled but not yet in the ledger
        self._awaiting: dict[str, tuple[int, int]] = {}  # order id -> (count, risk) of fills not yet seen
        # Order id -> ticker of those orders: until their fills are booked the position (and its cost) is
        # out of date, so the per-strike cap cannot be checked and the ticker takes no new orders.
        self._awaiting_ticker: dict[str, str] = {}
        self._filled_by_order: dict[str, int] = {}  # fills seen before their order's acknowledgement
        #: Our orders resting on the exchange: each could still fill in full, so risk counts it.
        self.resting = RestingBook()
        self._tasks: set[asyncio.Task[None]] = set()
        self._book_sub: Subscription | None = None
        self._reconcile_soon = False
        self._refresh_soon = False
        self._stopping = False
        self._saved_baseline = ""
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

    # -- start, run, stop -------------------------------------------------------------------------

    async def start(self) -> None:
        self.portfolio.load()
        # Client-side token buckets sized from the account's own limits: we slow down before the
        # exchange has to answer 429.
        await self._guard(self.rest.configure_rate_limits(), "rate-limit setup")
        report = await self.reconciler.run_once()
        if report.balance is not None:
            self._anchor = self._implied_anchor(report.balance)
        self._restore_risk_day()
        await self._recover_orders()
        # Orders left resting (adopted, or a cancel that failed) weigh on the limits from the first decision.
        await self._guard(self._sync_resting(self.router.sent), "resting-order sync")
        await self.refresh_markets()
        self.ws.start()
        tickers = sorted(self.markets)
        if tickers:
            [self._book_sub] = await self.ws.subscribe("orderbook_delta", market_tickers=tickers)
        await self.ws.subscribe(["fill", "user_orders"])
        await self.ws.subscribe("market_lifecycle_v2")
        await self.ws.subscribe("cfbenchmarks_value", index_ids=["BRTI"])
        if self.desk is not None:
            self.desk.start()
        if self.prior_service is not None:
            self._prior_task = asyncio.ensure_future(self._guard(self.prior_service.run(), "LLM priors"))
        self._update_equity()

    async def run(self, *, until_ns: int | None = None, stop: asyncio.Event | None = None) -> None:
        await self.start()
        last_reconcile = last_refresh = last_snapshot = self.clock.monotonic()
        try:
            while not (stop is not None and stop.is_set()):
                if until_ns is not None and self.clock.time_ns() >= until_ns:
                    break
                await self.clock.sleep(self.tick_s)
                now = self.clock.monotonic()
                self._poll_kill_switch()
                if self._clock_error_ms is not None:
                    self.risk.set_clock_skew(self._clock_error_ms())
                if self._refresh_soon or now - last_refresh >= self.refresh_every_s:
                    self._refresh_soon, last_refresh = False, now
                    await self._guard(self.refresh_markets(), "market refresh")
                if self._reconcile_soon or now - last_reconcile >= self.reconcile_every_s:
                    self._reconcile_soon, last_reconcile = False, now
                    await self._guard(self.reconcile(), "reconcile")
                self._on_timer()
                if now - last_snapshot >= 10.0:
                    last_snapshot = now
                    self._snapshot_pnl()
        finally:
            await self.shutdown()

    async def shutdown(self) -> None:
        if self._stopping:
            return
        self._stopping = True
        if self._prior_task is not None:  # its loop never ends by itself
            self._prior_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._prior_task
        if self.prior_service is not None:
            await self.prior_service.aclose()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, KxbtcError):
                await task
        if self.desk is not None:
            await self._guard(self.desk.close(), "cross-venue desk close")
        await self._guard(self.router.cancel_all("engine shutdown"), "cancel-all at shutdown")
        await self._guard(self.reconcile(), "final reconcile")
        self._snapshot_pnl()
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

    # -- markets and rollover ---------------------------------------------------------------------

    def _exchange_index(self, ticker: str) -> int | None:
        spec = self.markets.get(ticker)
        return spec.exchange_index if spec is not None else None

    async def refresh_markets(self) -> None:
        """Discover open markets; subscribe new ones and drop closed ones (rollover without a restart)."""
        now = self.clock.time_ns()
        found: dict[str, ContractSpec] = {}
        for series in self.series:
            for spec in await open_contracts(self.rest, series):
                if spec.close_time_ns > now and spec.has_strike:
                    found[spec.ticker] = spec
        new = sorted(set(found) - set(self.markets))
        gone = sorted(t for t, s in self.markets.items() if t not in found and s.close_time_ns <= now)
        for ticker in gone:
            self.markets.pop(ticker)
        self.markets.update(found)
        self.stats.markets_seen.update(found)
        for spec in found.values():
            self.ws.books.set_grid(spec.ticker, spec.grid)
            self.index.track(spec.close_time_ns)
        if self._book_sub is not None:
            if new:
                await self.ws.add_markets(self._book_sub, new)
            if gone:
                await self.ws.delete_markets(self._book_sub, gone)

    # -- recovery and reconciliation --------------------------------------------------------------

    async def _recover_orders(self) -> None:
        """After a restart: orders resting on the exchange from before are cancelled (or adopted)."""
        if self.cancel_unknown_on_start:
            cancelled = await self.router.cancel_all("restart: cancel orders from an earlier run")
            if cancelled:
                self._note_event(
                    RiskEventRecord(
                        self.clock.time_ns(),
                        "restart_cancel",
                        "info",
                        f"cancelled {cancelled} resting orders found at start",
                    )
                )

    async def reconcile(self) -> None:
        sent_before = self.router.sent
        report = await self.reconciler.run_once()
        self.stats.fills_repaired += report.fills_added
        self.stats.settlements = len(self.portfolio.settled)
        # An order sent while the exchange was being read may have fills the read did not see.
        if not self._inflight and self.router.sent == sent_before:
            # Every fill the exchange has is now in the ledger: nothing is pending any more.
            self._awaiting.clear()
            self._awaiting_ticker.clear()
            self._filled_by_order.clear()
            self._pending_risk = 0
            if report.balance is not None:
                self._check_anchor(report.balance)
            await self._sync_resting(sent_before)

    async def _sync_resting(self, sent_before: int) -> None:
        """Replace the resting-order book with the exchange's list (repairs dropped ``user_orders``)."""
        listed = [o async for o in self.rest.iter_orders(status="resting")]
        if self._inflight or self.router.sent != sent_before:
            return  # an order went out while listing: the list may miss it; the next pass will do
        self.resting.replace(
            self._resting_from_exchange(
                o.order_id, o.ticker, o.book_side, o.yes_price_dollars, o.remaining_count_fp
            )
            for o in listed
        )

    def _implied_anchor(self, balance: Money) -> int:
        ledger = self.portfolio.ledger
        cost = sum(m.cost for m in ledger.markets.values())
        return balance + cost - (ledger.total_realized() - ledger.total_fees())

    def _check_anchor(self, balance: Money) -> None:
        """Equity comes from the ledger (exact to the micro-dollar), anchored once to the balance at
        start. Each quiet reconciliation re-derives the anchor from the exchange's balance; a fill or
        settlement racing the read can disturb one pass, so only a gap seen twice running is reported."""
        gap = self._implied_anchor(balance) - self._anchor
        if abs(gap) > 10_000 and abs(self._last_anchor_gap) > 10_000:
            self._note_event(
                RiskEventRecord(
                    self.clock.time_ns(),
                    "balance_mismatch",
                    "warning",
                    f"the exchange balance differs from the ledger by {gap} micro-$",
                )
            )
        self._last_anchor_gap = gap

    # -- equity and risk --------------------------------------------------------------------------

    def _settled_mark(self, ticker: str) -> int | None:
        """The YES price a determined market pays out at (1 or 0), None while it is undetermined."""
        result = self.results.get(ticker)
        if result in ("yes", "no"):
            return PRICE_SCALE if result == "yes" else 0
        return None

    def _mark(self, ticker: str) -> int | None:
        settled = self._settled_mark(ticker)
        if settled is not None:
            return settled
        book = self.ws.books.get(ticker)
        if book is not None and not book.stale:
            bid, ask = book.best_yes_bid(), book.yes_ask()
            if bid is not None and ask is not None:
                self._marks[ticker] = (bid + ask) // 2
        return self._marks.get(ticker)

    def equity(self) -> Money:
        ledger = self.portfolio.ledger
        unrealized = 0
        for ticker, m in ledger.markets.items():
            if m.position:
                mark = self._mark(ticker)
                # Without any mark, value the position at cost (no gain, no loss) rather than guess.
                unrealized += m.unrealized(mark) if mark is not None else 0
        return Money(self._anchor + ledger.total_realized() - ledger.total_fees() + unrealized)

    def open_value(self) -> Money:
        """What the open positions are worth at their marks (at cost where there is no mark yet)."""
        total = 0
        for ticker, m in self.portfolio.ledger.markets.items():
            if not m.position:
                continue
            mark = self._mark(ticker)
            total += m.cost if mark is None else m.unrealized(mark) + m.cost
        return Money(total)

    def _update_equity(self) -> None:
        for event in self.risk.update_equity(self.equity()):
            self._on_breaker(event)
        st = self.risk.state
        baseline = json.dumps(
            {"day": st.day, "day_start_equity": st.day_start_equity, "peak": st.peak_equity}
        )
        if baseline != self._saved_baseline:
            self._saved_baseline = baseline
            self.store.set_value(RISK_BASELINE_KEY, baseline)

    def _restore_risk_day(self) -> None:
        """Carry the day's starting equity and the peak over a restart: a restart must not re-arm the
        breakers (a tripped daily-loss breaker trips again at once; the day's budget is not renewed)."""
        saved = self.store.get_value(RISK_BASELINE_KEY)
        if not saved:
            return
        try:
            data = json.loads(saved)
            day, start, peak = str(data["day"]), int(data["day_start_equity"]), int(data["peak"])
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring unreadable risk baseline %r: %s", saved, exc)
            return
        self.risk.restore(day, start, peak)

    def _on_breaker(self, event: RiskEvent) -> None:
        self._note_event_from(event)
        if event.severity == "halt":
            self._spawn(self.router.cancel_all(f"breaker: {event.kind}"), "cancel-all on breaker")

    def _poll_kill_switch(self) -> None:
        reason = self.store.get_value(HALT_KEY) or ""
        if reason and not self.risk.state.manual_halt:
            self._on_breaker(self.risk.halt(reason))
        elif not reason and self.risk.state.manual_halt:
            self._note_event_from(self.risk.resume())

    def _note_event_from(self, event: RiskEvent) -> None:
        self._note_event(RiskEventRecord(event.ts_ns, event.kind, event.severity, event.detail))

    def _note_event(self, record: RiskEventRecord) -> None:
        self.stats.risk_events.append(record)
        if record.kind not in ("repaired_fill", "repaired_order", "position_mismatch"):
            self.store.record_risk_event(record)  # the reconciler records its own

    # -- the fast path ----------------------------------------------------------------------------

    def on_orderbook(self, ticker: str, book: OrderBook, msg: OrderbookSnapshot | OrderbookDelta) -> None:
        if ticker not in self._inflight:
            self._evaluate(ticker, book)

    def _context(self, now: int) -> DecisionContext:
        drift: dict[str, float] = {}
        dollar_vol = self.index.dollar_vol()
        for name, cfg in self.config.strategies.items():
            if name == "imbalance" and cfg.enabled:
                for ticker in self.markets:
                    book = self.ws.books.get(ticker)
                    if book is not None and not book.stale:
                        drift[ticker] = imbalance_drift(
                            book, dollar_vol, cfg.imbalance_levels, cfg.imbalance_threshold
                        )
        return DecisionContext(now, self.equity(), drift, self._priors(), self.config.risk.final_freeze_s)

    def _priors(self) -> dict[str, tuple[float, float]]:
        return self.prior_service.priors() if self.prior_service is not None else {}

    def _llm_requests(self) -> list[ForecastRequest]:
        """What the LLM ensemble is asked about each slow round (cheap; never waits)."""
        now = self.clock.time_ns()
        requests: list[ForecastRequest] = []
        for ticker, spec in self.markets.items():
            if not spec.is_open_at(now):
                continue
            mark = self._mark(ticker)
            oracle = self.index.view(now, [spec.close_time_ns])
            mid = None if mark is None else mark / PRICE_SCALE
            request = forecast_request(contract_view(spec), oracle, now, mid)
            if request is not None:
                requests.append(request)
        return requests

    def _evaluate(self, ticker: str, book: OrderBook) -> None:
        spec = self.markets.get(ticker)
        now = self.clock.time_ns()
        if spec is None or not spec.is_open_at(now) or self.risk.halted or not self.ws.is_tradeable(ticker):
            return
        self.stats.evaluations += 1
        market = MarketState(contract_view(spec), book, self.portfolio.position(ticker))
        oracle = self.index.view(now, [spec.close_time_ns])
        ctx = DecisionContext(now, self.equity(), {}, self._priors(), self.config.risk.final_freeze_s)
        decisions: list[Decision] = []
        for strategy in self.strategies:
            decisions += strategy.on_book(market, oracle, ctx)
        self._act(decisions)

    def _on_timer(self) -> None:
        self._update_equity()
        now = self.clock.time_ns()
        markets = [
            MarketState(contract_view(spec), book, self.portfolio.position(t))
            for t, spec in self.markets.items()
            if spec.is_open_at(now) and (book := self.ws.books.get(t)) is not None and not book.stale
        ]
        if not markets or self.risk.halted:
            return
        oracle = self.index.view(now, sorted({m.contract.close_ns for m in markets}))
        ctx = self._context(now)
        decisions: list[Decision] = []
        for strategy in self.strategies:
            decisions += strategy.on_timer(markets, oracle, ctx)
        for m in markets:
            if m.contract.ticker in ctx.drift and m.contract.ticker not in self._inflight:
                for strategy in self.strategies:
                    if strategy.name == "imbalance":
                        decisions += strategy.on_book(m, oracle, ctx)
        if self.desk is not None:
            decisions += self.desk.decisions(markets, now, final_freeze_s=ctx.final_freeze_s)
        self._act(decisions)

    def _act(self, decisions: list[Decision]) -> None:
        if self._stopping:
            # Book updates still arrive until the WS closes: an order sent now would trade after the
            # final reconcile, and its fill would never reach the database.
            return
        approved: list[ApprovedOrder] = []
        now = self.clock.time_ns()
        if decisions:
            # The gate sizes against equity: a fill since the last tick must already count.
            self._update_equity()
        # Orders in flight, resting orders and earlier approvals in this batch count as if already filled.
        open_value = self.open_value() + self._pending_risk + self.resting.worst_case() if decisions else 0
        batch_cost: dict[str, int] = {}  # per market: worst case approved earlier in this batch
        unbooked = {self._awaiting_ticker.get(order_id) for order_id in self._awaiting}
        for d in decisions:
            intent = d.intent
            spec = self.markets.get(intent.ticker)
            if spec is None or intent.ticker in self._inflight or intent.ticker in unbooked:
                continue
            self.stats.decisions += 1
            risk_view = MarketRisk(
                intent.ticker,
                spec.close_time_ns,
                self.portfolio.position(intent.ticker),
                self.portfolio.position_cost(intent.ticker),
                self.index.age_s(now),
                book_stale=not self.ws.is_tradeable(intent.ticker),
                fees=spec.fees,
                open_value=Money(open_value),
                resting_cost=Money(self.resting.worst_case(intent.ticker) + batch_cost.get(intent.ticker, 0)),
            )
            verdict = self.risk.check(intent, risk_view)
            outcome = (
                f"approved {verdict.count}" + (f" ({verdict.notes})" if verdict.notes else "")
                if isinstance(verdict, ApprovedOrder)
                else f"rejected by {verdict.rule}: {verdict.reason}"
            )
            if isinstance(verdict, Rejection) and not self._log_rejection(
                now, intent.ticker, intent.strategy, verdict
            ):
                self.stats.rejected[verdict.rule] += 1
                continue
            self.store.record_decision(
                now,
                intent.strategy,
                intent.ticker,
                json.dumps(d.inputs, default=str),
                json.dumps(
                    {
                        "side": intent.side,
                        "price": intent.price,
                        "count": intent.count,
                        "tif": intent.time_in_force,
                        "outcome": outcome,
                    }
                ),
                intent.reason,
            )
            if isinstance(verdict, Rejection):
                self.stats.rejected[verdict.rule] += 1
                continue
            self.stats.approved += 1
            open_value += verdict.worst_case_loss
            batch_cost[intent.ticker] = batch_cost.get(intent.ticker, 0) + verdict.worst_case_loss
            approved.append(verdict)
        if approved:
            tickers = {a.intent.ticker for a in approved}
            self._inflight |= tickers
            self._pending_risk += sum(a.worst_case_loss for a in approved)
            self._spawn(self._submit(approved, tickers), "order submit")

    def _log_rejection(self, now: int, ticker: str, strategy: str, verdict: Rejection) -> bool:
        """Whether to record this rejection: the same refusal repeats on every book update, so each
        (market, strategy, rule) is recorded at most once per REJECTION_LOG_EVERY_S."""
        key = (ticker, strategy, verdict.rule)
        last = self._rejection_logged.get(key)
        if last is not None and now - last < REJECTION_LOG_EVERY_S * NS_PER_S:
            return False
        self._rejection_logged[key] = now
        return True

    async def _submit(self, approved: list[ApprovedOrder], tickers: set[str]) -> list[SubmitResult]:
        paired = self.desk is not None and self.desk.claim(approved)
        try:
            results = await self.router.submit(approved)
        finally:
            self._inflight -= tickers
            self._pending_risk -= sum(a.worst_case_loss for a in approved)
        # Until its fills arrive on the stream, an acknowledged fill still counts as pending risk.
        for order, result in zip(approved, results, strict=True):
            # Fills booked from now on carry the strategy; one that beat this acknowledgement is
            # attributed by the store when the order's id is recorded (``update_order``).
            if result.order_id:
                self.portfolio.strategy_by_order[result.order_id] = order.intent.strategy
            if result.order_id and result.status == "resting":
                self.resting.update(
                    self._resting_order(result.order_id, order, result.remaining_count), "resting"
                )
            if result.order_id and result.fill_count > 0 and order.count > 0:
                unseen = result.fill_count - self._filled_by_order.pop(result.order_id, 0)
                if unseen > 0:
                    risk = order.worst_case_loss * unseen // order.count
                    self._awaiting[result.order_id] = (unseen, risk)
                    self._awaiting_ticker[result.order_id] = order.intent.ticker
                    self._pending_risk += risk
        self.stats.orders_sent += len(results)
        self.stats.orders_filled += sum(r.fill_count > 0 for r in results)
        if any(r.status == "unknown" for r in results):
            self._reconcile_soon = True
        if paired and self.desk is not None:  # the Polymarket legs, for what Kalshi filled
            self._spawn(self.desk.hedge(approved, results), "cross-venue hedge")
        return results

    def _spawn(self, work: Awaitable[object], what: str) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(self._guard(work, what))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- exchange streams -------------------------------------------------------------------------

    def on_fill(self, msg: Fill) -> None:
        body = msg.msg
        event = FillRecord(
            fill_id=body.trade_id,
            order_id=body.order_id,
            ticker=body.market_ticker,
            side=body.book_side,
            price=parse_price(body.yes_price_dollars),
            count=parse_count(body.count_fp),
            fee=parse_money(body.fee_cost),
            is_taker=body.is_taker,
            ts_ns=body.ts_ms * 1_000_000,
            source="ws",
        )
        if self.portfolio.add_fill(event):
            self.stats.fills_ws += 1
            self._fill_arrived(event.order_id, event.count)

    def _fill_arrived(self, order_id: str, count: int) -> None:
        waiting = self._awaiting.pop(order_id, None)
        if waiting is None:
            # The fill beat the acknowledgement: remember it so the ack does not count it again.
            self._filled_by_order[order_id] = self._filled_by_order.get(order_id, 0) + count
            return
        unseen, risk = waiting
        released = risk if count >= unseen else risk * count // unseen
        self._pending_risk -= released
        if count < unseen:
            self._awaiting[order_id] = (unseen - count, risk - released)

    def _resting_order(self, order_id: str, approved: ApprovedOrder, remaining: Count) -> RestingOrder:
        intent = approved.intent
        return RestingOrder(
            order_id, intent.ticker, intent.side, intent.price, remaining, self._fees_for(intent.ticker)
        )

    def _fees_for(self, ticker: str) -> FeeSchedule:
        spec = self.markets.get(ticker)
        return spec.fees if spec is not None else BTC_DEFAULT_FEES

    def _resting_from_exchange(
        self, order_id: str, ticker: str, side: str | None, price: str, remaining: str
    ) -> RestingOrder:
        yes_price = parse_price(price)
        if side is None:  # an order without its book side: count the costlier leg
            side = "bid" if yes_price * 2 >= PRICE_SCALE else "ask"
        return RestingOrder(order_id, ticker, side, yes_price, parse_count(remaining), self._fees_for(ticker))

    def on_user_order(self, msg: UserOrder) -> None:
        body = msg.msg
        self.resting.update(
            self._resting_from_exchange(
                body.order_id, body.ticker, body.book_side, body.yes_price_dollars, body.remaining_count_fp
            ),
            body.status,
        )
        if body.client_order_id:
            self.store.update_order(
                body.client_order_id,
                ts_ns=self.clock.time_ns(),
                kind="ws",
                status=body.status,
                order_id=body.order_id,
                fill_count=parse_count(body.fill_count_fp),
                remaining_count=parse_count(body.remaining_count_fp),
            )

    def on_lifecycle(self, msg: MarketLifecycle | EventLifecycle | EventFeeUpdate) -> None:
        if not isinstance(msg, MarketLifecycle):
            self._refresh_soon = True
            return
        body = msg.msg
        if body.event_type == "determined" and body.result:
            self.results[body.market_ticker] = body.result
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
        self.index.on_index(raw.time * 1_000_000, value)

    def on_connection(self, connected: bool) -> None:
        if connected:
            self._reconcile_soon = True  # whatever the stream missed while down

    def on_error(self, error: KxbtcError) -> None:
        log.warning("ws: %s", error)

    # -- reporting --------------------------------------------------------------------------------

    def _exit_mark(self, ticker: str, position: int) -> int | None:
        """The YES price that values a position at what selling it now would fetch (bid side)."""
        settled = self._settled_mark(ticker)
        if settled is not None:
            return settled
        book = self.ws.books.get(ticker)
        if book is None or book.stale:
            return self._marks.get(ticker)
        # Long YES sells at the YES bid; long NO sells at the NO bid = 1 - YES ask.
        return book.best_yes_bid() if position > 0 else book.yes_ask()

    def _snapshot_pnl(self) -> None:
        ledger = self.portfolio.ledger
        now = self.clock.time_ns()
        at_mid = at_exit = 0
        for ticker, m in ledger.markets.items():
            if not m.position:
                continue
            mid, exit_ = self._mark(ticker), self._exit_mark(ticker, m.position)
            at_mid += m.unrealized(mid) if mid is not None else 0
            at_exit += m.unrealized(exit_) if exit_ is not None else 0
        day = datetime.fromtimestamp(now / NS_PER_S, UTC).strftime("%Y-%m-%d")
        self.store.record_pnl(
            PnlSnapshot(
                now,
                day,
                self.equity(),
                ledger.total_realized(),
                Money(at_mid),
                Money(at_exit),
                ledger.total_fees(),
            )
        )
