"""Equity is cached between ledger changes (it is read on every evaluation) and never stale after one."""

from __future__ import annotations

from pathlib import Path

from kxbtc.core.account import Account
from kxbtc.core.books import BookSet
from kxbtc.portfolio import Portfolio
from kxbtc.store.db import SqliteStore
from kxbtc.store.records import FillRecord, SettlementRecord
from kxbtc.units import Count, Money, Price


def fill(fill_id: str, ticker: str, price: int, count: int, fee: int = 0) -> FillRecord:
    return FillRecord(fill_id, "o-" + fill_id, ticker, "bid", Price(price), Count(count), Money(fee), True, 1)


def test_equity_follows_every_fill_and_settlement(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "k.db")
    portfolio = Portfolio(store)
    account = Account(portfolio, BookSet())
    account.anchor = 1_000_000_000  # $1,000 in 1e-6 $
    assert account.equity() == 1_000_000_000
    # 10 YES at 40c, fee 7c: no mark yet, so valued at cost; equity falls by the fee only.
    portfolio.add_fill(fill("f1", "A", 4000, 1000, 70_000))
    assert account.equity() == 1_000_000_000 - 70_000
    assert account.open_value() == 4_000_000
    # Settled YES: 10 x $1 paid against $4 of cost.
    portfolio.add_settlement(
        SettlementRecord("A", "E", "yes", Count(1000), Count(0), Money(0), Money(0), Money(0), Money(0), 2)
    )
    assert account.equity() == 1_000_000_000 - 70_000 + 6_000_000
    assert account.open_value() == 0
    # Hundreds of settled markets in the ledger do not change what an open one is worth.
    for i in range(300):
        portfolio.add_fill(fill(f"g{i}", f"M{i}", 5000, 100))
        portfolio.add_settlement(
            SettlementRecord(
                f"M{i}", "E2", "no", Count(0), Count(0), Money(0), Money(0), Money(0), Money(0), 3
            )
        )
    portfolio.add_fill(fill("h", "B", 2000, 100))
    assert account.open_value() == 200_000
    store.close()
