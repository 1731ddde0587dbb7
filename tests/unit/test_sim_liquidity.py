"""Synthetic counterparties: realistic books, determinism, and the mispricing knob."""

from __future__ import annotations

import contextlib
import math
import statistics

from kxbtc.clock import NS_PER_S, ManualClock
from kxbtc.sim.exchange import Exchange, SimConfig
from kxbtc.sim.liquidity import fair_probability
from kxbtc.sim.markets import Market

# 06:30:30Z: a 15-minute window opened 30 s ago, so its first 5 minutes are "10+ minutes before close".
START_S = 1_781_159_430


def _active_quarter(ex: Exchange) -> Market:
    return next(m for m in ex.markets.values() if m.series_ticker == "KXBTC15M" and m.status == "active")


def _run(seed: int, seconds: int, mispricing: float = 0.0) -> tuple[Exchange, list[int], list[float]]:
    clock = ManualClock(START_S * NS_PER_S)
    ex = Exchange(clock, seed=seed, config=SimConfig(mispricing=mispricing))
    spreads: list[int] = []
    errors: list[float] = []
    for i in range(seconds):
        clock.advance(1)
        ex.step()
        if i % 5:
            continue
        market = _active_quarter(ex)
        bid, _, ask, _ = ex.top_of_book(market.ticker)
        now_s = clock.time_ns() // NS_PER_S
        fair = fair_probability(market, now_s, ex.index_value(), [], ex.prices.annual_vol)
        assert fair is not None
        if 0.15 < fair < 0.85:  # the whole-cent band of the tapered grid
            spreads.append(ask - bid)
            errors.append(abs((bid + ask) / 20_000 - fair))
    return ex, spreads, errors


def test_makers_quote_a_one_cent_market_with_depth() -> None:
    ex, spreads, _ = _run(seed=3, seconds=240)
    assert len(spreads) >= 20
    assert statistics.median(spreads) == 100  # one cent
    market = _active_quarter(ex)
    book = ex.orderbook(market.ticker)
    assert len(book.yes) >= 3 and len(book.no) >= 3
    internal_orders = [o for o in ex.books[market.ticker].resting_orders()]
    assert all(1_000 <= o.initial_count <= 50_000 for o in internal_orders)  # 10..500 contracts
    assert ex.trades[market.ticker], "noise takers trade"
    ex.check_invariants()


def test_same_seed_same_market() -> None:
    a, _, _ = _run(seed=5, seconds=60)
    b, _, _ = _run(seed=5, seconds=60)
    ta = [(t.ticker, t.price, t.count, t.ts_ns) for ts in a.trades.values() for t in ts]
    tb = [(t.ticker, t.price, t.count, t.ts_ns) for ts in b.trades.values() for t in ts]
    assert ta == tb and ta
    ticker = _active_quarter(a).ticker
    assert a.orderbook(ticker) == b.orderbook(ticker)


def test_mispricing_knob_moves_quotes_away_from_fair_value() -> None:
    _, _, calm = _run(seed=8, seconds=120)
    _, _, wild = _run(seed=8, seconds=120, mispricing=0.08)
    assert statistics.mean(wild) > 2 * statistics.mean(calm)


def test_fair_probability_matches_the_abm_closed_form() -> None:
    clock = ManualClock(START_S * NS_PER_S)
    ex = Exchange(clock, seed=1, counterparties=False)
    market = _active_quarter(ex)
    assert market.floor_strike is not None
    now_s = market.close_ns // NS_PER_S - 600
    spot = market.floor_strike + 5_000  # $50 above the strike, 10 minutes out
    p = fair_probability(market, now_s, spot, [], 0.5)
    assert p is not None
    sigma = spot / 100 * 0.5 / math.sqrt(31_536_000)
    z = (50 + 0.005) / (sigma * math.sqrt(600 - 39.497))
    assert abs(p - 0.5 * (1 + math.erf(z / math.sqrt(2)))) < 1e-9
    # Inside the final minute with every value observed, the answer is certain.
    observed = [market.floor_strike] * 60
    assert fair_probability(market, market.close_ns // NS_PER_S, 0, observed, 0.5) == 1.0


def test_users_trading_against_counterparties_keep_the_ledger_exact() -> None:
    import random

    from kxbtc.sim.events import FillEvent
    from kxbtc.sim.exchange import SimRejection

    clock = ManualClock(START_S * NS_PER_S)
    ex = Exchange(clock, seed=4)
    queue = ex.subscribe()
    users = [ex.ensure_user(f"trader-{i}") for i in range(3)]
    rng = random.Random(1)
    for _ in range(120):
        clock.advance(1)
        market = _active_quarter(ex)
        bid, _, ask, _ = ex.top_of_book(market.ticker)
        for user in users:
            side = rng.choice(["bid", "ask"])
            price = min(max((ask if side == "bid" else bid) + rng.choice([-200, 0, 100]), 100), 9900)
            with contextlib.suppress(SimRejection):
                ex.create_order(
                    user,
                    ticker=market.ticker,
                    side=side,
                    price=price,
                    count=rng.randint(1, 30) * 100,
                    time_in_force=rng.choice(["immediate_or_cancel", "good_till_canceled"]),
                    self_trade_prevention_type="maker",
                )
        ex.check_invariants()
    streamed = [e.fill for e in queue.drain() if isinstance(e, FillEvent)]
    assert {f.user_id for f in streamed} == set(users)  # internal counterparties are not streamed
    for user in users:
        fills = ex.fills_page(user, limit=1000).items
        assert sorted(f.seq for f in fills) == sorted(f.seq for f in streamed if f.user_id == user)
        net = sum(f.count if f.side == "bid" else -f.count for f in fills if f.ticker == market.ticker)
        state = ex.accounts.peek_position(user, 0, market.ticker)
        assert state is not None and state.position == net


def _book_changes(requote_s: float | None, seconds: float, series: str) -> int:
    """How many times the series' books changed over ``seconds`` (summed over its open markets), stepping
    the exchange every 0.1 s."""
    from kxbtc.sim.cli import requote_every

    clock = ManualClock(START_S * NS_PER_S)
    ex = Exchange(clock, seed=7, config=SimConfig(mispricing=0.0))
    if requote_s is not None:
        requote_every(ex, requote_s, seed=7)
    ex.step()
    tickers = [m.ticker for m in ex.markets.values() if m.series_ticker == series and m.status == "active"]
    last, changes = {t: ex.orderbook(t) for t in tickers}, 0
    for _ in range(int(seconds * 10)):
        clock.advance(0.1)
        ex.step()
        for ticker in tickers:
            book = ex.orderbook(ticker)
            changes += book != last[ticker]
            last[ticker] = book
    return changes


def test_requote_option_makes_the_books_change_that_often() -> None:
    """`kxbtc sim serve --requote-s 0.25` (the tick-to-wire bench's busier books): the 15-minute book
    changes about four times as often as at its default (every second), the hourly ones twenty times as
    often as theirs (every 5 s)."""
    for series, speed_up in (("KXBTC15M", 4), ("KXBTCD", 20)):
        default = _book_changes(None, 20.0, series)
        quick = _book_changes(0.25, 20.0, series)
        assert default > 0
        assert quick >= speed_up / 2 * default
