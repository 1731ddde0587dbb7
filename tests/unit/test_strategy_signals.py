"""Signals as declared inputs: a strategy names the signals it needs, the core computes exactly those, with
that strategy's settings, for the markets it decides on, and hands them over in ``ctx.signals``.

The toy strategy here is registered the way any strategy is (an entry in the registry, its signal an
entry among the providers) and driven through ``TradingCore.handle`` with domain events only.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from kxbtc.book.orderbook import OrderBook
from kxbtc.clock import NS_PER_S, ManualClock
from kxbtc.config import Config, StrategyConfig
from kxbtc.core.commands import PlaceOrders
from kxbtc.core.trading_core import TradingCore
from kxbtc.domain.events import BookSnapshot, IndexTick, MarketListed, Timer
from kxbtc.domain.instrument import Instrument
from kxbtc.domain.orders import OrderIntent
from kxbtc.store.db import SqliteStore
from kxbtc.strategy.base import Decision, DecisionContext, MarketState, OracleView, Strategy
from kxbtc.strategy.imbalance import ImbalanceMomentum
from kxbtc.strategy.registry import REGISTRY
from kxbtc.strategy.signals import IMBALANCE_DRIFT, PROVIDERS, imbalance_drift
from kxbtc.units import Count, Money, Price

NOW = 1_800_000_000 * NS_PER_S
SPOT = 100_000.0


class ToySettings(StrategyConfig):
    toy_scale: float = 1.0


def best_bid_signal(book: OrderBook, oracle: OracleView, config: StrategyConfig) -> float:
    """The toy signal: the best YES bid, scaled by the declaring strategy's own setting."""
    assert isinstance(config, ToySettings)
    return (book.best_yes_bid() or 0) * config.toy_scale


class Toy(Strategy[ToySettings]):
    """Records the signals it is given; on the timer, buys one contract where the signal is highest."""

    name = "toy"
    config_model = ToySettings
    signals = ("best_bid",)

    def __init__(self, config: ToySettings) -> None:
        super().__init__(config)
        self.seen: list[tuple[str, dict[str, dict[str, float]]]] = []

    def on_book(self, market: MarketState, oracle: OracleView, ctx: DecisionContext) -> list[Decision]:
        self.seen.append(("book", ctx.signals))
        return []

    def on_timer(
        self, markets: Sequence[MarketState], oracle: OracleView, ctx: DecisionContext
    ) -> list[Decision]:
        self.seen.append(("timer", ctx.signals))
        best = max(markets, key=lambda m: ctx.signal("best_bid", m.contract.ticker))
        ask = best.book.yes_ask()
        assert ask is not None
        intent = OrderIntent(
            best.contract.ticker, "bid", Price(ask), Count(100), self.name, "toy", "fill_or_kill"
        )
        return [Decision(intent, {"best_bid": ctx.signal("best_bid", best.contract.ticker)})]


class Quiet(Strategy):
    """Declares no signal: it must be given none."""

    name = "quiet"

    def __init__(self, config: StrategyConfig) -> None:
        super().__init__(config)
        self.seen: list[dict[str, dict[str, float]]] = []

    def on_book(self, market: MarketState, oracle: OracleView, ctx: DecisionContext) -> list[Decision]:
        self.seen.append(ctx.signals)
        return []


@pytest.fixture(autouse=True)
def _registered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(REGISTRY, Toy.name, Toy)
    monkeypatch.setitem(REGISTRY, Quiet.name, Quiet)
    monkeypatch.setitem(PROVIDERS, "best_bid", best_bid_signal)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    store = SqliteStore(tmp_path / "core.db")
    yield store
    store.close()


def _instrument(ticker: str) -> Instrument:
    return Instrument(ticker, "E", "KXBTC15M", "greater_or_equal", SPOT - 300, None, NOW - 300 * NS_PER_S,
                      NOW + 600 * NS_PER_S)  # fmt: skip


def _core(store: SqliteStore, strategies: dict[str, object]) -> TradingCore:
    config = Config.model_validate({"strategies": strategies})
    core = TradingCore(config, clock=ManualClock(NOW), store=store, run_id="signals")
    core.account.set_anchor_from_balance(Money(1_000_000_000))  # $1,000 on the venue
    return core


def test_a_registered_toy_strategy_gets_its_declared_signal_from_the_core(store: SqliteStore) -> None:
    core = _core(store, {"toy": {"toy_scale": 2.0}, "quiet": {}})
    toy, quiet = core.strategies
    assert isinstance(toy, Toy) and isinstance(quiet, Quiet)
    core.handle(IndexTick(NOW, SPOT))
    for ticker in ("A", "B"):
        core.handle(MarketListed(_instrument(ticker), NOW))

    # A book change: the signal for that market only, computed with the toy's own setting.
    core.handle(BookSnapshot("A", ((4000, 10_000),), ((5000, 10_000),), NOW))
    core.handle(BookSnapshot("B", ((4200, 10_000),), ((5000, 10_000),), NOW))
    assert toy.seen == [("book", {"best_bid": {"A": 8000.0}}), ("book", {"best_bid": {"B": 8400.0}})]
    assert quiet.seen == [{}, {}]

    # The timer: the signal for every open market, and the toy's decision goes through the gate.
    commands = core.handle(Timer(NOW + NS_PER_S))
    assert toy.seen[-1] == ("timer", {"best_bid": {"A": 8000.0, "B": 8400.0}})
    [place] = [c for c in commands if isinstance(c, PlaceOrders)]
    [order] = place.orders
    assert (order.order.intent.ticker, order.order.intent.strategy) == ("B", "toy")


def test_the_imbalance_strategy_trades_on_the_timer_with_the_drift_the_core_computes(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Formerly a special case in the core: now the imbalance strategy's own ``on_timer``, fed its
    declared ``imbalance_drift``."""
    core = _core(store, {"imbalance": {"imbalance_levels": 1}})
    core.observe_only = True  # every decision is counted and recorded, nothing is sent
    [strategy] = core.strategies
    timer_calls: list[tuple[DecisionContext, list[Decision]]] = []

    def spy(markets: Sequence[MarketState], oracle: OracleView, ctx: DecisionContext) -> list[Decision]:
        decisions = ImbalanceMomentum.on_timer(strategy, markets, oracle, ctx)
        timer_calls.append((ctx, decisions))
        return decisions

    monkeypatch.setattr(strategy, "on_timer", spy)
    core.handle(IndexTick(NOW, SPOT))
    core.handle(MarketListed(_instrument("A"), NOW))
    # YES bids far outweigh NO bids (imbalance 0.9), and the model's edge on the YES ask is large.
    core.handle(BookSnapshot("A", ((4000, 90_000),), ((4500, 10_000),), NOW))
    assert core.stats.observed == 1  # on the book change
    core.handle(Timer(NOW))
    assert core.stats.observed == 2  # and again on the timer

    book = core.books.get("A")
    assert book is not None
    drift = imbalance_drift(book, core.index.dollar_vol(), 1, 0.7)
    [(ctx, [decision])] = timer_calls
    assert drift > 0 and ctx.signals == {IMBALANCE_DRIFT: {"A": drift}}
    assert decision.inputs["drift"] == drift and decision.intent.side == "bid"
