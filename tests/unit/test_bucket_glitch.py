"""Range buckets of one hourly KXBTC event (a lower tail, $250 ranges on the cent grid, an upper tail):
YES in every bucket pays exactly $1, NO in every bucket pays N - 1. The strategy buys the whole set only
when that locks a profit after Kalshi's exact taker fees, which is tested one tick either side of the
boundary, in both directions."""

from __future__ import annotations

from decimal import Decimal

from kxbtc.book.orderbook import OrderBook
from kxbtc.clock import NS_PER_S
from kxbtc.config import StrategyConfig
from kxbtc.domain.instrument import Instrument
from kxbtc.pricing.fees import BTC_DEFAULT_FEES
from kxbtc.strategy.base import DecisionContext, MarketState, OracleView
from kxbtc.strategy.book_glitch import BookGlitch, partition
from kxbtc.units import PRICE_SCALE, Count, Money

NOW = 1_780_315_200 * NS_PER_S
EVENT = "KXBTC-26JUN0113"
TICK = 100  # $0.01: KXBTC's grid
SIZE = 1000  # 10 contracts shown at every level
CTX = DecisionContext(NOW, Money(10_000_000_000))
ORACLE = OracleView(100_000.0, 1.0, NOW)


def _instrument(ticker: str, strike_type: str, floor: float | None, cap: float | None) -> Instrument:
    return Instrument(
        ticker, EVENT, "KXBTC", strike_type, floor, cap, NOW - 600 * NS_PER_S, NOW + 1800 * NS_PER_S
    )


def _event(asks: list[int], bids: list[int], *, hole: bool = False) -> list[MarketState]:
    """Five buckets: below 99,750; 99,750-99,999.99; 100,000-100,249.99; 100,250-100,499.99; above."""
    lows = [99_750.0, 100_000.0, 100_250.0]
    instruments = [_instrument("LOW", "less", None, lows[0])]
    for i, low in enumerate(lows):
        cap = low + 249.99 + (0.02 if hole and i == 1 else 0.0)  # a hole: a cent no bucket covers
        instruments.append(_instrument(f"B{i}", "between", low, cap))
    instruments.append(_instrument("HIGH", "greater", lows[-1] + 249.99, None))
    markets = []
    for instrument, ask, bid in zip(instruments, asks, bids, strict=True):
        book = OrderBook(instrument.ticker)
        book.apply_snapshot([(bid, SIZE)], [(PRICE_SCALE - ask, SIZE)], no_in_yes_prices=False)
        markets.append(MarketState(instrument, book, Count(0)))
    return markets


def _profit_buy_all(asks: list[int]) -> int:
    fees = sum(BTC_DEFAULT_FEES.fee(a, SIZE, True) for a in asks)
    return PRICE_SCALE * SIZE - sum(asks) * SIZE - fees


def _profit_sell_all(bids: list[int]) -> int:
    fees = sum(BTC_DEFAULT_FEES.fee(b, SIZE, True) for b in bids)
    return (sum(bids) - PRICE_SCALE) * SIZE - fees


def _strategy() -> BookGlitch:
    return BookGlitch(StrategyConfig(min_edge=Decimal(0), max_contracts=Decimal(10)))


def test_the_whole_set_is_bought_one_tick_inside_the_fee_boundary_and_not_one_tick_outside() -> None:
    # Find the highest ask on the last bucket at which buying every YES still locks a profit.
    base = [500, 1500, 4000, 2500, 500]  # $0.98 with the last bucket at $0.05
    last = max(a for a in range(100, 9900, TICK) if _profit_buy_all([*base[:-1], a]) > 0)
    inside = _event([*base[:-1], last], [a - 2 * TICK for a in [*base[:-1], last]])
    legs = _strategy().on_timer(inside, ORACLE, CTX)
    assert [(d.intent.ticker, d.intent.side, d.intent.count) for d in legs] == [
        (t, "bid", SIZE) for t in ("LOW", "B0", "B1", "B2", "HIGH")
    ]
    assert int(legs[0].inputs["profit"] or 0) == _profit_buy_all([*base[:-1], last]) > 0
    outside = _event([*base[:-1], last + TICK], [a - 2 * TICK for a in [*base[:-1], last + TICK]])
    assert _profit_buy_all([*base[:-1], last + TICK]) <= 0
    assert _strategy().on_timer(outside, ORACLE, CTX) == []


def test_no_is_bought_in_every_bucket_when_the_bids_sum_above_one_after_fees() -> None:
    base = [900, 2000, 4200, 2500, 900]  # bids summing to $1.05 with the last at $0.09
    first = min(b for b in range(100, 9900, TICK) if _profit_sell_all([*base[:-1], b]) > 0)
    bids = [*base[:-1], first]
    legs = _strategy().on_timer(_event([b + 2 * TICK for b in bids], bids), ORACLE, CTX)
    assert {d.intent.side for d in legs} == {"ask"} and len(legs) == 5
    below = [*base[:-1], first - TICK]
    assert _profit_sell_all(below) <= 0
    assert _strategy().on_timer(_event([b + 2 * TICK for b in below], below), ORACLE, CTX) == []


def test_a_set_that_does_not_cover_every_outcome_is_never_bought() -> None:
    cheap = [500, 1000, 1000, 1000, 500]  # $0.40 for the set: a huge "profit" if it were a partition
    markets = _event(cheap, [a - TICK for a in cheap], hole=True)
    assert partition(markets) is None
    assert _strategy().on_timer(markets, ORACLE, CTX) == []
    assert partition(_event(cheap, [a - TICK for a in cheap])) is not None


def test_the_simulators_hourly_range_event_is_recognised_as_a_partition() -> None:
    """The buckets as the simulator lists them (its KXBTC event mirrors Kalshi's terms) partition the line."""
    from kxbtc.clock import ManualClock
    from kxbtc.session.sim_venue import SimVenue
    from kxbtc.sim.exchange import Exchange, SimConfig

    clock = ManualClock(NOW + 60 * NS_PER_S)
    exchange = Exchange(clock, seed=1, config=SimConfig(series=("KXBTC",)))
    exchange.step()
    venue = SimVenue(exchange, exchange.ensure_user("t"), ("KXBTC",))
    listed = [listing.instrument for listing, _ in venue.new_markets(clock.time_ns())]
    assert listed, "the simulator lists the hourly range event"
    by_event: dict[str, list[Instrument]] = {}
    for instrument in listed:
        by_event.setdefault(instrument.event_ticker, []).append(instrument)
    for instruments in by_event.values():
        markets = [MarketState(i, OrderBook(i.ticker), Count(0)) for i in instruments]
        ordered = partition(markets)
        assert ordered is not None and len(ordered) == len(instruments) >= 3
