"""Memory over a long run (issue 15): what the core keeps per order and per fill goes a while after its
market is forgotten, and nothing it decides or books changes for that. A fill replayed after the pruning
(the reconciler's overlap, a restart's full re-read) is found in the store and still counted once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from kxbtc.clock import NS_PER_S, ManualClock
from kxbtc.config import Config
from kxbtc.core.account import Account
from kxbtc.core.books import BookSet
from kxbtc.core.forgotten import PRUNE_AFTER_S, ForgottenMarkets
from kxbtc.core.trading_core import TradingCore
from kxbtc.domain.events import FillEvent, MarketDetermined, MarketListed
from kxbtc.domain.instrument import Instrument
from kxbtc.domain.orders import Fill
from kxbtc.kalshi.reconcile import Reconciler
from kxbtc.kalshi.rest_messages import Balance, PositionsPage
from kxbtc.kalshi.rest_messages import Fill as WireFill
from kxbtc.portfolio import Portfolio
from kxbtc.risk.resting import RestingBook, RestingOrder
from kxbtc.store.db import SqliteStore
from kxbtc.store.records import FillRecord, OrderRecord, SettlementRecord
from kxbtc.units import Count, Money, Price

NOW = 1_780_315_200 * NS_PER_S


def _fill(fill_id: str, order_id: str = "O1", ticker: str = "K1") -> FillRecord:
    return FillRecord(fill_id, order_id, ticker, "bid", Price(4000), Count(100), Money(7000), True, NOW)


def _order(client_id: str, order_id: str, ticker: str = "K1", strategy: str = "fair_value") -> OrderRecord:
    return OrderRecord(
        client_id,
        ticker,
        "bid",
        Price(4000),
        Count(100),
        "fill_or_kill",
        "executed",
        NOW,
        NOW,
        strategy,
        order_id,
    )


def test_forgotten_markets_are_pruned_when_due_and_retried_when_not_ready() -> None:
    pruned: list[str] = []
    ready = {"A": True, "B": False}
    forgotten = ForgottenMarkets(lambda t: pruned.append(t) or ready[t], after_s=60)
    forgotten.add("A", NOW)
    forgotten.add("B", NOW + NS_PER_S)
    forgotten.run(NOW + 59 * NS_PER_S)
    assert pruned == [] and len(forgotten) == 2
    forgotten.run(NOW + 61 * NS_PER_S)
    assert pruned == ["A", "B"] and len(forgotten) == 1  # B is not ready: back in the queue for later
    ready["B"] = True
    forgotten.run(NOW + 121 * NS_PER_S)
    assert pruned == ["A", "B", "B"] and len(forgotten) == 0


def test_a_forgotten_markets_fills_are_dropped_from_memory_and_still_counted_once(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "p.db")
    store.record_order(_order("c1", "O1"))
    portfolio = Portfolio(store)
    portfolio.note_order("O1", "K1", "fair_value")
    portfolio.note_order("O2", "K2", "book_glitch")
    assert portfolio.add_fill(_fill("F1"))
    assert portfolio.add_fill(_fill("F2", "O2", "K2"))
    portfolio.forget("K1")
    assert portfolio.fill_ids == {"F2"} and portfolio.strategy_by_order == {"O2": "book_glitch"}
    position = portfolio.position("K1")
    # The same fill again (a reconciler's overlap): known from the store, not booked twice.
    assert not portfolio.add_fill(_fill("F1"))
    assert portfolio.position("K1") == position and portfolio.fill_count == 2
    # A fill of its order not seen before is booked, attributed from the store's order.
    assert portfolio.strategy_of("O1", "K1") == "fair_value"
    assert portfolio.add_fill(_fill("F3"))
    store.flush()
    assert {f.fill_id: f.strategy for f in store.fills("K1")} == {"F1": "fair_value", "F3": "fair_value"}
    assert portfolio.fill_count == 3
    # Settled, then its fills replayed: known, not "a fill after its settlement".
    settlement = SettlementRecord(
        "K1", "EV", "yes", Count(200), Count(0), Money(0), Money(0), Money(0), Money(0), NOW
    )
    assert portfolio.add_settlement(settlement)
    portfolio.forget("K1")
    assert not portfolio.add_fill(_fill("F1")) and not portfolio.add_fill(_fill("F3"))
    store.close()


class _Rest:
    """What the reconciler reads: the exchange's fills (all of them, as a pass reading its overlap sees
    them again), and an account with nothing else to repair."""

    def __init__(self, fills: list[WireFill]) -> None:
        self.fills = fills

    async def iter_fills(self, min_ts: int | None = None) -> AsyncIterator[WireFill]:
        for fill in self.fills:
            yield fill

    async def get_balance(self) -> Balance:
        return Balance(balance=100_000)

    async def iter_settlements(self) -> AsyncIterator[Any]:
        for settlement in ():
            yield settlement

    async def get_positions(self, cursor: str | None = None, limit: int = 1000) -> PositionsPage:
        return PositionsPage(market_positions=[])


async def test_the_reconciler_replaying_a_pruned_markets_fills_does_not_double_them(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "r.db")
    portfolio = Portfolio(store)
    assert portfolio.add_fill(_fill("F1"))
    portfolio.forget("K1")
    wire = WireFill(
        fill_id="F1",
        order_id="O1",
        ticker="K1",
        count_fp="1.00",
        yes_price_dollars="0.4000",
        no_price_dollars="0.6000",
        is_taker=True,
        fee_cost="0.0070",
        book_side="bid",
        ts=NOW // NS_PER_S,
    )
    reconciler = Reconciler(_Rest([wire]), portfolio, store, ManualClock(NOW))  # type: ignore[arg-type]
    report = await reconciler.run_once()
    store.flush()
    assert report.fills_added == 0
    assert [f.fill_id for f in store.fills()] == ["F1"] and portfolio.position("K1") == 100
    store.close()


def test_finished_orders_of_a_forgotten_market_are_dropped() -> None:
    book = RestingBook()
    book.update(RestingOrder("O1", "K1", "bid", Price(4000), Count(100)), "canceled")
    book.update(RestingOrder("O2", "K2", "bid", Price(4000), Count(100)), "canceled")
    book.forget("K1")
    assert book._finished == {"O2": "K2"}
    # K2's cancelled order still cannot come back with a late acknowledgement.
    book.update(RestingOrder("O2", "K2", "bid", Price(4000), Count(100)), "resting")
    assert "O2" not in book


def test_marks_stay_until_the_markets_result_is_known(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "a.db")
    account = Account(Portfolio(store), BookSet())
    account._marks["K1"] = 4000
    account._liquidation_marks[("K1", True)] = 3900
    assert not account.forget("K1")  # a position in it is still valued at them
    assert account.mark("K1") == 4000
    account.results["K1"] = "yes"
    assert account.forget("K1")
    assert "K1" not in account._marks and not account._liquidation_marks
    store.close()


def _instrument(ticker: str) -> Instrument:
    return Instrument(
        ticker, "EV", "KXBTCD", "greater", 100_000.0, None, NOW - 600 * NS_PER_S, NOW + 60 * NS_PER_S
    )


def test_the_core_prunes_a_market_a_while_after_forgetting_it(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "core.db")
    clock = ManualClock(NOW)
    core = TradingCore(Config(), clock=clock, store=store, run_id="t", strategies=[])
    listed: list[str] = []
    core.listing_hooks.append(listed.append)
    for ticker in ("K1", "K2"):
        core.handle(MarketListed(_instrument(ticker), NOW))
        core.handle(MarketListed(_instrument(ticker), NOW))  # discovery lists it again: counted once
        core.portfolio.note_order(f"O-{ticker}", ticker, "fair_value")
        fill = Fill(
            f"F-{ticker}", f"O-{ticker}", ticker, "bid", Price(4000), Count(100), Money(7000), True, NOW
        )
        core.handle(FillEvent(fill))
        core.orders.resting.update(
            RestingOrder(f"O-{ticker}", ticker, "bid", Price(4000), Count(0)), "executed"
        )
        core.account._marks[ticker] = 4000
    assert listed == ["K1", "K2"] and core.stats.markets_listed == 2
    core.forget_market("K1")
    clock.advance(PRUNE_AFTER_S - 1)
    core.on_timer()
    assert "F-K1" in core.portfolio.fill_ids  # the reconciler's re-reads still find it in memory
    clock.advance(2)
    core.on_timer()
    assert core.portfolio.fill_ids == {"F-K2"}
    assert set(core.portfolio.strategy_by_order) == {"O-K2"}
    assert set(core.orders.resting._finished) == {"O-K2"}
    assert "K1" in core.account._marks  # its result is not known yet: a position in it is valued at it
    core.handle(MarketDetermined("K1", "no", clock.time_ns()))
    clock.advance(PRUNE_AFTER_S + 1)
    core.on_timer()
    assert set(core.account._marks) == {"K2"}
    assert len(core.forgotten) == 0
    # The fill, seen again: still booked once.
    fill = Fill("F-K1", "O-K1", "K1", "bid", Price(4000), Count(100), Money(7000), True, NOW)
    assert not core.on_fill(fill)
    assert core.portfolio.position("K1") == 100 and core.portfolio.fill_count == 2
    store.close()
