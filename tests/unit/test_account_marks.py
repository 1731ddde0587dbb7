"""Exit equity: what the risk breakers measure under ``loss_basis = "marked"``."""

from __future__ import annotations

from pathlib import Path

from kxbtc.book.orderbook import OrderBook
from kxbtc.core.account import Account
from kxbtc.core.books import BookSet
from kxbtc.portfolio import Portfolio
from kxbtc.pricing.fees import kalshi_taker_fee
from kxbtc.store.db import SqliteStore
from kxbtc.units import Count

DOLLAR = 1_000_000


class _Books(BookSet):
    def __init__(self, books: dict[str, OrderBook]) -> None:
        super().__init__()
        self.books = books

    def get(self, ticker: str) -> OrderBook | None:
        return self.books.get(ticker)


def _book(ticker: str, yes: list[tuple[int, int]], no: list[tuple[int, int]]) -> OrderBook:
    book = OrderBook(ticker)
    book.apply_snapshot(yes, no, no_in_yes_prices=False)
    return book


def test_positions_are_marked_at_the_price_they_could_be_sold_at_after_the_exit_fee(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "marks.db")
    portfolio = Portfolio(store)
    books = _Books(
        {
            "YES": _book("YES", yes=[(4000, 5000)], no=[(5000, 5000)]),  # YES bid 0.40, ask 0.50
            "NO": _book("NO", yes=[(3000, 5000)], no=[(6000, 5000)]),  # NO bid 0.60
            "EMPTY": _book("EMPTY", yes=[], no=[(9000, 5000)]),  # nobody bids for YES
        }
    )
    account = Account(portfolio, books)
    account.anchor = 1000 * DOLLAR
    portfolio.ledger.apply_fill("YES", "bid", 4500, 1000, 0)  # 10 YES at 0.45
    portfolio.ledger.apply_fill("NO", "ask", 3500, 1000, 0)  # 10 NO at 0.65
    portfolio.ledger.apply_fill("EMPTY", "bid", 500, 1000, 0)  # 10 YES at 0.05
    # Cash spent: 4.50 + 6.50 + 0.50 = $11.50; sale value: 10 x 0.40 + 10 x 0.60 + 0, less exit fees.
    fees = kalshi_taker_fee(4000, Count(1000)) + kalshi_taker_fee(4000, Count(1000))
    assert account.exit_equity() == 1000 * DOLLAR - 11_500_000 + 10 * DOLLAR - fees
    # Marked to mid instead, the same account looks better: the marked basis is the sterner of the two.
    assert account.equity() > account.exit_equity()
    # A book gone stale keeps its last exit price (it is resyncing, not gone).
    books.books["YES"].stale = True
    assert account.liquidation_mark("YES", 1000) == 4000
    store.close()
