from __future__ import annotations

from decimal import Decimal

import pytest

from kxbtc.book.orderbook import OrderBook
from kxbtc.clock import NS_PER_S
from kxbtc.config import StrategyConfig
from kxbtc.strategy.base import ContractView, DecisionContext, MarketState, OracleView
from kxbtc.strategy.book_glitch import BookGlitch
from kxbtc.strategy.fair_value_edge import FairValueEdge
from kxbtc.strategy.settlement_window import SettlementWindow
from kxbtc.strategy.signals import imbalance_signal
from kxbtc.units import Count, Money

NOW = 1_800_000_000 * NS_PER_S
SPOT = 100_000.0
DOLLAR_VOL = SPOT * 0.5 / (365 * 24 * 3600) ** 0.5  # 50% annual log vol in $ per sqrt(s)


def _book(ticker: str, yes: list[tuple[int, int]], no: list[tuple[int, int]]) -> OrderBook:
    book = OrderBook(ticker)
    book.apply_snapshot(yes, no, no_in_yes_prices=False)
    return book


def _market(ticker: str, strike: float, book: OrderBook, *, close_in_s: float = 600, event: str = "E",
            strike_type: str = "greater_or_equal") -> MarketState:  # fmt: skip
    contract = ContractView(ticker, event, "KXBTC15M", strike_type, strike, None, NOW - 300 * NS_PER_S,
                            NOW + int(close_in_s * NS_PER_S))  # fmt: skip
    return MarketState(contract, book, Count(0))


ORACLE = OracleView(SPOT, DOLLAR_VOL, NOW)
CTX = DecisionContext(NOW, Money(1_000_000_000))


def test_fair_value_buys_yes_when_the_model_beats_the_ask_after_fees() -> None:
    # Spot $300 above the strike with 10 minutes left: P(YES) is far above 0.55.
    book = _book("M", yes=[(5000, 5000)], no=[(4500, 5000)])  # YES ask 0.55
    [decision] = FairValueEdge(StrategyConfig()).on_book(_market("M", SPOT - 300, book), ORACLE, CTX)
    assert decision.intent.side == "bid" and decision.intent.price == 5500
    assert 0 < decision.intent.count <= 5000
    assert "edge" in decision.intent.reason


def test_fair_value_buys_no_as_a_yes_ask_and_stays_out_without_edge() -> None:
    book = _book("M", yes=[(4500, 5000)], no=[(5000, 5000)])  # NO ask 0.55, i.e. ask YES at 0.45
    [decision] = FairValueEdge(StrategyConfig()).on_book(_market("M", SPOT + 300, book), ORACLE, CTX)
    assert decision.intent.side == "ask" and decision.intent.price == 4500
    fair = _book("M", yes=[(4900, 5000)], no=[(4900, 5000)])  # 0.51 asks around a 50/50 market
    assert FairValueEdge(StrategyConfig()).on_book(_market("M", SPOT, fair), ORACLE, CTX) == []


def test_ladder_glitch_buys_low_yes_and_high_no() -> None:
    low = _book("L", yes=[(5000, 1000)], no=[(4000, 1000)])  # YES ask at K1: 0.60
    high = _book("H", yes=[(6500, 1000)], no=[(3000, 1000)])  # YES bid at K2 > K1: 0.65
    markets = [_market("L", SPOT - 100, low, strike_type="greater"),
               _market("H", SPOT + 100, high, strike_type="greater")]  # fmt: skip
    legs = BookGlitch(StrategyConfig(min_edge=Decimal("0.01"))).on_timer(markets, ORACLE, CTX)
    assert [(d.intent.ticker, d.intent.side, d.intent.price) for d in legs] == [
        ("L", "bid", 6000),
        ("H", "ask", 6500),
    ]
    assert all(d.intent.time_in_force == "fill_or_kill" for d in legs)


def test_imbalance_signal_thresholds() -> None:
    assert imbalance_signal(_book("M", [(5000, 900)], [(4900, 100)]), 1, 0.7) > 0
    assert imbalance_signal(_book("M", [(5000, 100)], [(4900, 900)]), 1, 0.7) < 0
    assert imbalance_signal(_book("M", [(5000, 500)], [(4900, 500)]), 1, 0.7) == 0


def test_settlement_window_is_inert_under_the_default_freeze() -> None:
    book = _book("M", yes=[(5000, 5000)], no=[(4500, 5000)])
    market = _market("M", SPOT - 300, book, close_in_s=40)
    assert SettlementWindow(StrategyConfig()).on_book(market, ORACLE, CTX) == []
    short_freeze = DecisionContext(NOW, Money(1_000_000_000), final_freeze_s=10)
    assert SettlementWindow(StrategyConfig()).on_book(market, ORACLE, short_freeze)


def test_repeated_signals_never_take_the_position_past_the_kelly_size_of_the_current_edge() -> None:
    """Fractional Kelly sizes the whole position: the same edge seen again and again buys only what is
    missing from the Kelly size, then nothing; a smaller edge later buys nothing more."""
    strategy = FairValueEdge(StrategyConfig(max_contracts=Decimal(10_000)))
    deep = _book("M", yes=[(5000, 1_000_000)], no=[(4500, 1_000_000)])  # YES ask 0.55, 10,000 deep
    position = 0
    kelly_sizes = []
    for _ in range(25):  # every book update repeats the signal; each decision fills in full
        market = MarketState(_market("M", SPOT - 150, deep).contract, deep, Count(position))
        decisions = strategy.on_book(market, ORACLE, CTX)
        if not decisions:
            break
        [decision] = decisions
        kelly = int(decision.inputs["kelly_count"] or 0)
        kelly_sizes.append(kelly)
        position += decision.intent.count
        assert position <= kelly, "an order took the position past the Kelly size of the edge"
    assert kelly_sizes and position == kelly_sizes[-1]  # it reached the Kelly size and stopped
    # The same market once the edge has shrunk: the Kelly size is now below what is held, so nothing.
    closer = MarketState(_market("M", SPOT - 20, deep).contract, deep, Count(position))
    assert strategy.on_book(closer, ORACLE, CTX) == []


def test_the_strikes_of_one_event_share_one_kelly_stake() -> None:
    """On an hourly ladder the stake is for the event: what the other strikes already hold is taken off
    the bankroll before this strike is sized, so two strikes together never stake more than one would."""
    strategy = FairValueEdge(StrategyConfig(max_contracts=Decimal(100_000)))
    deep = _book("K1", yes=[(5000, 10_000_000)], no=[(4500, 10_000_000)])
    market = _market("K1", SPOT - 150, deep, event="EV")
    [alone] = strategy.on_book(market, ORACLE, CTX)
    # The same strike when $400 of the bankroll already sits on another strike of the event.
    shared = DecisionContext(NOW, Money(1_000_000_000), event_cost_elsewhere={"K1": Money(400_000_000)})
    [beside] = strategy.on_book(market, ORACLE, shared)
    assert 0 < beside.intent.count < alone.intent.count
    assert beside.intent.count == pytest.approx(alone.intent.count * 0.6, rel=0.02)
