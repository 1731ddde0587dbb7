"""Equity and the event costs keep ledger figures between fills (``Ledger.version``): they must still
move with every fill, settlement and mark, exactly as recomputed from the ledger."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from kxbtc.core.account import Account
from kxbtc.core.books import BookSet
from kxbtc.domain.events import BookSnapshot
from kxbtc.domain.instrument import Instrument
from kxbtc.portfolio import Portfolio
from kxbtc.risk.limits import _utc_day
from kxbtc.store.db import SqliteStore
from kxbtc.store.records import FillRecord, SettlementRecord

S = 1_000_000_000


def _fill(n: int, ticker: str, side: str, price: int, count: int) -> FillRecord:
    return FillRecord(f"f{n}", f"o{n}", ticker, side, price, count, 1_000, True, n * S)


def _recomputed(account: Account) -> int:
    ledger = account.portfolio.ledger
    unrealized = 0
    for ticker, m in ledger.markets.items():
        mark = account.mark(ticker) if m.position else None
        unrealized += m.unrealized(mark) if mark is not None else 0
    return account.anchor + ledger.total_realized() - ledger.total_fees() + unrealized


def _costs_recomputed(account: Account, instruments: dict[str, Instrument]) -> dict[str, int]:
    by_event: dict[str, int] = {}
    for ticker, pnl in account.portfolio.ledger.markets.items():
        if pnl.position and ticker in instruments:
            event = instruments[ticker].event_ticker
            by_event[event] = by_event.get(event, 0) + pnl.cost
    return {
        t: by_event.get(i.event_ticker, 0) - account.portfolio.position_cost(t)
        for t, i in instruments.items()
        if by_event.get(i.event_ticker)
    }


def _instrument(ticker: str, event: str) -> Instrument:
    return Instrument(ticker, event, "KXBTCD", "greater", 90_000.0, None, 0, 3600 * S)


def _account(store: SqliteStore, tickers: tuple[str, ...]) -> tuple[BookSet, Portfolio, Account]:
    """$100,000 of equity, no position, and a 40/50 cent book on each of ``tickers``."""
    books = BookSet()
    portfolio = Portfolio(store)
    account = Account(portfolio, books)
    account.anchor = 1_000_000_000
    for ticker in tickers:
        books.add(ticker, None)
        books.apply(BookSnapshot(ticker, ((4_000, 1_000),), ((5_000, 1_000),), 0))
    return books, portfolio, account


def test_equity_and_event_costs_follow_fills_marks_and_settlements(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "a.db")
    try:
        instruments = {t: _instrument(t, "EV") for t in ("A", "B")}
        books, portfolio, account = _account(store, tuple(instruments))
        assert account.equity() == _recomputed(account) == 1_000_000_000
        assert account.event_costs(instruments) == {}

        portfolio.add_fill(_fill(1, "A", "bid", 4_500, 1_000))
        assert account.equity() == _recomputed(account) != 1_000_000_000
        costs = account.event_costs(instruments)
        assert costs == _costs_recomputed(account, instruments) == {"A": 0, "B": portfolio.position_cost("A")}

        books.apply(BookSnapshot("A", ((6_000, 1_000),), ((3_000, 1_000),), 0))  # A's mark moves
        assert account.equity() == _recomputed(account)

        portfolio.add_fill(_fill(2, "B", "ask", 4_000, 500))
        assert account.equity() == _recomputed(account)
        assert account.event_costs(instruments) == _costs_recomputed(account, instruments)
        assert account.event_costs(instruments)["A"] == portfolio.position_cost("B") > 0

        settlement = SettlementRecord("A", "EV", "yes", 1_000, 0, 4_500_000, 0, 10_000_000, 0, 10 * S)
        portfolio.add_settlement(settlement)
        account.results["A"] = "yes"
        assert account.equity() == _recomputed(account)
        assert account.event_costs(instruments) == _costs_recomputed(account, instruments)
        assert account.event_costs(instruments) == {"A": portfolio.position_cost("B"), "B": 0}
    finally:
        store.close()


def test_the_day_name_is_right_on_both_sides_of_midnight() -> None:
    midnight = int(datetime(2026, 5, 13, tzinfo=UTC).timestamp()) * S
    for t in (midnight - S, midnight - 1, midnight, midnight + 1, midnight + 12 * 3600 * S, midnight - 1):
        assert _utc_day(t) == datetime.fromtimestamp(t / S, UTC).strftime("%Y-%m-%d")
    assert _utc_day(midnight + 3600 * S) == "2026-05-13"
    assert _utc_day(midnight - 3600 * S) == "2026-05-12"


def test_a_batch_values_the_account_once_and_forgets_it_after(tmp_path: Path) -> None:
    """Inside ``steady`` (one batch's evaluations) the figures are those of the account as it stands; once
    the batch is over, a fill or a moved book is seen at once, never the batch's kept figure."""
    store = SqliteStore(tmp_path / "a.db")
    try:
        books, portfolio, account = _account(store, ("A", "B"))
        portfolio.add_fill(_fill(1, "A", "bid", 4_500, 1_000))
        outside = (account.equity(), account.exit_equity(), account.open_value())
        with account.steady():
            assert (account.equity(), account.exit_equity(), account.open_value()) == outside
            assert (account.equity(), account.exit_equity(), account.open_value()) == outside
        books.apply(BookSnapshot("A", ((7_000, 1_000),), ((2_000, 1_000),), 0))  # A's bid and mid move up
        moved = (account.equity(), account.exit_equity(), account.open_value())
        assert all(after > before for before, after in zip(outside, moved, strict=True))
        assert account.equity() == _recomputed(account)
        with account.steady():
            assert account.equity() == moved[0]
        portfolio.add_fill(_fill(2, "B", "bid", 4_500, 1_000))
        assert account.equity() == _recomputed(account) != moved[0]
    finally:
        store.close()
