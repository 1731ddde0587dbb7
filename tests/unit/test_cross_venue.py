"""The cross-venue basis pair (Kalshi KXBTC15M vs Polymarket 15-minute up/down) and its fees, in integers."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from kxbtc.book.orderbook import OrderBook
from kxbtc.clock import NS_PER_S
from kxbtc.config import PolymarketConfig
from kxbtc.polymarket.book import PolyBook
from kxbtc.polymarket.gamma import UpDownMarket
from kxbtc.polymarket.messages import BookEvent, Level, decode_gamma_events
from kxbtc.pricing.fees import kalshi_taker_fee
from kxbtc.pricing.polymarket_fees import MIN_FEE, polymarket_taker_fee
from kxbtc.strategy.base import ContractView
from kxbtc.strategy.cross_venue import CrossVenueArb, quote_pair

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "polymarket"
START = 1_795_791_600
NOW_NS = (START + 120) * NS_PER_S
TICKER = "KXBTC15M-26NOV271015-15"


def market() -> UpDownMarket:
    (event,) = decode_gamma_events((FIXTURES / "gamma_event_btc15m.json").read_bytes())
    return UpDownMarket.from_event(event, START)


def contract(**changes: object) -> ContractView:
    view = ContractView(
        ticker=TICKER,
        event_ticker="KXBTC15M-26NOV271015",
        series="KXBTC15M",
        strike_type="greater_or_equal",
        floor_strike=91_234.56,
        cap_strike=None,
        open_ns=START * NS_PER_S,
        close_ns=(START + 900) * NS_PER_S,
    )
    return replace(view, **changes)  # type: ignore[arg-type]


def kalshi_book() -> OrderBook:
    """YES bid 0.47 x 10, NO bid 0.48 x 20: YES ask 0.52 x 20, NO ask 0.53 x 10."""
    book = OrderBook(TICKER)
    book.apply_snapshot([(4700, 1000)], [(4800, 2000)], no_in_yes_prices=False)
    return book


def poly_book(token: str, ask: str, ask_size: str, bid: str = "0.01", age_ms: int = 500) -> PolyBook:
    book = PolyBook(token)
    ts = str(NOW_NS // 1_000_000 - age_ms)
    book.apply_snapshot(BookEvent(token, bids=[Level(bid, "100")], asks=[Level(ask, ask_size)], timestamp=ts))
    return book


def config(**changes: object) -> PolymarketConfig:
    base = {"min_edge": Decimal("0.01"), "basis_margin": Decimal("0.03"), "max_pair_contracts": Decimal(50)}
    return PolymarketConfig(**{**base, **changes})  # type: ignore[arg-type]


def test_fees_are_exact_integers_on_both_venues() -> None:
    # Kalshi: 0.07 x 20 x 0.52 x 0.48 = $0.34944, rounded up to $0.0001 per fill.
    assert kalshi_taker_fee(5200, 2000) == 349_500
    # Polymarket: 0.07 x 20 x 0.40 x 0.60 = $0.336 exactly; 0.41 -> $0.33866; 5 dp, half up.
    assert polymarket_taker_fee(4000, 2000) == 336_000
    assert polymarket_taker_fee(4100, 2000) == 338_660
    assert polymarket_taker_fee(5000, 10_000) == 1_750_000  # 1.75 cents a share at 0.50
    assert polymarket_taker_fee(100, 100) == 690  # $0.000693 -> $0.00069
    assert polymarket_taker_fee(1, 1) == MIN_FEE == 10  # any non-zero fee is at least $0.00001
    assert polymarket_taker_fee(5000, 10_000, rate="0.072") == 1_800_000  # the per-market rate is used


def test_known_edge_yields_exactly_the_expected_pair_and_size() -> None:
    mkt = market()
    up = poly_book(mkt.up_token, "0.60", "100")
    down = poly_book(mkt.down_token, "0.40", "30")
    (trade,) = CrossVenueArb(config()).evaluate(contract(), kalshi_book(), mkt, up, down, NOW_NS)
    q = trade.quote
    # 20 pairs: 20 x (0.52 + 0.40) = $18.40, fees $0.3495 + $0.336, cost $19.0855, edge $0.9145.
    assert (q.pairing, q.size, q.kalshi_price, q.poly_price) == ("kalshi_yes+poly_down", 2000, 5200, 4000)
    assert (q.kalshi_fee, q.poly_fee, q.cost, q.edge) == (349_500, 336_000, 19_085_500, 914_500)
    intent = trade.kalshi.intent
    assert (intent.ticker, intent.side, intent.price, intent.count) == (TICKER, "bid", 5200, 2000)
    assert intent.time_in_force == "fill_or_kill" and intent.strategy == "cross_venue"
    assert "NOT riskless" in intent.reason and "basis" in intent.reason
    poly = trade.polymarket
    assert (poly.token_id, poly.outcome, poly.side, poly.price, poly.size) == (
        mkt.down_token,
        "Down",
        "BUY",
        4000,
        2000,
    )
    assert trade.kalshi.inputs["required"] == 800_000 and trade.kalshi.inputs["edge"] == 914_500
    assert trade.kalshi.inputs["poly_fee_share_haircut"] == 336_000 * 10_000 // 4000 - 336_000


def test_one_tick_worse_after_fees_yields_nothing() -> None:
    mkt = market()
    up = poly_book(mkt.up_token, "0.60", "100")
    down = poly_book(mkt.down_token, "0.41", "30")
    arb = CrossVenueArb(config())
    # 20 x (0.52 + 0.41) + 0.3495 + 0.33866 = $19.28816: edge $0.71184 < required 20 x $0.04.
    (quote, _) = arb.quotes(contract(), kalshi_book(), mkt, up, down)
    assert quote.edge == 711_840
    assert arb.evaluate(contract(), kalshi_book(), mkt, up, down, NOW_NS) == []


def test_the_reverse_pairing_kalshi_no_plus_poly_up_and_size_caps() -> None:
    mkt = market()
    up = poly_book(mkt.up_token, "0.38", "7.5")
    down = poly_book(mkt.down_token, "0.90", "100")
    (trade,) = CrossVenueArb(config()).evaluate(contract(), kalshi_book(), mkt, up, down, NOW_NS)
    q = trade.quote
    # NO ask 0.53 x 10 vs Up ask 0.38 x 7.5: 7 whole contracts.
    assert (q.pairing, q.size, q.kalshi_price, q.poly_price, q.poly_outcome) == (
        "kalshi_no+poly_up",
        700,
        5300,
        3800,
        "Up",
    )
    # Buying NO at 0.53 is an "ask" on the YES leg at 0.47.
    assert (trade.kalshi.intent.side, trade.kalshi.intent.price) == ("ask", 4700)
    capped = CrossVenueArb(config(max_pair_contracts=Decimal(3))).evaluate(
        contract(), kalshi_book(), mkt, up, down, NOW_NS
    )
    assert capped == []  # 3 contracts is below Polymarket's 5-share minimum order
    bigger = poly_book(mkt.up_token, "0.38", "100")
    (six,) = CrossVenueArb(config(max_pair_contracts=Decimal(6))).evaluate(
        contract(), kalshi_book(), mkt, bigger, down, NOW_NS
    )
    assert six.quote.size == 600


def test_only_the_same_window_and_live_fresh_books_are_paired() -> None:
    mkt = market()
    up = poly_book(mkt.up_token, "0.60", "100")
    down = poly_book(mkt.down_token, "0.40", "30")
    arb = CrossVenueArb(config())
    assert arb.evaluate(contract(), kalshi_book(), mkt, up, down, NOW_NS)
    later = contract(close_ns=(START + 1800) * NS_PER_S, open_ns=(START + 900) * NS_PER_S)
    assert arb.evaluate(later, kalshi_book(), mkt, up, down, NOW_NS) == []
    hourly = contract(series="KXBTCD")
    assert arb.evaluate(hourly, kalshi_book(), mkt, up, down, NOW_NS) == []
    below = contract(strike_type="less")
    assert arb.evaluate(below, kalshi_book(), mkt, up, down, NOW_NS) == []
    assert arb.evaluate(contract(), kalshi_book(), mkt, down, up, NOW_NS) == []  # tokens swapped
    old = poly_book(mkt.down_token, "0.40", "30", age_ms=6000)
    assert arb.evaluate(contract(), kalshi_book(), mkt, up, old, NOW_NS) == []
    down.mark_stale("disconnected")
    assert arb.evaluate(contract(), kalshi_book(), mkt, up, down, NOW_NS) == []
    fresh = poly_book(mkt.down_token, "0.40", "30")
    near_close = (START + 900 - 30) * NS_PER_S
    assert arb.evaluate(contract(), kalshi_book(), mkt, up, fresh, near_close) == []
    stale_kalshi = kalshi_book()
    stale_kalshi.mark_stale("seq gap")
    assert arb.evaluate(contract(), stale_kalshi, mkt, up, fresh, NOW_NS) == []


def test_basis_margin_is_required_on_top_of_the_edge() -> None:
    mkt = market()
    up = poly_book(mkt.up_token, "0.60", "100")
    down = poly_book(mkt.down_token, "0.40", "30")
    # Edge $0.045725 a pair: enough for 0.01 + 0.035, not for 0.01 + 0.04.
    assert CrossVenueArb(config(basis_margin=Decimal("0.035"))).evaluate(
        contract(), kalshi_book(), mkt, up, down, NOW_NS
    )
    assert not CrossVenueArb(config(basis_margin=Decimal("0.04"))).evaluate(
        contract(), kalshi_book(), mkt, up, down, NOW_NS
    )


@pytest.mark.parametrize("fees_enabled", [True, False])
def test_fees_follow_the_market_flags(fees_enabled: bool) -> None:
    mkt = replace(market(), fees_enabled=fees_enabled)
    quote = quote_pair("kalshi_yes+poly_down", 5200, 4000, 2000, contract=contract(), market=mkt)
    assert quote.poly_fee == (336_000 if fees_enabled else 0)
