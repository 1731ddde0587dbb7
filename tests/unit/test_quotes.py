"""Quote management in the trading core (``kxbtc.core.quotes``), driven with domain events only: a
quoting strategy says what it wants resting, and the core sends only what changed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kxbtc.clock import NS_PER_S, ManualClock
from kxbtc.config import Config, StrategyConfig
from kxbtc.core.commands import CancelOrders, Command, OrderRef, OutgoingOrder, PlaceOrders
from kxbtc.core.trading_core import TradingCore
from kxbtc.domain.events import AckEvent, BookDelta, BookSnapshot, IndexTick, MarketListed, OrderEvent
from kxbtc.domain.instrument import Instrument
from kxbtc.domain.orders import OrderAck, OrderIntent, OrderUpdate
from kxbtc.domain.sides import Leg
from kxbtc.store.db import SqliteStore
from kxbtc.strategy.base import Decision, DecisionContext, MarketState, OracleView, Strategy
from kxbtc.units import Count, Money, Price

NOW = 1_780_315_200 * NS_PER_S
TICKER = "KXBTC15M-Q"


class Scripted(Strategy):
    """A quoter that wants exactly ``self.wanted`` (book side -> YES price) on every evaluation."""

    name = "scripted"
    quoter = True

    def __init__(self) -> None:
        super().__init__(StrategyConfig())
        self.wanted: dict[str, int] = {}

    def on_book(self, market: MarketState, oracle: OracleView, ctx: DecisionContext) -> list[Decision]:
        return [
            Decision(
                OrderIntent(TICKER, side, Price(price), Count(500), self.name, "test", "good_till_canceled"),
                {},
            )
            for side, price in sorted(self.wanted.items())
        ]


@pytest.fixture
def core(tmp_path: Path) -> Iterator[tuple[TradingCore, Scripted]]:
    store = SqliteStore(tmp_path / "core.db")
    strategy = Scripted()
    core = TradingCore(Config(), clock=ManualClock(NOW), store=store, run_id="t", strategies=[strategy])
    core.account.anchor = Money(1_000_000_000)
    instrument = Instrument(
        TICKER, "EV", "KXBTC15M", "greater", 100_000.0, None, NOW - 60 * NS_PER_S, NOW + 600 * NS_PER_S
    )
    core.handle(MarketListed(instrument, NOW))
    core.handle(IndexTick(NOW, 100_000.0))
    yield core, strategy
    store.close()


def _book_moves(core: TradingCore, size: int = 1000) -> list[Command]:
    """A book change: the core evaluates the market (a YES bid of ``size`` at 0.40, a NO bid at 0.50)."""
    return core.handle(
        BookSnapshot(TICKER, ((Price(4000), Count(size)),), ((Price(5000), Count(1000)),), NOW)
    )


def _placed(commands: list[Command]) -> list[tuple[str, int]]:
    return [
        (o.order.intent.side, o.order.intent.price)
        for c in commands
        if isinstance(c, PlaceOrders)
        for o in c.orders
    ]


def _cancelled(commands: list[Command]) -> list[str]:
    return [oid for c in commands if isinstance(c, CancelOrders) for oid in c.order_ids]


def _rest_all(core: TradingCore, commands: list[Command]) -> None:
    """The venue answers every order placed: resting in full, order id ``o-<client id>``."""
    acks = tuple(
        OrderAck(o.client_order_id, TICKER, f"o-{o.client_order_id}", "resting", Count(0), o.order.count)
        for c in commands
        if isinstance(c, PlaceOrders)
        for o in c.orders
    )
    core.handle(AckEvent(acks, NOW))


def test_the_same_quotes_again_send_nothing(core: tuple[TradingCore, Scripted]) -> None:
    trading, strategy = core
    strategy.wanted = {"bid": 4100, "ask": 4900}
    first = _book_moves(trading)
    assert _placed(first) == [("ask", 4900), ("bid", 4100)]
    _rest_all(trading, first)
    assert len(trading.orders.resting) == 2  # both count in the risk budget
    again = _book_moves(trading, size=1200)
    assert again == []  # the same prices: nothing sent, the quotes keep their place in the queue


def test_a_new_price_cancels_the_old_quote_then_places_the_new(core: tuple[TradingCore, Scripted]) -> None:
    trading, strategy = core
    strategy.wanted = {"bid": 4100, "ask": 4900}
    first = _book_moves(trading)
    _rest_all(trading, first)
    bid_id = next(f"o-{o.client_order_id}" for o in _orders(first) if o.order.intent.side == "bid")
    strategy.wanted = {"bid": 4200, "ask": 4900}
    moved = _book_moves(trading, size=1200)
    assert [type(c) for c in moved] == [CancelOrders, PlaceOrders]  # the cancel goes first
    [cancel] = [c for c in moved if isinstance(c, CancelOrders)]
    assert cancel.orders[0] == OrderRef(bid_id, TICKER, bid_id.removeprefix("o-"))
    assert _placed(moved) == [("bid", 4200)]  # the ask is untouched


def test_a_side_no_longer_wanted_is_cancelled_and_its_update_frees_it(
    core: tuple[TradingCore, Scripted],
) -> None:
    trading, strategy = core
    strategy.wanted = {"bid": 4100, "ask": 4900}
    first = _book_moves(trading)
    _rest_all(trading, first)
    ask = next(o for o in _orders(first) if o.order.intent.side == "ask")
    strategy.wanted = {"bid": 4100}
    dropped = _book_moves(trading, size=1200)
    assert _cancelled(dropped) == [f"o-{ask.client_order_id}"] and _placed(dropped) == []
    # The venue confirms: the order leaves the risk budget.
    trading.handle(
        OrderEvent(
            OrderUpdate(
                f"o-{ask.client_order_id}",
                ask.client_order_id,
                TICKER,
                "ask",
                Price(4900),
                "canceled",
                Count(0),
                Count(0),
                NOW,
            )
        )
    )
    assert len(trading.orders.resting) == 1
    assert _book_moves(trading, size=900) == []  # nothing more to cancel, nothing new to place


def test_an_unanswered_quote_is_neither_cancelled_nor_doubled(core: tuple[TradingCore, Scripted]) -> None:
    trading, strategy = core
    strategy.wanted = {"bid": 4100}
    first = _book_moves(trading)
    assert _placed(first) == [("bid", 4100)]
    strategy.wanted = {"bid": 4200}
    # The market takes no new order until the first is answered; on the timer the quoter is asked anyway.
    trading.clock.set_ns(NOW + NS_PER_S)  # type: ignore[attr-defined]
    assert trading.handle(BookDelta(TICKER, Leg.YES, Price(4000), Count(100), NOW)) == []
    _rest_all(trading, first)  # answered: now the move goes out
    moved = _book_moves(trading, size=1200)
    assert len(_cancelled(moved)) == 1 and _placed(moved) == [("bid", 4200)]


def test_a_quote_filled_in_full_frees_its_side(core: tuple[TradingCore, Scripted]) -> None:
    trading, strategy = core
    strategy.wanted = {"bid": 4100}
    first = _book_moves(trading)
    [out] = _orders(first)
    _rest_all(trading, first)
    trading.handle(
        OrderEvent(
            OrderUpdate(
                f"o-{out.client_order_id}",
                out.client_order_id,
                TICKER,
                "bid",
                Price(4100),
                "executed",
                Count(500),
                Count(0),
                NOW,
            )
        )
    )
    again = _book_moves(trading, size=1200)
    assert _cancelled(again) == [] and _placed(again) == [("bid", 4100)]  # a fresh quote, nothing to cancel


def _orders(commands: list[Command]) -> list[OutgoingOrder]:
    return [o for c in commands if isinstance(c, PlaceOrders) for o in c.orders]
