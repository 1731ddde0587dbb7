"""The account as the core sees it: positions and P&L from fills (``Portfolio``), the marks that value
them, and equity.

Equity = anchor + realized P&L net of fees + open positions marked to mid. The anchor is taken from the
venue's balance at start; fills carry exact prices and fees, so equity tracks the venue's cash to the
micro-dollar, and each quiet reconciliation checks that (``anchor_gap``).

Exit equity (``exit_equity``) is what the risk breakers measure: every open position valued at what
selling it now would fetch, after the taker fee on that sale. A long with no bid on its side is worth
nothing (conservative: nobody would buy it now).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

from kxbtc.core.books import BookSource
from kxbtc.domain.instrument import Instrument
from kxbtc.pnl import Ledger, MarketPnl
from kxbtc.portfolio import Portfolio
from kxbtc.pricing.fees import BTC_DEFAULT_FEES, FeeSchedule
from kxbtc.units import PRICE_SCALE, Count, Money


def _default_fees(_ticker: str) -> FeeSchedule:
    return BTC_DEFAULT_FEES


class Account:
    def __init__(
        self,
        portfolio: Portfolio,
        books: BookSource,
        fees: Callable[[str], FeeSchedule] = _default_fees,
    ) -> None:
        self.portfolio = portfolio
        self.books = books
        self.fees = fees
        self.anchor = 0
        self.results: dict[str, str] = {}  # determined results, which mark closed positions
        self._marks: dict[str, int] = {}  # last two-sided YES mid per market
        self._liquidation_marks: dict[tuple[str, bool], int] = {}  # last exit price per (market, long YES)
        # From the ledger alone, kept until it changes (``Ledger.version``): equity is asked on every
        # evaluation, the ledger holds every market ever traded, and it moves only on fills and settlements.
        self._ledger: Ledger | None = None
        self._version = -1
        self._booked = 0  # realized P&L net of fees
        self._held: list[tuple[str, MarketPnl]] = []  # markets with a position, in the ledger's order
        # ``event_costs`` for this ledger, at this (ledger version, listing version).
        self._costs_ledger: Ledger | None = None
        self._costs_for: tuple[int, int | None] = (-1, None)
        self._costs: dict[str, Money] = {}
        # Inside ``steady``: equity figures already computed, by name.
        self._steady: dict[str, Money] | None = None

    @contextmanager
    def steady(self) -> Iterator[None]:
        """While one batch's changed markets are evaluated one after another nothing that values the
        account moves (books, ledger, results): equity, exit equity and open value are computed once for
        the batch instead of two or three times per market, each a walk of every open position."""
        self._steady = {}
        try:
            yield
        finally:
            self._steady = None

    @staticmethod
    def _kept(steady: dict[str, Money], name: str, compute: Callable[[], Money]) -> Money:
        value = steady.get(name)
        if value is None:
            value = steady[name] = compute()
        return value

    def _ledger_figures(self) -> tuple[int, list[tuple[str, MarketPnl]]]:
        ledger = self.portfolio.ledger
        if ledger is not self._ledger or ledger.version != self._version:
            self._ledger, self._version = ledger, ledger.version
            self._booked = ledger.total_realized() - ledger.total_fees()
            self._held = [(t, m) for t, m in ledger.markets.items() if m.position]
        return self._booked, self._held

    @property
    def ledger(self) -> Ledger:
        return self.portfolio.ledger

    def position(self, ticker: str) -> Count:
        return self.portfolio.position(ticker)

    def position_cost(self, ticker: str) -> Money:
        return self.portfolio.position_cost(ticker)

    def event_costs(
        self, instruments: Mapping[str, Instrument], listing_version: int | None = None
    ) -> dict[str, Money]:
        """Per listed market, the cost held on the other strikes of its event (one Kelly stake per
        event: ``DecisionContext.event_cost_elsewhere``). With ``listing_version`` (the caller's count of
        changes to ``instruments``) the answer is kept until the ledger or the listing changes: it is
        asked on every evaluation and walks every listed market. Read it, never change it."""
        _, held = self._ledger_figures()
        if not held:
            return {}
        if (
            listing_version is not None
            and self._costs_ledger is self._ledger
            and self._costs_for == (self._version, listing_version)
        ):
            return self._costs
        costs = self._event_costs(held, instruments)
        self._costs_ledger, self._costs_for, self._costs = (
            self._ledger,
            (self._version, listing_version),
            costs,
        )
        return costs

    def _event_costs(
        self, held: list[tuple[str, MarketPnl]], instruments: Mapping[str, Instrument]
    ) -> dict[str, Money]:
        by_event: dict[str, int] = {}
        for ticker, pnl in held:
            instrument = instruments.get(ticker)
            if instrument is not None:
                by_event[instrument.event_ticker] = by_event.get(instrument.event_ticker, 0) + pnl.cost
        return {
            t: Money(by_event.get(i.event_ticker, 0) - self.portfolio.position_cost(t))
            for t, i in instruments.items()
            if by_event.get(i.event_ticker)
        }

    def set_anchor_from_balance(self, balance: Money) -> None:
        self.anchor = self.implied_anchor(balance)

    def implied_anchor(self, balance: Money) -> int:
        """The anchor that makes equity agree with ``balance`` (cash) given the ledger."""
        ledger = self.portfolio.ledger
        cost = sum(m.cost for m in ledger.markets.values())
        return balance + cost - (ledger.total_realized() - ledger.total_fees())

    def settled_mark(self, ticker: str) -> int | None:
        """The YES price a determined market pays out at (1 or 0), None while undetermined."""
        result = self.results.get(ticker)
        if result in ("yes", "no"):
            return PRICE_SCALE if result == "yes" else 0
        return None

    def mark(self, ticker: str) -> int | None:
        """The YES mid a position is valued at: the payout once determined, else the last two-sided mid."""
        settled = self.settled_mark(ticker)
        if settled is not None:
            return settled
        book = self.books.get(ticker)
        if book is not None and not book.stale:
            bid, ask = book.best_yes_bid(), book.yes_ask()
            if bid is not None and ask is not None:
                self._marks[ticker] = (bid + ask) // 2
        return self._marks.get(ticker)

    def forget(self, ticker: str) -> bool:
        """Drop the market's last marks once its result is known (the result values it from then on);
        False while it is not, as a position in it may still need them."""
        if self.settled_mark(ticker) is None:
            return False
        self._marks.pop(ticker, None)
        self._liquidation_marks.pop((ticker, True), None)
        self._liquidation_marks.pop((ticker, False), None)
        return True

    def exit_mark(self, ticker: str, position: int) -> int | None:
        """The YES price that values a position at what selling it now would fetch (bid side)."""
        settled = self.settled_mark(ticker)
        if settled is not None:
            return settled
        book = self.books.get(ticker)
        if book is None or book.stale:
            return self._marks.get(ticker)
        # Long YES sells at the YES bid; long NO sells at the NO bid = 1 - YES ask.
        return book.best_yes_bid() if position > 0 else book.yes_ask()

    def liquidation_mark(self, ticker: str, position: int) -> int:
        """The YES price a position could be sold at now: the YES bid for a long YES, the YES ask (NO bid
        = 1 - YES ask) for a long NO. An empty side values the long at zero; a stale book keeps the last
        price seen (the book is resyncing, not gone)."""
        settled = self.settled_mark(ticker)
        if settled is not None:
            return settled
        long_yes = position > 0
        worthless = 0 if long_yes else PRICE_SCALE
        book = self.books.get(ticker)
        if book is None or book.stale:
            return self._liquidation_marks.get((ticker, long_yes), worthless)
        price = book.best_yes_bid() if long_yes else book.yes_ask()
        mark = worthless if price is None else price
        self._liquidation_marks[(ticker, long_yes)] = mark
        return mark

    def exit_equity(self) -> Money:
        """Equity with every open position marked at its liquidation price, after the exit's taker fee:
        what the breakers measure under ``[risk] loss_basis = "marked"``."""
        steady = self._steady
        return self._exit_equity() if steady is None else self._kept(steady, "exit_equity", self._exit_equity)

    def _exit_equity(self) -> Money:
        booked, held = self._ledger_figures()
        unrealized = 0
        for ticker, m in held:
            mark = self.liquidation_mark(ticker, m.position)
            unrealized += m.unrealized(mark)
            if self.settled_mark(ticker) is None:
                unrealized -= self.fees(ticker).fee(mark, abs(m.position), True)
        return Money(self.anchor + booked + unrealized)

    def equity(self) -> Money:
        steady = self._steady
        return self._equity() if steady is None else self._kept(steady, "equity", self._equity)

    def _equity(self) -> Money:
        booked, held = self._ledger_figures()
        unrealized = 0
        for ticker, m in held:
            mark = self.mark(ticker)
            # Without any mark, value the position at cost (no gain, no loss) rather than guess.
            unrealized += m.unrealized(mark) if mark is not None else 0
        return Money(self.anchor + booked + unrealized)

    def open_value(self) -> Money:
        """What the open positions are worth at their marks (at cost where there is no mark yet)."""
        steady = self._steady
        return self._open_value() if steady is None else self._kept(steady, "open_value", self._open_value)

    def _open_value(self) -> Money:
        total = 0
        for ticker, m in self._ledger_figures()[1]:
            mark = self.mark(ticker)
            total += m.cost if mark is None else m.unrealized(mark) + m.cost
        return Money(total)

    def unrealized(self) -> tuple[Money, Money]:
        """Unrealized P&L of open positions at mid and at exit prices."""
        at_mid = at_exit = 0
        for ticker, m in self._ledger_figures()[1]:
            mid, exit_ = self.mark(ticker), self.exit_mark(ticker, m.position)
            at_mid += m.unrealized(mid) if mid is not None else 0
            at_exit += m.unrealized(exit_) if exit_ is not None else 0
        return Money(at_mid), Money(at_exit)
