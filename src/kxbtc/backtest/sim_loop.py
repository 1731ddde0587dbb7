"""A deterministic backtest: the simulated exchange on a ManualClock, stepped one second at a time.

Each second the exchange moves (index, lifecycle, market makers), the index goes into the engine's own
``IndexState``, every open 15-minute market's book is copied into a ``kxbtc.book.OrderBook``, and the
same strategy and risk code the engine runs decides. Approved orders go straight into the exchange's
matching engine (``Exchange.create_order``), so fills, fees and settlements are the exchange's own; the
local ``kxbtc.pnl.Ledger`` is built from those fills and checked against the exchange's cash at the end.

What this leaves out, on purpose: network latency (an order here sees exactly the book it was priced
on, which flatters a taker strategy) and the WS/REST plumbing (tested elsewhere, against the server).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from kxbtc.backtest.desk import Desk
from kxbtc.book.orderbook import OrderBook
from kxbtc.clock import NS_PER_S, ManualClock
from kxbtc.config import Config, StrategyConfig
from kxbtc.engine.oracle import IndexState
from kxbtc.risk.limits import ApprovedOrder, RiskManager
from kxbtc.sim.exchange import CRYPTO_SHARD, Exchange, SimConfig, SimRejection
from kxbtc.sim.markets import Market
from kxbtc.strategy import build_strategies
from kxbtc.strategy.base import ContractView, Strategy
from kxbtc.units import Money

SERIES = "KXBTC15M"
#: Index history fed to the volatility estimate before the first decision.
WARMUP_S = 600
SETTLED = ("determined", "finalized", "settled")


@dataclass(slots=True)
class MarketResult:
    """One market's outcome for our account. Money in micro-dollars, counts in 1/100 contract."""

    seed: int
    ticker: str
    result: str = ""
    orders: int = 0
    fills: int = 0
    contracts: int = 0
    gross: int = 0  # realized P&L before fees
    fees: int = 0

    @property
    def net(self) -> Money:
        return Money(self.gross - self.fees)

    @property
    def traded(self) -> bool:
        return self.fills > 0


@dataclass(slots=True)
class OrderRecord:
    """An order as sent, with what the risk gate saw: enough to audit it afterwards."""

    ts_ns: int
    ticker: str
    side: str
    price: int
    count: int
    filled: int
    equity: int
    position_cost: int


@dataclass(slots=True)
class RunResult:
    seed: int
    mispricing: float
    start_cash: Money
    final_cash: int = 0  # Money
    markets: list[MarketResult] = field(default_factory=list)
    orders: list[OrderRecord] = field(default_factory=list)
    rejections: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)  # the exchange's error codes
    halts: list[str] = field(default_factory=list)

    @property
    def net(self) -> Money:
        return Money(sum(m.net for m in self.markets))

    @property
    def ledger_matches_exchange(self) -> bool:
        """Every cent the local ledger booked is in the exchange's cash, and nothing else is."""
        return self.final_cash - self.start_cash == self.net


def contract_of(market: Market, exchange: Exchange) -> ContractView:
    return ContractView(
        ticker=market.ticker,
        event_ticker=market.event_ticker,
        series=market.series_ticker,
        strike_type=market.strike_type,
        floor_strike=market.floor_strike / 100 if market.floor_strike is not None else None,
        cap_strike=market.cap_strike / 100 if market.cap_strike is not None else None,
        open_ns=market.open_ns,
        close_ns=market.close_ns,
        fees=exchange.series_by_ticker[market.series_ticker].fees,
    )


def book_of(exchange: Exchange, market: Market) -> OrderBook:
    """The exchange's book as the engine would hold it after a snapshot (NO side at NO-leg prices)."""
    levels = exchange.orderbook(market.ticker)
    book = OrderBook(market.ticker, market.grid)
    book.apply_snapshot(levels.yes, levels.no, no_in_yes_prices=False)
    return book


class BacktestLoop:
    """One seeded run over ``markets`` consecutive 15-minute markets (each traded from its open)."""

    def __init__(
        self,
        config: Config,
        *,
        seed: int,
        markets: int,
        mispricing: float,
        strategies: Sequence[Strategy] | None = None,
    ) -> None:
        self.config = config
        self.clock = ManualClock()
        self.start_ns = self.clock.time_ns()
        self.exchange = Exchange(
            self.clock, seed=seed, config=SimConfig(mispricing=mispricing, series=(SERIES,))
        )
        self.user = self.exchange.ensure_user("kxbtc-backtest")
        self.want = markets
        self.strategies = list(strategies) if strategies is not None else build_strategies(config.strategies)
        self.risk = RiskManager(config.risk, self.clock)
        self.index = IndexState()
        self.tracked: dict[str, MarketResult] = {}
        self._marks: dict[str, int] = {}
        self._fills_seen = 0
        start_cash = self.exchange.accounts.cash_of(self.user, 0, CRYPTO_SHARD)
        self.result = RunResult(seed, mispricing, start_cash)
        self.desk = Desk(
            config,
            self.strategies,
            self.risk,
            self.index,
            start_cash=start_cash,
            mark=self._mark,
            rejections=self.result.rejections,
        )
        self.ledger = self.desk.ledger

    def run(self) -> RunResult:
        now_s = self.clock.time_ns() // NS_PER_S
        for s in range(now_s - WARMUP_S, now_s + 1):
            self.index.on_index(s * NS_PER_S, self.exchange.index_value(s) / 100)
        while not self._done():
            self.clock.advance(1.0)
            self.exchange.step()
            self._second()
        self.result.final_cash = self.exchange.accounts.cash_of(self.user, 0, CRYPTO_SHARD)
        self.result.markets = list(self.tracked.values())
        return self.result

    def _done(self) -> bool:
        # A market the exchange has already forgotten (pruned hours after settling) is finalized too.
        return len(self.tracked) >= self.want and all(
            (m := self.exchange.markets.get(t)) is None or m.status == "finalized" for t in self.tracked
        )

    def _second(self) -> None:
        now = self.clock.time_ns()
        self.index.on_index(now, self.exchange.index_value() / 100)
        for market in self.exchange.markets.values():
            if (
                len(self.tracked) < self.want
                and market.ticker not in self.tracked
                and market.series_ticker == SERIES
                and market.open_ns >= self.start_ns
            ):
                self.tracked[market.ticker] = MarketResult(self.result.seed, market.ticker)
                self.index.track(market.close_ns)
        self._settle()
        for event in self.risk.update_equity(self.equity()):
            self.result.halts.append(f"{event.kind}: {event.detail}")
        if self.risk.halted:
            return
        for ticker in self.tracked:
            live = self.exchange.markets.get(ticker)
            if live is not None and live.status == "active" and live.floor_strike is not None:
                self._decide(live, now)

    def _settle(self) -> None:
        for ticker, record in self.tracked.items():
            market = None if record.result else self.exchange.markets.get(ticker)
            if market is None or market.status not in SETTLED or not market.result:
                continue
            record.result = market.result
            if ticker in self.ledger.markets:
                pnl = self.ledger.markets[ticker]
                pnl.settle(market.result)
                record.gross, record.fees = pnl.realized, pnl.fees

    def _mark(self, ticker: str) -> int | None:
        market = self.exchange.markets.get(ticker)
        if market is not None and market.status == "active":
            bid, bid_size, ask, ask_size = self.exchange.top_of_book(ticker)
            if bid_size and ask_size:
                self._marks[ticker] = (bid + ask) // 2
        return self._marks.get(ticker)

    def equity(self) -> Money:
        return self.desk.equity()

    def open_value(self) -> Money:
        return self.desk.open_value()

    def _decide(self, market: Market, now: int) -> None:
        self.desk.decide(contract_of(market, self.exchange), book_of(self.exchange, market), now, self._send)

    def _send(self, approved: ApprovedOrder, equity: int, position_cost: int) -> None:
        now = self.clock.time_ns()
        intent = approved.intent
        record = self.tracked[intent.ticker]
        try:
            created = self.exchange.create_order(
                self.user,
                ticker=intent.ticker,
                side=intent.side,
                price=intent.price,
                count=approved.count,
                time_in_force=intent.time_in_force,
                self_trade_prevention_type="taker_at_cross",
            )
        except SimRejection as exc:
            self.result.refused[exc.code] += 1
            return
        record.orders += 1
        self.result.orders.append(
            OrderRecord(
                now,
                intent.ticker,
                intent.side,
                intent.price,
                approved.count,
                created.fill_count,
                equity,
                position_cost,
            )
        )
        fills = self.exchange.accounts.fills.get(self.user, [])
        for fill in fills[self._fills_seen :]:
            self.ledger.apply_fill(fill.ticker, fill.side, fill.price, fill.count, fill.fee)
            target = self.tracked.get(fill.ticker)
            if target is not None:
                target.fills += 1
                target.contracts += fill.count
        self._fills_seen = len(fills)


def with_strategies(config: Config, names: Sequence[str]) -> Config:
    """The config with exactly ``names`` enabled (their configured settings, or the defaults)."""
    chosen = {
        name: config.strategies.get(name, StrategyConfig()).model_copy(update={"enabled": True})
        for name in names
    }
    return config.model_copy(update={"strategies": chosen})


def run_backtest(
    config: Config,
    *,
    seeds: Sequence[int],
    markets: int,
    mispricing: float,
    strategies: Sequence[str] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> list[RunResult]:
    """``markets`` markets in total, split evenly across ``seeds`` (one independent exchange per seed).

    ``strategies`` names the strategies to run (default: every enabled one in ``config``).
    """
    if markets <= 0 or not seeds:
        raise ValueError("need at least one market and one seed")
    cfg = config if strategies is None else with_strategies(config, strategies)
    share, extra = divmod(markets, len(seeds))
    runs: list[RunResult] = []
    done = 0
    for i, seed in enumerate(seeds):
        count = share + (1 if i < extra else 0)
        if count:
            runs.append(BacktestLoop(cfg, seed=seed, markets=count, mispricing=mispricing).run())
            done += count
            if on_progress is not None:
                on_progress(done, markets)  # per seed: the loop itself stays free of I/O
    return runs
