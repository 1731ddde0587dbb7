"""``TradingCore``: events in, commands out, the same code live, on paper, in the demo and in backtests.

Fast path: a book change on one market -> every strategy's ``on_book`` -> the risk gate -> orders out.
Pure computation on in-memory state: records go to the store's queue, and the driver carries the
commands. On a timer: the kill switch, equity and the breakers, the strategies' cross-market look
(``on_timer``) and a P&L snapshot.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence

from kxbtc.book.orderbook import OrderBook
from kxbtc.clock import NS_PER_S, Clock
from kxbtc.config import Config
from kxbtc.core import feed as lines
from kxbtc.core.account import Account
from kxbtc.core.bookkeeping import (
    RiskBaseline,
    fill_record,
    intended_record,
    pnl_snapshot,
    restore_risk_baseline,
    save_risk_baseline,
    settlement_record,
)
from kxbtc.core.books import BookSet, BookSource
from kxbtc.core.commands import CancelAll, Command, OutgoingOrder, PlaceOrders, Reconcile
from kxbtc.core.decisions import DecisionLog, gate, observe
from kxbtc.core.feed import Feed
from kxbtc.core.forgotten import ForgottenMarkets
from kxbtc.core.order_tracker import OrderTracker
from kxbtc.core.quotes import QuoteBook
from kxbtc.core.skill_guard import SkillGuard
from kxbtc.core.stats import CoreStats
from kxbtc.domain.events import (
    AckEvent,
    BookDelta,
    BookSnapshot,
    BookStale,
    CoreEvent,
    FillEvent,
    IndexTick,
    MarketDetermined,
    MarketListed,
    MarketSettled,
    OrderEvent,
    Timer,
)
from kxbtc.domain.instrument import Instrument
from kxbtc.domain.orders import Fill, OrderUpdate
from kxbtc.oracle.index_state import IndexState
from kxbtc.pricing.fees import BTC_DEFAULT_FEES, FeeSchedule
from kxbtc.risk.limits import ApprovedOrder, RiskEvent, RiskManager
from kxbtc.store.db import SqliteStore
from kxbtc.store.records import FillRecord, RiskEventRecord, SettlementRecord
from kxbtc.strategy import build_strategies
from kxbtc.strategy.base import Decision, DecisionContext, MarketState, Strategy
from kxbtc.strategy.signals import with_signals
from kxbtc.units import Money

log = logging.getLogger(__name__)

HALT_KEY = "halted"  # the store key the manual kill switch (`kxbtc halt`) writes
PAUSED_KEY = "paused_strategies"  # the skill guard's paused strategies, for `kxbtc status`
PNL_SNAPSHOT_EVERY_S = 10.0
#: Index prints that are the settlement index itself (an estimate from spot is not).
OFFICIAL_SOURCES = frozenset({"kalshi", "simulator"})
_RECONCILER_KINDS = frozenset({"repaired_fill", "repaired_order", "position_mismatch"})

#: Extra decisions on each timer (the cross-venue desk): (markets, now, final_freeze_s) -> decisions.
TimerSource = Callable[[list[MarketState], int, float], list[Decision]]


class TradingCore:
    def __init__(
        self,
        config: Config,
        *,
        clock: Clock,
        store: SqliteStore,
        run_id: str,
        strategies: Sequence[Strategy] | None = None,
        books: BookSource | None = None,
        index: IndexState | None = None,
        priors: Callable[[], dict[str, tuple[float, float]]] | None = None,
        timer_sources: Sequence[TimerSource] = (),
        kill_switch: bool = True,
    ) -> None:
        self.config = config
        self.clock = clock
        self.store = store
        self.run_id = run_id
        self.strategies = list(strategies) if strategies is not None else build_strategies(config.strategies)
        self.own_books = books is None
        self.books: BookSource = BookSet() if books is None else books
        self.index = index or IndexState()
        self._priors = priors
        self._timer_sources = list(timer_sources)
        #: Read the manual kill switch (``kxbtc halt``) from the store on each timer. A replay's store is
        #: its own, which nothing else writes: it skips the read.
        self._kill_switch = kill_switch
        from kxbtc.portfolio import Portfolio  # the store-backed ledger

        self.portfolio = Portfolio(store)
        #: The operator's event feed (``kxbtc.core.feed``): the terminal, the log and alerts attach here.
        self.feed = Feed()
        self.portfolio.on_booked = self._booked
        self.account = Account(self.portfolio, self.books, self.fees_for)
        self.orders = OrderTracker(run_id)
        self.quotes = QuoteBook(st.name for st in self.strategies if st.quoter)
        self.risk = RiskManager(config.risk, clock)
        self.instruments: dict[str, Instrument] = {}
        self.stats = CoreStats()
        self.decision_log = DecisionLog(store)
        self.skill = SkillGuard.from_config(config, [st.name for st in self.strategies])
        self._fills_without_strategy: dict[str, list[Fill]] = {}
        self.stopping = False
        #: Observe only: books, index, account and strategies run, nothing is sent (no edge shown yet,
        #: or the warm-up part of a replay).
        self.observe_only = False
        self._out: list[Command] = []
        self._saved_baseline: RiskBaseline | None = None
        self._last_snapshot_ns = 0
        self._batch: set[str] | None = None
        #: Counts changes to ``instruments`` (listings, forgotten markets): what is derived from them
        #: is kept until it moves (``Account.event_costs``).
        self._listing_version = 0
        #: Where the last index print came from (``IndexTick.source``), for the operator's view.
        self.index_source = ""
        #: Called with the time at the end of every timer: the heartbeat and the market board
        #: (``kxbtc.core.heartbeat``, ``kxbtc.core.market_board``), which the engine and the demo attach.
        self.timer_hooks: list[Callable[[int], None]] = []
        #: Called with each market's ticker when it is first listed (the demo's summary counts them).
        self.listing_hooks: list[Callable[[str], None]] = []
        #: Markets forgotten, whose per-order and per-fill state goes a while later (``_prune_market``).
        self.forgotten = ForgottenMarkets(self._prune_market)

    # -- the one entry point ------------------------------------------------------------------------

    def handle(self, event: CoreEvent) -> list[Command]:
        """Process one event; the commands it produced, in order."""
        kind = type(event)
        if kind is BookDelta or kind is BookSnapshot or kind is BookStale:  # the hot path, tested first
            self._on_book_event(event)  # type: ignore[arg-type]  # narrowed by the test above
        elif isinstance(event, BookDelta | BookSnapshot | BookStale):
            self._on_book_event(event)
        elif isinstance(event, IndexTick):
            self.index.on_index(event.ts_ns, event.value, official=event.source in OFFICIAL_SOURCES)
            self.index_source = event.source
        elif isinstance(event, FillEvent):
            self.on_fill(event.fill)
        elif isinstance(event, AckEvent):
            self.on_acks(event)
        elif isinstance(event, OrderEvent):
            self.on_order_update(event.update)
        elif isinstance(event, MarketListed):
            self.list_market(event.instrument)
        elif isinstance(event, MarketDetermined):
            self.account.results[event.ticker] = event.result
        elif isinstance(event, MarketSettled):
            self.on_settlement(event)
        elif isinstance(event, Timer):
            self.on_timer()
        return self.take_commands()

    def take_commands(self) -> list[Command]:
        out, self._out = self._out, []
        return out

    # -- markets ----------------------------------------------------------------------------------

    def list_market(self, instrument: Instrument) -> None:
        if instrument.ticker not in self.instruments:
            if self.feed.active:
                self.feed.emit(lines.market_opened(instrument, self.clock.time_ns()))
            self.stats.markets_listed += 1
            for hook in self.listing_hooks:
                hook(instrument.ticker)
        self.instruments[instrument.ticker] = instrument
        self._listing_version += 1
        self.index.track(instrument.close_ns)
        if isinstance(self.books, BookSet):
            self.books.add(instrument.ticker, instrument.grid)

    def forget_market(self, ticker: str) -> None:
        """A settled or closed market is never traded again: drop what the core holds for it. A book the
        core keeps itself goes too (kept, a day of all three series held every book ever listed, each with
        its price grid: the demo's traced memory grew about 0.1 MB per simulated hour from books alone)."""
        self.instruments.pop(ticker, None)
        self._listing_version += 1
        if self.own_books and isinstance(self.books, BookSet):
            self.books.remove(ticker)
        self.forgotten.add(ticker, self.clock.time_ns())

    def _prune_market(self, ticker: str) -> bool:
        """A market forgotten a while ago: drop what is kept per order and per fill for it (the store has
        it all). False to try again later: its result is not known yet, so its marks stay."""
        if ticker in self.instruments:  # listed again since
            return True
        self.portfolio.forget(ticker)
        self.orders.resting.forget(ticker)
        waiting = self._fills_without_strategy
        for order_id in [o for o, fills in waiting.items() if fills[0].ticker == ticker]:
            del waiting[order_id]  # their order's answer never came (the reconciler attributed them)
        return self.account.forget(ticker)

    def fees_for(self, ticker: str) -> FeeSchedule:
        instrument = self.instruments.get(ticker)
        return instrument.fees if instrument is not None else BTC_DEFAULT_FEES

    # -- the fast path ----------------------------------------------------------------------------

    def _on_book_event(self, event: BookDelta | BookSnapshot | BookStale) -> None:
        if not isinstance(self.books, BookSet):
            return
        book = self.books.apply(event)
        if book is None:
            return
        if self._batch is not None:
            self._batch.add(event.ticker)
        else:
            self.on_book_changed(event.ticker)

    def begin_batch(self) -> None:
        """Book events until ``end_batch`` are applied at once and each changed market is evaluated once
        at the end: the frames of one read (Kalshi sends a crossing order's add before the removals it
        causes, within one exchange millisecond) are one state of the book, not several."""
        if self._batch is None:
            self._batch = set()

    def end_batch(self) -> list[Command]:
        changed, self._batch = self._batch or set(), None
        if len(changed) == 1:  # the usual batch: one market, no sort, nothing to share
            self.on_book_changed(next(iter(changed)))
        else:
            with self.account.steady():
                for ticker in sorted(changed):
                    self.on_book_changed(ticker)
        return self.take_commands()

    def on_book_changed(self, ticker: str) -> None:
        """A book changed (from our events, or in a venue client that keeps the books)."""
        if self.orders.blocked(ticker):
            return
        book = self.books.get(ticker)
        if book is not None:
            self._evaluate(ticker, book)

    def _evaluate(self, ticker: str, book: OrderBook) -> None:
        instrument = self.instruments.get(ticker)
        now = self.clock.time_ns()
        if (
            instrument is None
            or not instrument.is_open_at(now)
            or self.risk.halted
            or not self.books.is_tradeable(ticker)
        ):
            return
        self.stats.evaluations += 1
        market = MarketState(instrument, book, self.portfolio.position(ticker))
        oracle = self.index.view(now, [instrument.close_ns])
        ctx = self._context(now)
        decisions: list[Decision] = []
        for strategy in self.strategies:
            # ``with_signals`` and ``QuoteBook.manage`` return their input for a strategy with no signals
            # and for one that does not quote: skipped for those on this path.
            own = with_signals(ctx, strategy, [market], oracle) if strategy.signals else ctx
            wanted = strategy.on_book(market, oracle, own)
            decisions += self.quotes.manage(strategy, [ticker], wanted) if strategy.quoter else wanted
        self.act(decisions)

    def priors(self) -> dict[str, tuple[float, float]]:
        return self._priors() if self._priors is not None else {}

    def _context(self, now: int) -> DecisionContext:
        return DecisionContext(
            now,
            self.equity(),
            {},
            self.priors(),
            self.config.risk.final_freeze_s,
            event_cost_elsewhere=self.account.event_costs(self.instruments, self._listing_version),
        )

    def open_markets(self, now: int) -> list[MarketState]:
        return [
            MarketState(instrument, book, self.portfolio.position(ticker))
            for ticker, instrument in self.instruments.items()
            if instrument.is_open_at(now) and (book := self.books.get(ticker)) is not None and not book.stale
        ]

    def on_timer(self) -> None:
        now = self.clock.time_ns()
        self.poll_kill_switch()
        self.update_equity()
        markets = self.open_markets(now)
        if markets and not self.risk.halted:
            oracle = self.index.view(now, sorted({m.contract.close_ns for m in markets}))
            ctx = self._context(now)
            decisions: list[Decision] = []
            for strategy in self.strategies:
                wanted = strategy.on_timer(markets, oracle, with_signals(ctx, strategy, markets, oracle))
                decisions += self.quotes.manage(strategy, [m.contract.ticker for m in markets], wanted)
            for source in self._timer_sources:
                decisions += source(markets, now, ctx.final_freeze_s)
            self.act(decisions)
        if now - self._last_snapshot_ns >= PNL_SNAPSHOT_EVERY_S * NS_PER_S:
            self._last_snapshot_ns = now
            self.snapshot_pnl()
        for hook in self.timer_hooks:
            hook(now)
        self.forgotten.run(now)

    def act(self, decisions: list[Decision]) -> list[ApprovedOrder]:
        """Every decision through the risk gate; the approved ones go out as one ``PlaceOrders``, after
        the cancels of the quotes they replace."""
        self._out += self.quotes.take_cancels()
        if self.stopping or not decisions:
            # Book updates still arrive until the stream closes: an order sent now would trade after the
            # final reconciliation, and its fill would never reach the database.
            return []
        if self.observe_only:
            observe(self, decisions)
            return []
        now = self.clock.time_ns()
        self.update_equity()  # the gate sizes against equity: a fill since the last tick must count
        approved = gate(self, decisions, now)
        if approved:
            self.send(approved, now)
        return approved

    def send(self, approved: list[ApprovedOrder], now: int) -> None:
        outgoing = []
        for order in approved:
            instrument = self.instruments.get(order.intent.ticker)
            coid = self.orders.next_id(order.intent.strategy, order.intent.ticker)
            out = OutgoingOrder(coid, order, instrument.exchange_index if instrument is not None else None)
            outgoing.append(out)
            self.store.record_order(intended_record(out, now))
            if self.feed.active:
                self.feed.emit(lines.order_sent(order, now))
        self.orders.sending(outgoing)
        self.quotes.sent(outgoing)
        self._out.append(PlaceOrders(tuple(outgoing), now))

    # -- answers from the venue -------------------------------------------------------------------

    def on_acks(self, event: AckEvent) -> None:
        unknown = False
        for ack in event.acks:
            self.quotes.acknowledged(ack)
            out = self.orders.acknowledged(ack, self.fees_for(ack.ticker))
            if out is None:
                continue
            if ack.order_id:  # fills booked from now on carry the strategy (earlier ones: the store)
                self.portfolio.note_order(ack.order_id, ack.ticker, out.order.intent.strategy)
                for early in self._fills_without_strategy.pop(ack.order_id, []):
                    self._guard_fill(out.order.intent.strategy, early)
            self.stats.orders_sent += 1
            self.stats.orders_filled += ack.fill_count > 0
            if ack.status == "rejected" and self.feed.active:
                self.feed.emit(
                    lines.exchange_rejected(ack.ticker, ack.client_order_id, ack.error_code, event.ts_ns)
                )
            unknown = unknown or ack.status == "unknown"
        if unknown:
            self._out.append(Reconcile("an order's answer was lost"))

    def on_fill(self, fill: Fill) -> bool:
        record = fill_record(fill)
        if not self.portfolio.add_fill(record):
            return False
        self.stats.fills_ws += 1
        self.orders.fill_booked(fill.order_id, fill.count)
        strategy = self.portfolio.strategy_of(fill.order_id, fill.ticker)
        if strategy is None:  # the fill beat its order's acknowledgement: attributed when that arrives
            self._fills_without_strategy.setdefault(fill.order_id, []).append(fill)
        else:
            self._guard_fill(strategy, fill)
        return True

    def _guard_fill(self, strategy: str, fill: Fill) -> None:
        self.skill.on_fill(strategy, fill.ticker, str(fill.side), fill.yes_price, fill.count, fill.fee)

    def on_order_update(self, update: OrderUpdate) -> None:
        self.orders.resting_update(
            update.order_id,
            update.ticker,
            update.side,
            update.yes_price,
            update.remaining_count,
            update.status,
            self.fees_for(update.ticker),
        )
        self.quotes.updated(update.order_id, update.status, update.remaining_count)
        if update.client_order_id:
            self.store.update_order(
                update.client_order_id,
                ts_ns=update.ts_ns,
                kind="ws",
                status=update.status,
                order_id=update.order_id,
                fill_count=update.fill_count,
                remaining_count=update.remaining_count,
            )

    def on_settlement(self, event: MarketSettled) -> None:
        self.account.results.setdefault(event.ticker, event.result)
        added = self.portfolio.add_settlement(settlement_record(event))
        if added:
            self.stats.settlements += 1
            verdicts = self.skill.on_settled(event.ticker, event.result)
            for verdict in verdicts:
                self.note(RiskEventRecord(event.ts_ns, "skill_guard", "warning", verdict.detail))
            if verdicts:
                self.store.set_value(PAUSED_KEY, json.dumps(self.skill.paused_reasons()))

    # -- equity, breakers, kill switch -------------------------------------------------------------

    def equity(self) -> Money:
        return self.account.equity()

    def open_value(self) -> Money:
        return self.account.open_value()

    def risk_equity(self) -> Money:
        """Equity on the basis the breakers measure (``[risk] loss_basis``)."""
        return self.account.exit_equity() if self.risk.marked else self.equity()

    def update_equity(self) -> None:
        for event in self.risk.update_equity(self.risk_equity()):
            self._on_breaker(event)
        self._saved_baseline = save_risk_baseline(self.store, self.risk, self._saved_baseline)

    def restore_risk_day(self) -> None:
        """Carry the day's starting equity and the peak over a restart (``restore_risk_baseline``)."""
        restore_risk_baseline(self.store, self.risk)

    def _on_breaker(self, event: RiskEvent) -> None:
        self.note_risk_event(event)
        if event.severity == "halt":
            self._out.append(CancelAll(f"breaker: {event.kind}"))

    def poll_kill_switch(self) -> None:
        if not self._kill_switch:
            return
        reason = self.store.get_value(HALT_KEY) or ""
        if reason and not self.risk.state.manual_halt:
            self._on_breaker(self.risk.halt(reason))
        elif not reason and self.risk.state.manual_halt:
            self.note_risk_event(self.risk.resume())
            self.skill.resume()
            self.store.set_value(PAUSED_KEY, "{}")

    def note_risk_event(self, event: RiskEvent) -> None:
        self.note(RiskEventRecord(event.ts_ns, event.kind, event.severity, event.detail))

    def note(self, record: RiskEventRecord) -> None:
        self.stats.risk_events.append(record)
        if record.kind not in _RECONCILER_KINDS:
            self.store.record_risk_event(record)
        if self.feed.active:
            self.feed.emit(lines.risk_event(record))

    def _booked(self, record: FillRecord | SettlementRecord) -> None:
        """The ledger booked a fill or a settlement (from the stream or a repair): the feed's line."""
        if not self.feed.active:
            return
        if isinstance(record, FillRecord):
            self.feed.emit(lines.order_filled(record))
        else:
            pnl = self.portfolio.ledger.market(record.ticker)
            self.feed.emit(
                lines.market_settled(record.ticker, record.result, pnl.net_realized, record.settled_ns)
            )

    def snapshot_pnl(self) -> None:
        self.store.record_pnl(pnl_snapshot(self.account, self.clock.time_ns(), self.equity()))
