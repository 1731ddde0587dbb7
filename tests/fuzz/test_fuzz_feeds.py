"""Polymarket's messages and the spot venues' frames, mutated from recorded ones: every frame is applied or
refused with kxbtc's typed errors, and a book never takes a price or size that is not a finite number."""

from __future__ import annotations

import contextlib
import json
import math
from typing import Any

from fuzzing import FUZZ, TESTS, frames, jsonl
from hypothesis import given
from hypothesis import strategies as st

from kxbtc.clock import ManualClock
from kxbtc.errors import KxbtcError
from kxbtc.oracle.feeds.base import SpotFeed
from kxbtc.oracle.feeds.bitstamp import BitstampFeed
from kxbtc.oracle.feeds.coinbase import CoinbaseFeed
from kxbtc.oracle.feeds.gemini import GeminiFeed
from kxbtc.oracle.feeds.kraken import KrakenFeed
from kxbtc.polymarket.messages import decode_clob_book, decode_gamma_events, decode_ws_frame

FEEDS = TESTS / "fixtures" / "feeds"
POLY = TESTS / "fixtures" / "polymarket"


def _poly_ws_seeds() -> list[Any]:
    seeds: list[Any] = []
    for path in sorted(POLY.glob("ws_*.json")):
        value = json.loads(path.read_text())
        seeds += value if isinstance(value, list) else [value]
    return seeds


POLY_WS = _poly_ws_seeds()
VENUES: dict[str, tuple[type[SpotFeed], list[Any]]] = {
    "bitstamp": (
        BitstampFeed,
        jsonl(FEEDS / "bitstamp_order_book.jsonl") + jsonl(FEEDS / "bitstamp_diff_order_book.jsonl"),
    ),
    "coinbase": (CoinbaseFeed, jsonl(FEEDS / "coinbase_level2.jsonl")),
    "gemini": (GeminiFeed, jsonl(FEEDS / "gemini_l2.jsonl")),
    "kraken": (KrakenFeed, jsonl(FEEDS / "kraken_book.jsonl")),
}


@FUZZ
@given(raw=frames(POLY_WS))
def test_polymarket_ws_frames_decode_to_events_and_typed_errors(raw: bytes) -> None:
    decoded = decode_ws_frame(raw)
    assert all(isinstance(error, KxbtcError) for error in decoded.errors)


@FUZZ
@given(raw=frames([json.loads((POLY / "clob_book.json").read_text())]))
def test_polymarket_clob_book_decodes_or_raises_typed(raw: bytes) -> None:
    with contextlib.suppress(KxbtcError):
        decode_clob_book(raw)


@FUZZ
@given(raw=frames([json.loads((POLY / "gamma_event_btc15m.json").read_text())]))
def test_polymarket_gamma_events_decode_or_raise_typed(raw: bytes) -> None:
    with contextlib.suppress(KxbtcError):
        decode_gamma_events(raw)


@FUZZ
@given(venue=st.sampled_from(sorted(VENUES)), data=st.data())
def test_spot_frames_apply_or_raise_typed_and_books_stay_finite(venue: str, data: st.DataObject) -> None:
    cls, seeds = VENUES[venue]
    feed = cls(ManualClock())
    feed.on_connected()
    # The recorded session first (a real snapshot), then mutated frames.
    for seed in seeds:
        with contextlib.suppress(KxbtcError):
            feed._on_frame(json.dumps(seed))
    for raw in data.draw(st.lists(frames(seeds), min_size=1, max_size=6)):
        with contextlib.suppress(KxbtcError):
            feed._on_frame(raw)
        book = feed.snapshot()
        if book is not None:
            for price, size in (*book.bids, *book.asks):
                assert math.isfinite(price) and price > 0 and math.isfinite(size) and size > 0, (price, size)
