"""What both backtests share: equity from the ledger, and strategies -> risk gate for one market.

The simulated backtest (``sim_loop``) and the replay of a recording (``replay``) differ only in where
the books come from and how an approved order fills. Everything between (the position and equity the
strategies and the risk gate see, the order of the calls, what counts as a rejection) is here, once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

from kxbtc.book.orderbook import OrderBook
from kxbtc.config import Config
from kxbtc.engine.oracle import IndexState
from kxbtc.pnl import Ledger
from kxbtc.risk.limits import ApprovedOrder, MarketRisk, RiskManager
from kxbtc.strategy.base import ContractView, DecisionContext, MarketState, Strategy
from kxbtc.units import Count, Money

#: The YES price a position in this market is marked at now (mid), or None without a two-sided book.
MarkFn = Callable[[str], int | None]
#: Sends an approved order: (order, equity when decided, the position's cost basis when decided).
SendFn = Callable[[ApprovedOrder, int, int], None]


class Desk:
    """The account as the strategies and the risk gate see it, built from fills in ``ledger``."""

    def __init__(
        self,
        config: Config,
        strategies: Sequence[Strategy],
        risk: RiskManager,
        index: IndexState,
        *,
        start_cash: Money,
        mark: MarkFn,
        rejections: Counter[str],
    ) -> None:
        self.config = config
        self.strategies = list(strategies)
        self.risk = risk
        self.index = index
        self.start_cash = start_cash
        self.mark = mark
        self.rejections = rejections
        self.ledger = Ledger()

    def position(self, ticker: str) -> Count:
        pnl = self.ledger.markets.get(ticker)
        return Count(pnl.position if pnl else 0)

    def position_cost(self, ticker: str) -> Money:
        pnl = self.ledger.markets.get(ticker)
        return Money(pnl.cost if pnl else 0)

    def equity(self) -> Money:
        """Start cash plus realized P&L net of fees plus open positions at mid (at cost without a mark)."""
        unrealized = 0
        for ticker, pnl in self.ledger.markets.items():
            if pnl.position:
                mark = self.mark(ticker)
                unrealized += pnl.unrealized(mark) if mark is not None else 0
        return Money(self.start_cash + self.ledger.total_realized() - self.ledger.total_fees() + unrealized)

    def open_value(self) -> Money:
        """What every open position is worth now: at mid, or at cost without a mark."""
        total = 0
        for ticker, pnl in self.ledger.markets.items():
            if pnl.position:
                mark = self.mark(ticker)
                total += pnl.cost if mark is None else pnl.unrealized(mark) + pnl.cost
        return Money(total)

    def decide(
        self,
        contract: ContractView,
        book: OrderBook,
        now: int,
        send: SendFn,
        *,
        in_flight: Callable[[], int] | None = None,
    ) -> None:
        """Run every strategy's ``on_book`` on this market; each intent the risk gate approves is sent.

        ``in_flight`` gives the worst-case loss of orders sent but not filled yet: it can still be lost,
        so it counts in ``open_value`` like an open position (as the engine counts its pending risk).
        """
        state = MarketState(contract, book, self.position(contract.ticker))
        oracle = self.index.view(now, [contract.close_ns])
        equity = self.equity()
        ctx = DecisionContext(now, equity, {}, {}, self.config.risk.final_freeze_s)
        for strategy in self.strategies:
            for decision in strategy.on_book(state, oracle, ctx):
                view = MarketRisk(
                    contract.ticker,
                    contract.close_ns,
                    self.position(contract.ticker),
                    self.position_cost(contract.ticker),
                    self.index.age_s(now),
                    fees=contract.fees,
                    open_value=Money(self.open_value() + (in_flight() if in_flight is not None else 0)),
                )
                verdict = self.risk.check(decision.intent, view)
                if not isinstance(verdict, ApprovedOrder):
                    self.rejections[verdict.rule] += 1
                    continue
                send(verdict, equity, view.position_cost)
