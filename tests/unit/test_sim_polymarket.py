"""The simulated Polymarket venue on a ManualClock: windows follow the Kalshi simulator's, settlement is
Polymarket's rule on the simulated index, books are sane and published consistently, and runs repeat."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from kxbtc.clock import NS_PER_S, ManualClock
from kxbtc.polymarket.gamma import WINDOW_S, slug_for_window
from kxbtc.sim.exchange import Exchange, SimConfig
from kxbtc.sim.markets import settlement_average_cents
from kxbtc.sim.poly_books import BUY
from kxbtc.sim.poly_windows import CLOSED, OPEN, RESOLVED, token_id_for, up_probability
from kxbtc.sim.polymarket import BookChanged, PolyEvent, PolySim, PolySimConfig, WindowResolved
from kxbtc.sim.price_path import PricePath
from kxbtc.units import PRICE_SCALE

# 2026-06-11 06:30:30Z: 30 s into a 15-minute window.
START_S = 1_781_159_430
WINDOW_START = START_S - START_S % WINDOW_S


def _exchange(clock: ManualClock, seed: int = 3, prices: PricePath | None = None) -> Exchange:
    config = SimConfig(series=("KXBTC15M",), counterparties=False)
    return Exchange(clock, seed=seed, config=config, prices=prices)


def _venue(
    seed: int = 3, config: PolySimConfig | None = None, start_s: int = START_S
) -> tuple[ManualClock, Exchange, PolySim, list[PolyEvent]]:
    clock = ManualClock(start_s * NS_PER_S)
    exchange = _exchange(clock, seed)
    poly = PolySim(exchange, config, seed=seed)
    events: list[PolyEvent] = []
    poly.add_listener(events.append)
    return clock, exchange, poly, events


def _run(clock: ManualClock, poly: PolySim, seconds: int, every: int = 1) -> None:
    for _ in range(seconds // every):
        clock.advance(every)
        poly.step()


def _kalshi_starts(exchange: Exchange) -> set[int]:
    return {
        m.close_ns // NS_PER_S - WINDOW_S for m in exchange.markets.values() if m.series_ticker == "KXBTC15M"
    }


def test_every_kalshi_window_has_its_polymarket_window_with_ids_fixed_by_the_slug() -> None:
    clock, exchange, poly, _ = _venue()
    assert set(poly.windows) == _kalshi_starts(exchange) and WINDOW_START in poly.windows
    _run(clock, poly, WINDOW_S, every=30)  # a new Kalshi window is listed: the venue follows
    assert set(poly.windows) == _kalshi_starts(exchange)
    assert len(poly.windows) == 4
    for start, window in poly.windows.items():
        assert window.slug == slug_for_window(start) == f"btc-updown-15m-{start}"
        assert window.end_s == start + WINDOW_S
        assert window.up_token == token_id_for(window.slug, "Up")
        assert window.down_token == token_id_for(window.slug, "Down")
        assert window.up_token != window.down_token and window.up_token.isdigit()
        assert window.condition_id.startswith("0x") and len(window.condition_id) == 66
        assert poly.window_by_slug(window.slug) is window
        assert poly.window_of_token(window.down_token) is window
    # The ids do not depend on the seed or on the run.
    _, _, other, _ = _venue(seed=99)
    assert other.windows[WINDOW_START].tokens == poly.windows[WINDOW_START].tokens


@dataclass
class StepPath:
    """A hand-made index: ``base`` cents, with ``moves`` (second -> cents) from their second on."""

    base: int
    moves: dict[int, int]
    annual_vol: float = 0.5

    def first_second(self) -> int:
        return 0

    def value_cents(self, second: int) -> int:
        value = self.base
        for at, cents in sorted(self.moves.items()):
            if second >= at:
                value = cents
        return value


def _settle(path: StepPath, start_s: int) -> tuple[PolySim, Exchange, list[PolyEvent]]:
    """Run from 30 s into the window starting at ``start_s`` until it has resolved on both venues."""
    clock = ManualClock((start_s + 30) * NS_PER_S)
    exchange = _exchange(clock, prices=path)
    poly = PolySim(exchange, seed=1)
    events: list[PolyEvent] = []
    poly.add_listener(events.append)
    _run(clock, poly, WINDOW_S - 30 + poly.config.resolution_delay_s + 5, every=5)
    return poly, exchange, events


def test_up_wins_when_the_index_ends_at_or_above_its_start_and_the_books_are_emptied_at_the_end() -> None:
    end = WINDOW_START + WINDOW_S
    cases = [
        ({}, "Up"),  # unchanged: a tie is Up
        ({WINDOW_START + 100: 9_999_999}, "Down"),  # one cent lower at the end
        ({WINDOW_START + 100: 9_000_000, end: 10_000_001}, "Up"),
    ]
    for moves, winner in cases:
        poly, _, events = _settle(StepPath(10_000_000, moves), WINDOW_START)
        window = poly.windows[WINDOW_START]
        assert window.status == RESOLVED and window.winner == winner, moves
        [resolved] = [e for e in events if isinstance(e, WindowResolved) and e.window is window]
        assert resolved.ts_ms == (end + poly.config.resolution_delay_s) * 1000
        assert window.winning_token == (window.up_token if winner == "Up" else window.down_token)
        assert all(not poly.books[t].bids and not poly.books[t].asks for t in window.tokens)
        # Nothing was quoted at or after the end.
        late = [
            e for e in events if isinstance(e, BookChanged) and e.window is window and e.ts_ms >= end * 1000
        ]
        assert all(u.size == 0 for e in late for u in e.updates)


def test_the_venues_settle_on_different_references_so_they_can_disagree() -> None:
    # Below the start for the last minute, back to exactly the start value at the final second: Polymarket
    # (point values) says Up, Kalshi (60-second averages) says NO.
    end = WINDOW_START + WINDOW_S
    path = StepPath(10_000_000, {end - 50: 9_990_000, end: 10_000_000})
    poly, exchange, _ = _settle(path, WINDOW_START)
    assert poly.windows[WINDOW_START].winner == "Up"
    [kalshi] = [
        m for m in exchange.markets.values() if m.series_ticker == "KXBTC15M" and m.close_ns == end * NS_PER_S
    ]
    assert kalshi.result == "no"
    assert kalshi.settlement_value_cents == settlement_average_cents(exchange.index_window(end))


def test_books_are_uncrossed_on_the_tick_above_the_minimum_size_and_two_sided() -> None:
    clock, _, poly, _ = _venue(config=PolySimConfig(mispricing=0.1))
    for _ in range(120):
        _run(clock, poly, 1)
        for window in poly.windows.values():
            if window.status != OPEN:
                continue
            for token in window.tokens:
                book = poly.books[token]
                assert not book.crossed()
                assert book.bids and book.asks
                for price, size in [*book.bids.items(), *book.asks.items()]:
                    assert price % 100 == 0 and 0 < price < PRICE_SCALE
                    assert size >= poly.config.min_order_size
                assert len(book.bids) <= poly.config.levels and len(book.asks) <= poly.config.levels


def test_published_changes_rebuild_the_books_and_carry_the_best_prices_after_each_change() -> None:
    clock, _, poly, events = _venue()
    copies = {token: ({**b.bids}, {**b.asks}) for token, b in poly.books.items()}
    _run(clock, poly, 90)
    changes = [e for e in events if isinstance(e, BookChanged)]
    assert len(changes) >= 90 * 3  # every listed window's books change every second
    for event in changes:
        for u in event.updates:
            bids, asks = copies[u.asset_id]
            levels = bids if u.side == BUY else asks
            if u.size:
                levels[u.price] = u.size
            else:
                levels.pop(u.price, None)
            assert u.best_bid == (max(bids) if bids else None)
            assert u.best_ask == (min(asks) if asks else None)
            assert not (bids and asks and max(bids) >= min(asks)), "a crossed book in the middle of a message"
    for token, book in poly.books.items():
        assert copies[token] == (book.bids, book.asks)


def test_same_seed_and_clock_give_the_same_books_however_often_it_steps() -> None:
    def books_after(seed: int, every: int) -> dict[str, tuple[dict[int, int], dict[int, int]]]:
        clock, _, poly, _ = _venue(seed=seed)
        _run(clock, poly, 120, every=every)
        return {token: (book.bids, book.asks) for token, book in poly.books.items()}

    once_a_second = books_after(5, 1)
    assert books_after(5, 1) == once_a_second
    assert books_after(5, 20) == once_a_second
    assert books_after(6, 1) != once_a_second


def test_fair_value_is_one_half_before_the_start_and_follows_the_index_after() -> None:
    start, end = WINDOW_START, WINDOW_START + WINDOW_S
    assert up_probability(start - 10, start, end, 10_000_000, None, 0.5) == 0.5
    assert up_probability(start + 10, start, end, 10_000_000, 10_000_000, 0.5) == pytest.approx(0.5, abs=0.01)
    assert up_probability(end - 5, start, end, 10_050_000, 10_000_000, 0.5) > 0.99
    assert up_probability(end - 5, start, end, 9_950_000, 10_000_000, 0.5) < 0.01
    assert up_probability(end, start, end, 10_000_000, 10_000_000, 0.5) == 1.0  # a tie at the end is Up


def test_makers_quote_around_the_fair_value_and_mispricing_widens_their_errors() -> None:
    def errors(mispricing: float) -> list[float]:
        clock, exchange, poly, _ = _venue(config=PolySimConfig(mispricing=mispricing))
        window = poly.windows[WINDOW_START]
        out: list[float] = []
        for _ in range(60):
            _run(clock, poly, 5)
            now = clock.time_ns() // NS_PER_S
            fair = up_probability(
                now,
                window.start_s,
                window.end_s,
                exchange.index_value(now),
                exchange.index_value(window.start_s),
                exchange.prices.annual_vol,
            )
            value = poly.maker_value(window.up_token)
            assert value is not None
            book = poly.books[window.up_token]
            bid, ask = book.best_bid(), book.best_ask()
            assert bid is not None and ask is not None
            assert bid / PRICE_SCALE < value < ask / PRICE_SCALE  # the maker's value sits inside its spread
            out.append(abs(value - fair))
        return out

    calm, wild = errors(0.0), errors(0.15)
    assert max(calm) < 0.08
    assert sum(wild) / len(wild) > 2 * sum(calm) / len(calm)


def test_the_window_is_closed_at_its_end_before_it_resolves() -> None:
    clock, _, poly, _ = _venue(start_s=WINDOW_START + WINDOW_S - 3)
    window = poly.windows[WINDOW_START]
    assert window.status == OPEN
    _run(clock, poly, 4)
    assert window.status == CLOSED and window.winner is None
    _run(clock, poly, poly.config.resolution_delay_s)
    assert window.status == RESOLVED
