"""``passive_quote``: where it quotes, given the model's fair value, the book and the position."""

from __future__ import annotations

from decimal import Decimal

from kxbtc.book.orderbook import OrderBook
from kxbtc.clock import NS_PER_S
from kxbtc.domain.instrument import Instrument
from kxbtc.strategy.base import DecisionContext, MarketState, OracleView
from kxbtc.strategy.passive_quote import PassiveQuote, PassiveQuoteConfig
from kxbtc.strategy.registry import REGISTRY
from kxbtc.units import Count, Money

NOW = 1_780_315_200 * NS_PER_S
TICKER = "KXBTC15M-PQ"
#: The index at the strike, nothing of the settlement window seen: P(YES) = 0.5 exactly.
AT_STRIKE = OracleView(100_000.0, 2.0, NOW)


def _quotes(
    bid: int, ask: int, *, position: int = 0, seconds_left: int = 600, **settings: Decimal
) -> dict[str, int]:
    instrument = Instrument(
        TICKER,
        "EV",
        "KXBTC15M",
        "greater",
        100_000.0,
        None,
        NOW - 60 * NS_PER_S,
        NOW + seconds_left * NS_PER_S,
    )
    book = OrderBook(TICKER)
    book.apply_snapshot([(bid, 1000)], [(ask, 1000)], no_in_yes_prices=True)
    strategy = PassiveQuote(PassiveQuoteConfig(**settings))  # type: ignore[arg-type]
    ctx = DecisionContext(NOW, Money(1_000_000_000))
    decisions = strategy.on_book(MarketState(instrument, book, Count(position)), AT_STRIKE, ctx)
    assert all(d.intent.time_in_force == "good_till_canceled" for d in decisions)
    return {d.intent.side: d.intent.price for d in decisions}


def test_it_is_registered_as_a_quoter() -> None:
    assert REGISTRY["passive_quote"] is PassiveQuote and PassiveQuote.quoter


def test_quotes_sit_half_a_spread_either_side_of_fair_value() -> None:
    assert _quotes(4800, 5200, half_spread=Decimal("0.03")) == {"bid": 4700, "ask": 5300}


def test_quotes_go_at_most_one_tick_inside_the_best_and_never_cross() -> None:
    assert _quotes(4000, 6000, half_spread=Decimal("0.03")) == {"bid": 4100, "ask": 5900}
    # A book well above fair: the offer would cross the bid at 0.53 and sits one tick above it instead.
    assert _quotes(5500, 5700, half_spread=Decimal("0.02"))["ask"] == 5600


def test_inventory_shifts_both_quotes_against_it() -> None:
    # Long 10 YES at $0.002 a contract: the centre moves from 0.50 to 0.48.
    quotes = _quotes(
        4800, 5200, position=1000, half_spread=Decimal("0.03"), skew_per_contract=Decimal("0.002")
    )
    assert quotes == {"bid": 4500, "ask": 5100}


def test_the_position_limit_removes_the_side_that_would_pass_it() -> None:
    assert set(_quotes(4800, 5200, position=10_000, max_position=Decimal(100))) == {"ask"}
    assert set(_quotes(4800, 5200, position=-10_000, max_position=Decimal(100))) == {"bid"}


def test_no_quotes_from_the_freeze_margin_on() -> None:
    assert _quotes(4800, 5200, seconds_left=89) == {}  # freeze 60 s + margin 30 s
    assert _quotes(4800, 5200, seconds_left=91) != {}
