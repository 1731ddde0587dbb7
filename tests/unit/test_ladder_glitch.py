"""The above/below ladder of one hourly KXBTCD event: P(above K) must fall as K rises, so YES at a lower
strike plus NO at a higher one pays at least $1. The strategy takes that pair only when it locks a profit
after Kalshi's exact taker fees on both legs: tested one tick either side of the boundary, and on the
ladder the simulator lists."""

from __future__ import annotations

from decimal import Decimal

from kxbtc.book.orderbook import OrderBook
from kxbtc.clock import NS_PER_S
from kxbtc.config import StrategyConfig
from kxbtc.domain.instrument import Instrument
from kxbtc.pricing.fees import BTC_DEFAULT_FEES
from kxbtc.strategy.base import DecisionContext, MarketState, OracleView
from kxbtc.strategy.book_glitch import BookGlitch
from kxbtc.units import PRICE_SCALE, Count, Money

NOW = 1_780_315_200 * NS_PER_S
EVENT = "KXBTCD-26JUN0113"
TICK = 100  # $0.01
SIZE = 1000  # 10 contracts shown
CTX = DecisionContext(NOW, Money(10_000_000_000))
ORACLE = OracleView(100_000.0, 1.0, NOW)


def _rung(ticker: str, strike: float, yes_bid: int, yes_ask: int) -> MarketState:
    instrument = Instrument(
        ticker, EVENT, "KXBTCD", "greater", strike, None, NOW - 600 * NS_PER_S, NOW + 1800 * NS_PER_S
    )
    book = OrderBook(ticker)
    book.apply_snapshot([(yes_bid, SIZE)], [(PRICE_SCALE - yes_ask, SIZE)], no_in_yes_prices=False)
    return MarketState(instrument, book, Count(0))


def _profit(low_ask: int, high_bid: int) -> int:
    """YES at the low strike's ask plus NO at the high strike (1 - its YES bid), each paying a taker fee."""
    cost = (low_ask + PRICE_SCALE - high_bid) * SIZE
    fees = BTC_DEFAULT_FEES.fee(low_ask, SIZE, True) + BTC_DEFAULT_FEES.fee(high_bid, SIZE, True)
    return PRICE_SCALE * SIZE - cost - fees


def _strategy() -> BookGlitch:
    return BookGlitch(StrategyConfig(min_edge=Decimal(0), max_contracts=Decimal(10)))


def test_the_ladder_spread_is_taken_one_tick_inside_the_fee_boundary_and_not_one_tick_outside() -> None:
    low_ask = 5000  # YES above $100,000 offered at $0.50
    first = min(b for b in range(low_ask, 9900, TICK) if _profit(low_ask, b) > 0)
    assert first > low_ask  # fees make an inversion of one tick not enough
    inside = [_rung("LOW", 100_000.0, low_ask - TICK, low_ask), _rung("HIGH", 100_250.0, first, first + TICK)]
    legs = _strategy().on_timer(inside, ORACLE, CTX)
    assert [(d.intent.ticker, d.intent.side, d.intent.price, d.intent.count) for d in legs] == [
        ("LOW", "bid", low_ask, SIZE),
        ("HIGH", "ask", first, SIZE),
    ]
    assert all(d.intent.time_in_force == "fill_or_kill" for d in legs)
    below = first - TICK
    assert _profit(low_ask, below) <= 0
    outside = [
        _rung("LOW", 100_000.0, low_ask - TICK, low_ask),
        _rung("HIGH", 100_250.0, below, below + TICK),
    ]
    assert _strategy().on_timer(outside, ORACLE, CTX) == []


def test_a_monotone_ladder_is_left_alone() -> None:
    rungs = [
        _rung("K0", 99_750.0, 7000, 7100),
        _rung("K1", 100_000.0, 5000, 5100),
        _rung("K2", 100_250.0, 3000, 3100),
    ]
    assert _strategy().on_timer(rungs, ORACLE, CTX) == []


def test_the_simulators_hourly_ladder_is_read_as_one_ladder() -> None:
    """The strikes the simulator lists for a KXBTCD event: an inversion put into their books is found."""
    from kxbtc.clock import ManualClock
    from kxbtc.session.sim_venue import SimVenue
    from kxbtc.sim.exchange import Exchange, SimConfig

    clock = ManualClock(NOW + 60 * NS_PER_S)
    exchange = Exchange(clock, seed=1, config=SimConfig(series=("KXBTCD",)))
    exchange.step()
    venue = SimVenue(exchange, exchange.ensure_user("t"), ("KXBTCD",))
    listed = [listing.instrument for listing, _ in venue.new_markets(clock.time_ns())]
    ladder = sorted(
        (
            i
            for i in listed
            if i.strike_type in ("greater", "greater_or_equal") and i.floor_strike is not None
        ),
        key=lambda i: i.floor_strike or 0.0,
    )
    assert len(ladder) >= 2, "the simulator lists an above/below ladder"
    low, high = ladder[0], ladder[1]
    inverted = []
    for instrument, (bid, ask) in ((low, (4900, 5000)), (high, (5600, 5700))):  # P(above high) > P(above low)
        book = OrderBook(instrument.ticker)
        book.apply_snapshot([(bid, SIZE)], [(PRICE_SCALE - ask, SIZE)], no_in_yes_prices=False)
        inverted.append(MarketState(instrument, book, Count(0)))
    legs = _strategy().on_timer(inverted, ORACLE, CTX)
    assert [(d.intent.ticker, d.intent.side) for d in legs] == [(low.ticker, "bid"), (high.ticker, "ask")]
