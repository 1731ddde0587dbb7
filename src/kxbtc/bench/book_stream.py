"""A realistic stream of Kalshi ``orderbook_delta`` frames for one market, for the benchmarks.

A deci-cent grid around a 50c mid, a few hundred resting levels, most activity near the top of the book;
every frame valid (the book never crosses or goes stale). Used by ``kxbtc bench`` and
``benchmarks/bench_orderbook.py``.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

from kxbtc.book.orderbook import OrderBook
from kxbtc.units import PRICE_SCALE, Price, PriceGrid, PriceRange, format_count, format_price

TICKER = "KXBTC15M-26NOV251515-15"
MARKET_ID = "6c0f2d1e-5b7a-4e61-9a43-0d9f2a7c1b55"
STEP = 10  # deci-cent grid: 0.001 = 10 Price units, 999 valid prices
LEVELS_PER_SIDE = 150


@dataclass
class Stream:
    snapshot_yes: list[tuple[int, int]]
    snapshot_no: list[tuple[int, int]]  # NO bids as the wire sends them (YES-leg with use_yes_price)
    frames: list[bytes]


def _level_size(rng: random.Random) -> int:
    return rng.choice((100, 100, 200, 500, 1000, 2500, 10000)) + rng.randrange(0, 100)


def generate(n_frames: int, *, yes_prices: bool, seed: int = 7) -> Stream:
    """A random-walk book kept by a plain model, emitting one valid delta frame per step."""
    rng = random.Random(seed)
    # Canonical model: YES bids (YES prices) and NO bids (NO-leg prices), never crossed.
    yes = {5000 - STEP * (i + 1): _level_size(rng) for i in range(LEVELS_PER_SIDE)}
    no = {5000 - STEP * (i + 1): _level_size(rng) for i in range(LEVELS_PER_SIDE)}
    snap_yes = sorted(yes.items())
    snap_no = sorted((PRICE_SCALE - p, s) for p, s in no.items()) if yes_prices else sorted(no.items())
    frames: list[bytes] = []
    seq = 1
    ts_ms = 1_764_083_700_000
    fair = 5000  # YES fair value the quotes cluster around; drifts slowly between 40c and 60c
    while len(frames) < n_frames:
        ts_ms += rng.randrange(0, 20)
        if rng.random() < 0.01:
            fair = min(6000, max(4000, fair + rng.choice((-STEP, STEP))))
        side_is_yes = rng.random() < 0.5
        mine, theirs = (yes, no) if side_is_yes else (no, yes)
        anchor = fair if side_is_yes else PRICE_SCALE - fair  # fair value on this side's own price scale
        ranked = sorted(mine, reverse=True)
        limit = PRICE_SCALE - max(theirs) - STEP  # highest price that stays uncrossed
        # Activity decays geometrically away from the top of book.
        depth = min(int(rng.expovariate(0.25)), len(ranked) - 1)
        # Adds and removals balance around LEVELS_PER_SIDE resting levels.
        add_share = 0.25 if len(mine) < LEVELS_PER_SIDE else 0.15
        roll = rng.random()
        if len(mine) < 20:
            roll = 0.6  # keep both sides quoted
        if roll < 0.55:  # resize an existing level
            price = ranked[depth]
            change = rng.choice((-1, 1)) * rng.randrange(1, 300)
            if mine[price] + change <= 0:
                change = -change
        elif roll < 0.55 + add_share:  # a new level, mostly near the fair value
            price = min(limit, anchor - STEP * int(rng.expovariate(1 / 40)))
            while price in mine:
                price -= STEP
            if price <= 0:
                continue
            change = _level_size(rng)
        else:  # a level empties: fills and cancels at the top, and stale quotes deep in the book
            price = (
                ranked[depth] if rng.random() < 0.7 else ranked[-1 - int(rng.expovariate(0.5)) % len(ranked)]
            )
            change = -mine[price]
        seq += 1
        new = mine.get(price, 0) + change
        if new:
            mine[price] = new
        else:
            del mine[price]
        wire_price = price if side_is_yes or not yes_prices else PRICE_SCALE - price
        ms = ts_ms % 1000
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts_ms // 1000)) + f".{ms:03d}{seq % 1000:03d}Z"
        frames.append(
            b'{"type":"orderbook_delta","sid":1,"seq":%d,"msg":{"market_ticker":"%s","market_id":"%s",'
            b'"price_dollars":"%s","delta_fp":"%s","side":"%s","ts":"%s","ts_ms":%d}}'
            % (
                seq,
                TICKER.encode(),
                MARKET_ID.encode(),
                format_price(wire_price).encode(),
                format_count(change).encode(),
                b"yes" if side_is_yes else b"no",
                ts.encode(),
                ts_ms,
            )
        )
    return Stream(snap_yes, snap_no, frames)


def fresh_book(stream: Stream, yes_prices: bool) -> OrderBook:
    grid = PriceGrid.from_ranges([PriceRange(Price(0), Price(PRICE_SCALE), Price(STEP))])
    book = OrderBook(TICKER, grid)
    book.apply_snapshot(stream.snapshot_yes, stream.snapshot_no, no_in_yes_prices=yes_prices)
    return book
