"""Backtest on a recording (``kxbtc record``): the engine's strategies and risk gate on recorded data.

Time is the recording's: a ManualClock set to each line's receive time. Books are rebuilt from the
recorded frames by the production book code (``replay_books``); index prints go into the engine's
``IndexState``. As in the engine, the strategies run on every change of a live book (unless an order on
that market is still in flight), and, as in the simulated backtest, once per second on every live book
after the equity update that trips the breakers. Both paths go through the same ``Desk`` as
``sim_loop``: same positions, equity, risk views and rejection counting.

An approved taker order (fill-or-kill, immediate-or-cancel) is filled ``latency`` after the decision
against the book as recorded at that instant (``replay_fills.take``); resting orders are not simulated
and are counted as skipped. Settlement takes the recorded result (the lifecycle ``determined`` message,
else the REST result the recorder read after close); without one, the 60 one-second index prints
before close decide it by the market's strike rule; a market the recording ends before is valued at its
last mid and reported as unsettled.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kxbtc.backtest.desk import Desk
from kxbtc.backtest.recording import Line, Recording, RecordingError, spec_from_json
from kxbtc.backtest.replay_books import BookReplayer, BookStats
from kxbtc.backtest.replay_fills import GOOD_TILL_CANCELED, IMMEDIATE_OR_CANCEL, CashAccount, take
from kxbtc.backtest.sim_loop import MarketResult, OrderRecord, RunResult, with_strategies
from kxbtc.book.orderbook import OrderBook
from kxbtc.clock import NS_PER_MS, NS_PER_S, ManualClock
from kxbtc.config import Config
from kxbtc.engine.oracle import IndexState
from kxbtc.errors import ProtocolError
from kxbtc.kalshi.discovery import ContractSpec
from kxbtc.kalshi.ws_messages import CfbenchmarksValue, MarketLifecycle, Trade
from kxbtc.oracle.settlement import IndexSample, SettlementTracker, StrikeRule
from kxbtc.risk.limits import ApprovedOrder, RiskManager
from kxbtc.sim.exchange import DEFAULT_START_BALANCE
from kxbtc.strategy import build_strategies
from kxbtc.strategy.base import Strategy
from kxbtc.units import PRICE_SCALE, Money, PriceGridError

DEFAULT_LATENCY_MS = 250

#: Said in every replay report: what this backtest cannot know.
LIMITATIONS = (
    "taker orders only: resting (good-till-canceled) orders are not simulated, only counted",
    "an order fills only against the displayed opposite side as recorded `latency` after the decision, "
    "never more than the displayed size",
    "filled liquidity is not removed from the books recorded later: the market's reaction to our "
    "orders is unknown",
    "fees are charged per price level taken; the exchange charges per maker order, which can round up "
    "by a little more",
)


@dataclass(slots=True)
class ReplayStats:
    path: str
    latency_ms: int
    start_ns: int = 0
    end_ns: int = 0
    lines: int = 0
    frames: int = 0
    clean_end: bool = False
    truncated: bool = False
    books: BookStats = field(default_factory=BookStats)
    index_prints: int = 0
    trades_recorded: int = 0
    skipped_resting: int = 0
    partial_fills: int = 0
    unfilled: Counter[str] = field(default_factory=Counter)
    #: Per market: where its result came from (lifecycle, rest, index) or "unsettled".
    settlement: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "recording": self.path,
            "latency_ms": self.latency_ms,
            "start_ns": self.start_ns,
            "end_ns": self.end_ns,
            "lines": self.lines,
            "frames": self.frames,
            "clean_end": self.clean_end,
            "truncated": self.truncated,
            "seq_gaps": self.books.seq_gaps,
            "book_errors": self.books.book_errors,
            "bad_frames": self.books.bad_frames,
            "disconnects": self.books.disconnects,
            "snapshot_checks": self.books.snapshot_checks,
            "snapshot_mismatches": self.books.snapshot_mismatches,
            "index_prints": self.index_prints,
            "trades_recorded": self.trades_recorded,
            "skipped_resting_orders": self.skipped_resting,
            "partial_fills": self.partial_fills,
            "unfilled_orders": dict(sorted(self.unfilled.items())),
            "settlement_sources": dict(sorted(Counter(self.settlement.values()).items())),
            "settlement": dict(sorted(self.settlement.items())),
            "limitations": list(LIMITATIONS),
        }


@dataclass(slots=True)
class _InFlight:
    fill_at: int
    approved: ApprovedOrder
    record: OrderRecord


class ReplayLoop:
    """One pass over a recording; ``run`` returns the same ``RunResult`` the simulated backtest does."""

    def __init__(
        self,
        config: Config,
        recording: Recording,
        *,
        latency_ms: int = DEFAULT_LATENCY_MS,
        strategies: Sequence[Strategy] | None = None,
        start_cash: Money = DEFAULT_START_BALANCE,
    ) -> None:
        if latency_ms < 0:
            raise ValueError("latency must not be negative")
        self.recording = recording
        header = recording.header
        self.clock = ManualClock(header.start_ns)
        self.latency_ns = latency_ms * NS_PER_MS
        self.risk = RiskManager(config.risk, self.clock)
        self.index = IndexState()
        self.books = BookReplayer(use_yes_price=header.use_yes_price)
        self.result = RunResult(seed=0, mispricing=0.0, start_cash=start_cash)
        self.stats = ReplayStats(str(recording.path), latency_ms, header.start_ns, books=self.books.stats)
        self.desk = Desk(
            config,
            list(strategies) if strategies is not None else build_strategies(config.strategies),
            self.risk,
            self.index,
            start_cash=start_cash,
            mark=self._mark,
            rejections=self.result.rejections,
        )
        self.cash = CashAccount(start_cash)
        self.specs: dict[str, ContractSpec] = {}
        self.tracked: dict[str, MarketResult] = {}
        self.windows: dict[str, SettlementTracker] = {}
        self.results: dict[str, str] = {}
        self._marks: dict[str, int] = {}
        self._in_flight: deque[_InFlight] = deque()
        self._busy: Counter[str] = Counter()  # orders in flight per market: not evaluated, like the engine
        self._last_index_s = 0
        self._next_tick = (header.start_ns // NS_PER_S + 1) * NS_PER_S

    # -- the loop ---------------------------------------------------------------------------------

    def run(self) -> tuple[RunResult, ReplayStats]:
        self._update_equity()  # opens the risk day at the recording's start
        last = self.recording.header.start_ns
        for line in self.recording.lines():
            self._due_before(line.t)
            self._at(line.t)
            self.stats.lines += 1
            self._apply(line)
            last = max(last, line.t)
        self.stats.end_ns = last
        self.stats.truncated = self.recording.truncated
        if self._in_flight:
            self.stats.unfilled["recording_ended"] += len(self._in_flight)
        self._finish()
        return self.result, self.stats

    def _at(self, t_ns: int) -> None:
        if t_ns > self.clock.time_ns():  # a recorder clock stepped back: hold time still
            self.clock.set_ns(t_ns)

    def _due_before(self, t_ns: int) -> None:
        """Fills and once-a-second ticks falling before ``t_ns``, in time order (a fill first on a tie)."""
        while True:
            fill_at = self._in_flight[0].fill_at if self._in_flight else None
            if fill_at is not None and fill_at <= self._next_tick and fill_at < t_ns:
                self._at(fill_at)
                self._fill(self._in_flight.popleft())
            elif self._next_tick < t_ns:
                self._at(self._next_tick)
                self._next_tick += NS_PER_S
                self._tick()
            else:
                return

    def _apply(self, line: Line) -> None:
        if line.kind == "ws":
            assert line.frame is not None  # the reader guarantees it
            self._on_frame(line.frame)
        elif line.kind == "market":
            self._on_market(line)
        elif line.kind == "connection":
            self.books.on_connection(bool(line.body.get("up")))
        elif line.kind == "result":
            self._settle(str(line.body.get("ticker", "")), str(line.body.get("result", "")), "rest")
        elif line.kind == "end":
            self.stats.clean_end = True
        else:
            raise RecordingError(self.recording.path, line.number, f"unexpected {line.kind!r} line")

    def _on_market(self, line: Line) -> None:
        try:
            spec = spec_from_json(line.body)
        except (KeyError, TypeError, ValueError, PriceGridError) as exc:
            raise RecordingError(
                self.recording.path, line.number, f"bad market definition: {exc!r}"
            ) from None
        ticker = spec.ticker
        self.specs[ticker] = spec
        self.books.books.set_grid(ticker, spec.grid)
        self.index.track(spec.close_time_ns)
        self.tracked.setdefault(ticker, MarketResult(0, ticker))
        if ticker not in self.windows or self.windows[ticker].close_ts_s != spec.close_time_ns // NS_PER_S:
            self.windows[ticker] = SettlementTracker(spec.close_time_ns // NS_PER_S)

    def _on_frame(self, frame: bytes) -> None:
        self.stats.frames += 1
        msg = self.books.decode(frame)
        if msg is None:
            return
        book = self.books.on_message(msg)
        if isinstance(msg, CfbenchmarksValue):
            self._on_index(msg)
        elif isinstance(msg, Trade):
            self.stats.trades_recorded += 1
        elif isinstance(msg, MarketLifecycle) and msg.msg.event_type == "determined" and msg.msg.result:
            self._settle(msg.msg.market_ticker, msg.msg.result, "lifecycle")
        if book is not None:
            self._evaluate(book.ticker, book)

    def _on_index(self, msg: CfbenchmarksValue) -> None:
        try:
            raw = msg.msg.raw()
            value = float(raw.value)
        except (ProtocolError, ValueError):
            self.books.stats.bad_frames += 1
            return
        ts_ns = raw.time * NS_PER_MS
        self.index.on_index(ts_ns, value)
        self.stats.index_prints += 1
        second = ts_ns // NS_PER_S
        self._last_index_s = max(self._last_index_s, second)
        sample = IndexSample(second, round(value * 100))
        for ticker, window in self.windows.items():
            if ticker not in self.results and second <= window.close_ts_s + 1:
                window.record(sample)

    # -- deciding and filling ---------------------------------------------------------------------

    def _evaluate(self, ticker: str, book: OrderBook) -> None:
        spec = self.specs.get(ticker)
        now = self.clock.time_ns()
        if (
            spec is None
            or self._busy[ticker] > 0
            or self.risk.halted
            or not spec.is_open_at(now)
            or not self.books.is_tradeable(ticker)
        ):
            return
        self.desk.decide(spec.instrument(), book, now, self._send, in_flight=self._in_flight_risk)

    def _in_flight_risk(self) -> int:
        return sum(o.approved.worst_case_loss for o in self._in_flight)

    def _tick(self) -> None:
        self._update_equity()
        if self.risk.halted:
            return
        for ticker in list(self.specs):
            book = self.books.books.get(ticker)
            if book is not None:
                self._evaluate(ticker, book)

    def _update_equity(self) -> None:
        for event in self.risk.update_equity(self.desk.equity()):
            self.result.halts.append(f"{event.kind}: {event.detail}")

    def _send(self, approved: ApprovedOrder, equity: int, position_cost: int) -> None:
        intent = approved.intent
        if intent.time_in_force == GOOD_TILL_CANCELED:
            self.stats.skipped_resting += 1
            return
        now = self.clock.time_ns()
        order = OrderRecord(
            now, intent.ticker, intent.side, intent.price, approved.count, 0, equity, position_cost
        )
        self.result.orders.append(order)
        self.tracked[intent.ticker].orders += 1
        self._in_flight.append(_InFlight(now + self.latency_ns, approved, order))
        self._busy[intent.ticker] += 1

    def _fill(self, pending: _InFlight) -> None:
        intent = pending.approved.intent
        ticker = intent.ticker
        self._busy[ticker] -= 1
        spec = self.specs[ticker]
        book = self.books.books.get(ticker)
        if not spec.is_open_at(self.clock.time_ns()):
            self.stats.unfilled["market_closed"] += 1
            return
        if book is None or not self.books.is_tradeable(ticker):
            self.stats.unfilled["book_not_tradeable"] += 1
            return
        count = pending.approved.count
        fills = take(book, intent.side, intent.price, count, intent.time_in_force, spec.fees)
        if not fills:
            some = take(book, intent.side, intent.price, count, IMMEDIATE_OR_CANCEL, spec.fees)
            self.stats.unfilled["fill_or_kill_short" if some else "no_liquidity"] += 1
            return
        record = self.tracked[ticker]
        for fill in fills:
            self.desk.ledger.apply_fill(ticker, intent.side, fill.price, fill.count, fill.fee)
            self.cash.fill(ticker, intent.side, fill.price, fill.count, fill.fee)
            record.fills += 1
            record.contracts += fill.count
        pending.record.filled = sum(f.count for f in fills)
        if pending.record.filled < count:
            self.stats.partial_fills += 1

    # -- marks and settlement ---------------------------------------------------------------------

    def _mark(self, ticker: str) -> int | None:
        result = self.results.get(ticker)
        if result is not None:
            return PRICE_SCALE if result == "yes" else 0
        book = self.books.books.get(ticker)
        if book is not None and not book.stale:
            bid, ask = book.best_yes_bid(), book.yes_ask()
            if bid is not None and ask is not None:
                self._marks[ticker] = (bid + ask) // 2
        return self._marks.get(ticker)

    def _settle(self, ticker: str, result: str, source: str) -> None:
        record = self.tracked.get(ticker)
        if record is None or ticker in self.results or result not in ("yes", "no"):
            return  # another series' market, already settled, or not a binary result
        self.results[ticker] = result
        self.stats.settlement[ticker] = source
        record.result = result
        pnl = self.desk.ledger.markets.get(ticker)
        if pnl is not None:
            pnl.settle(result)
            self.cash.settle(ticker, result)
            record.gross, record.fees = pnl.realized, pnl.fees

    def _index_outcome(self, ticker: str) -> str | None:
        """The result by the strike rule from the recorded index, when the recording covers the close."""
        spec, window = self.specs[ticker], self.windows[ticker]
        if self._last_index_s < window.close_ts_s:
            return None
        window.finalize()
        if not window.complete:
            return None
        rule = StrikeRule.from_market(
            spec.strike_type,
            None if spec.floor_strike is None else str(spec.floor_strike),
            None if spec.cap_strike is None else str(spec.cap_strike),
        )
        return "yes" if window.outcome(rule) else "no"

    def _finish(self) -> None:
        open_value = 0
        for ticker, record in self.tracked.items():
            if ticker not in self.results and (outcome := self._index_outcome(ticker)) is not None:
                self._settle(ticker, outcome, "index")
            if ticker in self.results:
                continue
            self.stats.settlement[ticker] = "unsettled"
            pnl = self.desk.ledger.markets.get(ticker)
            if pnl is None:
                continue
            mark = self._mark(ticker)
            unrealized = pnl.unrealized(mark) if mark is not None and pnl.position else 0
            record.gross, record.fees = pnl.realized + unrealized, pnl.fees
            open_value += pnl.cost + unrealized
        self.result.final_cash = self.cash.cash + open_value
        self.result.markets = list(self.tracked.values())


def run_replay(
    config: Config,
    path: Path,
    *,
    latency_ms: int = DEFAULT_LATENCY_MS,
    strategies: Sequence[str] | None = None,
    start_cash: Money = DEFAULT_START_BALANCE,
) -> tuple[RunResult, ReplayStats]:
    """Replay the recording at ``path`` with ``strategies`` (default: every enabled one in ``config``)."""
    cfg = config if strategies is None else with_strategies(config, strategies)
    return ReplayLoop(cfg, Recording(path), latency_ms=latency_ms, start_cash=start_cash).run()
