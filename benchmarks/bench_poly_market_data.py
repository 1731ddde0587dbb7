"""Polymarket market-channel frames: our decoder (msgspec) against the official SDK's (pydantic).

Which market-data path to keep: the SDK's stream decodes each frame with ``parse_market_event`` (pydantic
models with Decimal and datetime fields) after ``json.loads``; ours decodes with msgspec structs
(``kxbtc.polymarket.messages.decode_ws_frame``), timed here with every price and size parsed to
integers, as the book does when it applies them. The frames are what the simulated venue publishes:
``price_change`` messages of a live quoting process (both tokens of a window, four levels a side), the
same shape the SDK's models accept (``tests/unit/test_poly_sdk_shapes.py``).

    .venv/bin/python benchmarks/bench_poly_market_data.py [--frames N] [--repeat N] [--json]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections.abc import Callable

from polymarket.models.clob.market_events import parse_market_event

from kxbtc.polymarket.messages import (
    PriceChangeEvent,
    decode_ws_frame,
    parse_poly_price,
    parse_poly_size,
)
from kxbtc.sim import poly_wire
from kxbtc.sim.poly_books import SimBook, TokenMaker
from kxbtc.sim.poly_config import PolySimConfig
from kxbtc.sim.poly_windows import PolyWindow


def generate(frames: int, seed: int = 1) -> list[str]:
    """``frames`` price_change frames of one window's two tokens, quoted around a drifting fair value."""
    rng = random.Random(seed)
    config = PolySimConfig()
    window = PolyWindow.for_start(1_780_315_200, 1_780_315_000)
    books = {token: SimBook(token, window.condition_id) for token in window.tokens}
    makers = {token: TokenMaker(config, rng) for token in window.tokens}
    fair, out = 0.5, []
    while len(out) < frames:
        fair = min(0.95, max(0.05, fair + rng.gauss(0, 0.01)))
        updates = []
        for token, value in ((window.up_token, fair), (window.down_token, 1 - fair)):
            bids, asks = makers[token].quote(value, 1.0, books[token])
            updates += books[token].replace(bids, asks)
        ts = 1_780_315_200_000 + len(out) * 1000
        out.append(json.dumps(poly_wire.price_change_event(window.condition_id, ts, updates)))
    return out


def ours(frames: list[str]) -> int:
    """Decode, and parse every price and size to integers (what the SDK's Decimal fields amount to)."""
    n = 0
    for frame in frames:
        for event in decode_ws_frame(frame).events:
            assert isinstance(event, PriceChangeEvent)
            for change in event.price_changes:
                n += parse_poly_price(change.price) + parse_poly_size(change.size)
    return n


def sdk(frames: list[str]) -> int:
    n = 0
    for frame in frames:
        parse_market_event(json.loads(frame))
        n += 1
    return n


def _time(fn: Callable[[list[str]], int], frames: list[str], repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn(frames)
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    frames = generate(args.frames)
    mean_bytes = sum(len(f) for f in frames) / len(frames)
    result = {
        "frames": len(frames),
        "mean_frame_bytes": round(mean_bytes),
        "ours_us_per_frame": round(_time(ours, frames, args.repeat) / len(frames) * 1e6, 2),
        "sdk_us_per_frame": round(_time(sdk, frames, args.repeat) / len(frames) * 1e6, 2),
    }
    result["sdk_over_ours"] = round(result["sdk_us_per_frame"] / result["ours_us_per_frame"], 1)
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>20}: {value}")


if __name__ == "__main__":
    main()
