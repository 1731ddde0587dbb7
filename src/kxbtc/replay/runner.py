"""``ReplayRunner``: recorded markets through the trading core, on the recording's clock.

Time is the recording's receive time. Frames received at the same instant are one batch: the core
applies them all and evaluates each changed market once (a crossing order's add and the removals it
causes arrive together). Books come from the production stream state machine (``KalshiStream``), one per
recorded connection: a sequence gap leaves a book stale until its next snapshot. The index is either
Kalshi's own ``cfbenchmarks_value`` prints or recorded spot trades corrected by a basis learnt only from
markets already settled (``BasisEstimator``): two index sources (``kxbtc.oracle.index_source``), of
which only the chosen one's ticks reach the core. Each whole second the core gets its timer.

An order the core sends reaches the market ``latency`` later and fills against the book as recorded at
that instant (``fills.take``); its acknowledgement and fills come back one ``latency`` after that. A
good-till-canceled remainder rests at its price (``queue.QueueModel``: it joins the back of its level and
fills only when the recorded book trades through it); its maker fills and order updates come back one
``latency`` after the recorded book produced them. It is cancelled by the core's ``CancelOrders`` and
``CancelAll`` (one ``latency`` after the command; it can fill until then) and when its market closes.
A market is listed to the core at its open and settled ``settle_delay_s`` after its close with the
recorded result; a market without a recorded result stays open and is valued at its last mid.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from kxbtc.clock import NS_PER_MS, NS_PER_S, ManualClock
from kxbtc.config import Config
from kxbtc.core.books import BookSet
from kxbtc.core.commands import CancelAll, CancelOrders, Command, OutgoingOrder, PlaceOrders
from kxbtc.core.trading_core import TradingCore
from kxbtc.domain.events import (
    AckEvent,
    BookDelta,
    BookSnapshot,
    BookStale,
    FillEvent,
    IndexTick,
    MarketDetermined,
    MarketListed,
    OrderEvent,
    Timer,
)
from kxbtc.domain.orders import Fill, OrderAck
from kxbtc.errors import ProtocolError
from kxbtc.kalshi.stream import KalshiStream
from kxbtc.kalshi.ws_messages import decode_frame
from kxbtc.llm.recorded import RecordedPriors, load_rounds
from kxbtc.oracle.index_source import KALSHI, SPOT_BASIS, KalshiPrints, RecordedSpotTicks
from kxbtc.oracle.spot_basis import BasisEstimator
from kxbtc.recordings.gaps import known_gaps
from kxbtc.recordings.source import ConnectionChange, MarketInfo, MarketRecording, RecordedEvent, SpotTick
from kxbtc.replay.fills import GOOD_TILL_CANCELED, take
from kxbtc.replay.resting import RestingOrders
from kxbtc.replay.settle import settlement_of
from kxbtc.store.connection import open_connection
from kxbtc.store.db import SqliteStore
from kxbtc.strategy.base import Strategy
from kxbtc.units import Count, Money

DEFAULT_START_CASH = Money(1_000_000_000)  # $1,000
_NEVER = 2**63


@dataclass(frozen=True, slots=True)
class ReplaySettings:
    latency_ms: float = 50.0  # one way: decision -> market, and market -> answer
    index: str = "auto"  # kalshi | spot | auto (spot when the recording has spot trades)
    start_cash: Money = DEFAULT_START_CASH
    settle_delay_s: float = 30.0
    #: Trade only from this instant (ns; 0: from the start). Before it the core observes: books, index,
    #: basis and volatility warm up, and only markets opening from it on are reported.
    trade_from_ns: int = 0
    #: Trade only before this instant (ns; 0: to the end): only markets opening before it are reported,
    #: and the replay stops once they have settled.
    trade_until_ns: int = 0
    #: Events older than this before ``trade_from_ns`` are skipped: long enough for the books (each
    #: recorded stream starts with a snapshot), the volatility and the basis to warm up.
    warm_up_s: float = 3 * 3600.0
    #: A database recorded by a live run: its ``llm_calls`` become the priors the strategies see, each
    #: from when the live engine had it (``kxbtc.llm.recorded``). None: no LLM priors. A replay never
    #: calls a model.
    llm_answers: Path | None = None


@dataclass(slots=True)
class ReplayCounts:
    events: int = 0
    frames: int = 0
    bad_frames: int = 0
    spot_ticks: int = 0
    index_ticks: int = 0
    orders: int = 0
    filled_orders: int = 0
    unfilled: Counter[str] = field(default_factory=Counter)
    rested: int = 0  # good-till-canceled remainders that rested (``resting.RestingOrders``)
    maker_fills: int = 0
    resting_canceled: Counter[str] = field(default_factory=Counter)  # by reason


def _recorded_priors(config: Config, path: Path | None, clock: ManualClock) -> RecordedPriors | None:
    if path is None:
        return None
    with contextlib.closing(open_connection(path, readonly=True)) as conn:
        rounds = load_rounds(conn, config.llm)
    return RecordedPriors(rounds, clock, config.llm.max_age_s)


#: Records handed to the store's writer thread at once (``SqliteStore.batch_writes``).
_BATCHED_WRITES = 512


class ReplayRunner:
    def __init__(
        self,
        config: Config,
        recording: MarketRecording,
        settings: ReplaySettings,
        store: SqliteStore,
        *,
        strategies: Sequence[Strategy] | None = None,
    ) -> None:
        self.recording = recording
        self.settings = settings
        self.clock = ManualClock(0)
        self.recorded_priors = _recorded_priors(config, settings.llm_answers, self.clock)
        self.core = TradingCore(
            config,
            clock=self.clock,
            store=store,
            run_id="replay",
            books=BookSet(),
            strategies=strategies,
            priors=self.recorded_priors.priors if self.recorded_priors is not None else None,
            kill_switch=False,  # the replay's store is its own: nothing writes a halt into it
        )
        self.core.account.anchor = settings.start_cash
        # The replay's store is its own and read only once it ends (after ``flush``): its records go to
        # the writer thread in batches, not one commit each.
        store.batch_writes(_BATCHED_WRITES)
        self.latency_ns = int(settings.latency_ms * NS_PER_MS)
        self.streams: dict[str, KalshiStream] = {}
        self.basis = BasisEstimator()
        self.spot_index = RecordedSpotTicks(self.basis)
        self.kalshi_index = KalshiPrints()
        for source in (self.spot_index, self.kalshi_index):
            source.attach(self._on_index)
        self.use_spot = settings.index == "spot"
        self.counts = ReplayCounts()
        self.markets: dict[str, MarketInfo] = {
            t: m for t, m in recording.markets().items() if m.floor_strike is not None or m.cap_strike
        }
        self.orders_by_market: Counter[str] = Counter()
        self.fills_by_market: Counter[str] = Counter()
        self.listed: set[str] = set()
        self.with_book: set[str] = set()  # markets that had a book in the recording
        self.results: dict[str, str] = {}  # results the recorded stream announced (lifecycle)
        self.settled_by: dict[str, str] = {}  # market -> where its result came from
        self._to_list = sorted(self.markets.values(), key=lambda m: (m.open_ns, m.ticker))
        self._to_settle = sorted(self.markets.values(), key=lambda m: (m.close_ns, m.ticker))
        self._queue: list[tuple[int, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._next_second = 0
        self._settle_delay_ns = int(settings.settle_delay_s * NS_PER_S)
        #: Nothing is scheduled before this (answers, whole seconds, listings, settlements): an event
        #: at or before it needs no ``_advance``.
        self._next_due = -1
        self._fill_ids = itertools.count(1)
        self.resting = RestingOrders(
            self.clock, self.core.books, self.latency_ns, self._at, self._answer, self._fill_ids
        )

    # -- the loop ---------------------------------------------------------------------------------

    def run(self) -> None:
        settings = self.settings
        skip_before = (
            settings.trade_from_ns - int(settings.warm_up_s * NS_PER_S) if settings.trade_from_ns else 0
        )
        stop_after = settings.trade_until_ns + 20 * 60 * NS_PER_S if settings.trade_until_ns else 2**63
        trade_from, trade_until = settings.trade_from_ns, settings.trade_until_ns
        core, apply = self.core, self._apply
        events = iter(self.recording.events())
        event = next(events, None)
        first = True
        # One batch per instant: every event of that ``t`` is applied, then the core evaluates.
        while event is not None:
            t = event.t_ns
            if t < skip_before:
                while event is not None and event.t_ns == t:
                    event = next(events, None)
                continue
            if t > stop_after:
                break
            if first:
                self._start(t)
                first = False
            if t > self._next_due:
                self._advance(t)
            elif t > self.clock.time_ns():
                self.clock.set_ns(t)
            core.observe_only = t < trade_from or 0 < trade_until <= t
            core.begin_batch()
            while event is not None and event.t_ns == t:
                apply(event)
                event = next(events, None)
            self._send(core.end_batch())
        self._advance(self.clock.time_ns() + self.latency_ns * 2 + 1)
        # Markets that closed before the recording ended settle now if their result is known.
        end = self.clock.time_ns()
        while self._to_settle and self._to_settle[0].close_ns <= end:
            self._settle(self._to_settle.pop(0))
        self.counts.rested = self.resting.rested
        self.counts.maker_fills = sum(self.resting.maker_fills.values())
        self.counts.resting_canceled = Counter(self.resting.canceled)

    def _start(self, t: int) -> None:
        self.clock.set_ns(t)
        # A missing stretch of a recording (the shared format's gaps.csv) leaves a book frozen but
        # looking live until the next frame shows the jump in seq: it goes stale where the gap begins.
        for start, ticker in known_gaps(self.recording).starts():
            self._at(max(start, t), _stale(self.core, ticker, start))
        self._next_second = (t // NS_PER_S + 1) * NS_PER_S
        if self.settings.index == "auto":
            self.use_spot = self.recording.has_spot
        self.core.update_equity()  # opens the risk day at the recording's start

    def _advance(self, t: int) -> None:
        """Everything scheduled before ``t``: answers, whole seconds, listings and settlements."""
        while True:
            due = min(
                self._queue[0][0] if self._queue else t,
                self._next_second,
                self._to_list[0].open_ns if self._to_list else t,
                self._settle_at(self._to_settle[0]) if self._to_settle else t,
            )
            if due >= t:
                break
            self.clock.set_ns(max(due, self.clock.time_ns()))
            if self._to_list and self._to_list[0].open_ns <= due:
                market = self._to_list.pop(0)
                self.listed.add(market.ticker)
                if market.settlement_value is not None:  # released only once settled (``_settle``)
                    self.basis.watch(market.ticker, market.close_ns, market.settlement_value)
                self._send(self.core.handle(MarketListed(market.instrument(), due)))
            elif self._to_settle and self._settle_at(self._to_settle[0]) <= due:
                self._settle(self._to_settle.pop(0))
            elif self._queue and self._queue[0][0] <= due:
                _, _, action = heapq.heappop(self._queue)
                action()
            else:
                self._next_second += NS_PER_S
                self._send(self.core.handle(Timer(due)))
        self.clock.set_ns(max(t, self.clock.time_ns()))
        self._next_due = min(
            self._queue[0][0] if self._queue else _NEVER,
            self._next_second,
            self._to_list[0].open_ns if self._to_list else _NEVER,
            self._settle_at(self._to_settle[0]) if self._to_settle else _NEVER,
        )

    def _settle_at(self, market: MarketInfo) -> int:
        return market.close_ns + self._settle_delay_ns

    def _apply(self, event: RecordedEvent) -> None:
        self.counts.events += 1
        if isinstance(event, SpotTick):
            self.counts.spot_ticks += 1
            if self.use_spot:  # the basis is learnt only while it is used, as the index
                self.spot_index.on_spot(event.t_ns, event.price)
            return
        stream = self.streams.get(event.conn)
        if stream is None:
            stream = self.streams[event.conn] = KalshiStream(
                use_yes_price=self.recording.use_yes_price,
                accept_unannounced_sids=self.recording.accept_unannounced_sids,
            )
        if isinstance(event, ConnectionChange):
            if not event.up:
                for stale in stream.disconnected(event.t_ns):
                    self.core.handle(stale)
            return
        self.counts.frames += 1
        try:
            msg = decode_frame(event.frame)
        except ProtocolError as exc:
            self.counts.bad_frames += 1
            for stale in stream.bad_frame(event.t_ns, str(exc), event.frame):
                self.core.handle(stale)
            return
        core, resting = self.core, self.resting
        for domain_event in stream.on_message(msg, event.t_ns):
            if type(domain_event) is BookDelta:  # nearly every event: what the checks below do for one
                core.handle(domain_event)
                resting.book_changed(domain_event.ticker)
                continue
            if isinstance(domain_event, BookSnapshot):
                self.with_book.add(domain_event.ticker)
            elif isinstance(domain_event, MarketDetermined):
                self.results.setdefault(domain_event.ticker, domain_event.result)
            elif isinstance(domain_event, IndexTick):
                self.kalshi_index.on_tick(domain_event)
                continue
            core.handle(domain_event)
            if isinstance(domain_event, BookSnapshot | BookDelta):
                resting.book_changed(domain_event.ticker)

    def _on_index(self, tick: IndexTick) -> None:
        """Every index source's ticks arrive here; only the chosen source's reach the core."""
        if tick.source != (SPOT_BASIS if self.use_spot else KALSHI):
            return
        if tick.source == KALSHI:
            self.counts.index_ticks += 1
        self.core.handle(tick)

    # -- orders -----------------------------------------------------------------------------------

    def _answer(self, event: FillEvent | OrderEvent) -> None:
        self._send(self.core.handle(event))

    def _at(self, t_ns: int, action: Callable[[], None]) -> None:
        heapq.heappush(self._queue, (t_ns, next(self._seq), action))
        if t_ns < self._next_due:
            self._next_due = t_ns

    def _send(self, commands: Iterable[Command]) -> None:
        for command in commands:
            if isinstance(command, PlaceOrders):
                self._at(self.clock.time_ns() + self.latency_ns, _bind(self._execute, command.orders))
            elif isinstance(command, CancelOrders):
                self._at(self.clock.time_ns() + self.latency_ns, _cancel(self.resting, command.order_ids))
            elif isinstance(command, CancelAll):
                self._at(self.clock.time_ns() + self.latency_ns, self.resting.cancel_all)
            # Reconcile: nothing is ever lost here.

    def _execute(self, orders: tuple[OutgoingOrder, ...]) -> None:
        now = self.clock.time_ns()
        acks: list[OrderAck] = []
        fills: list[Fill] = []
        for out in orders:
            intent, count = out.order.intent, out.order.count
            self.counts.orders += 1
            self.orders_by_market[intent.ticker] += 1
            order_id = f"replay-{self.counts.orders}"
            book = self.core.books.get(intent.ticker)
            instrument = self.core.instruments.get(intent.ticker)
            taken = []
            remaining = 0
            if instrument is None or not instrument.is_open_at(now):
                self.counts.unfilled["market_closed"] += 1
            elif book is None or not self.core.books.is_tradeable(intent.ticker):
                self.counts.unfilled["book_not_tradeable"] += 1
            else:
                taken = take(book, intent.side, intent.price, count, intent.time_in_force, instrument.fees)
                remaining = count - sum(f.count for f in taken)
                if intent.time_in_force != GOOD_TILL_CANCELED:
                    remaining = 0
                    if not taken:
                        self.counts.unfilled["no_liquidity_at_limit"] += 1
                elif remaining > 0:  # the rest joins its level's queue on this book, as it is now
                    self.resting.rest(
                        out,
                        order_id,
                        remaining,
                        count - remaining,
                        instrument.fees,
                        book,
                        instrument.close_ns,
                    )
            filled = sum(f.count for f in taken)
            self.counts.filled_orders += filled > 0
            status = "resting" if remaining else "executed" if filled else "canceled"
            acks.append(
                OrderAck(
                    out.client_order_id, intent.ticker, order_id, status, Count(filled), Count(remaining)
                )
            )
            self.fills_by_market[intent.ticker] += len(taken)
            for f in taken:
                fills.append(
                    Fill(
                        f"replay-fill-{next(self._fill_ids)}",
                        order_id,
                        intent.ticker,
                        intent.side,
                        f.price,
                        f.count,
                        f.fee,
                        True,
                        now,
                        "replay",
                    )
                )

        def answer() -> None:
            # Fills first: the stream's fill messages beat the REST answer on the live venue too.
            for fill in fills:
                self._send(self.core.handle(FillEvent(fill)))
            self._send(self.core.handle(AckEvent(tuple(acks), self.clock.time_ns())))

        self._at(now + self.latency_ns, answer)

    # -- settlement -------------------------------------------------------------------------------

    def _settle(self, market: MarketInfo) -> None:
        now = self.clock.time_ns()
        self.basis.release(market.ticker)
        result = self.results.get(market.ticker) or market.result
        if result not in ("yes", "no"):
            return
        self.settled_by[market.ticker] = "stream" if market.ticker in self.results else "recorded result"
        market = replace(market, result=result)
        self.core.handle(MarketDetermined(market.ticker, result, now))
        settled = settlement_of(self.core.portfolio.ledger, market, now)
        if settled is not None:
            self._send(self.core.handle(settled))
        self.core.forget_market(market.ticker)


def _stale(core: TradingCore, ticker: str, at_ns: int) -> Callable[[], None]:
    def mark() -> None:
        core.handle(BookStale(ticker, "recording gap (gaps.csv)", at_ns))

    return mark


def _cancel(resting: RestingOrders, order_ids: tuple[str, ...]) -> Callable[[], None]:
    def cancel() -> None:
        for order_id in order_ids:
            resting.cancel(order_id, "cancel_orders")

    return cancel


def _bind(
    fn: Callable[[tuple[OutgoingOrder, ...]], None], orders: tuple[OutgoingOrder, ...]
) -> Callable[[], None]:
    return lambda: fn(orders)
