"""Venue parsers on documented message shapes, and the book/backoff they feed."""

from __future__ import annotations

import json
import random
import zlib
from pathlib import Path
from typing import Any

import pytest

from kxbtc.errors import ProtocolError
from kxbtc.oracle.feeds import bitstamp, coinbase, gemini, kraken
from kxbtc.oracle.feeds.base import Backoff
from kxbtc.oracle.feeds.book import BookUpdate, L2Book, TopOfBook
from kxbtc.oracle.feeds.frames import FeedRejectedError, ReconnectRequestedError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "feeds"


def frames(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (FIXTURES / name).read_text().splitlines() if line.strip()]


def replay(updates_per_frame: list[list[BookUpdate]], max_depth: int | None = None) -> L2Book:
    book = L2Book(max_depth)
    for updates in updates_per_frame:
        for u in updates:
            book.apply(u)
    return book


# -- the book ------------------------------------------------------------------------------------


def test_book_keeps_best_levels_first_and_removes_zero_sizes() -> None:
    book = L2Book()
    book.apply(BookUpdate(True, bids=((100.0, 1.0), (101.0, 2.0)), asks=((103.0, 1.0), (102.0, 4.0))))
    assert book.bids() == ((101.0, 2.0), (100.0, 1.0))
    assert book.asks() == ((102.0, 4.0), (103.0, 1.0))
    book.apply(BookUpdate(False, bids=((101.0, 0.0),), asks=((102.5, 1.0),)))
    assert book.top() == TopOfBook(100.0, 1.0, 102.0, 4.0)
    assert book.asks(2) == ((102.0, 4.0), (102.5, 1.0))
    book.apply(BookUpdate(True, bids=((99.0, 1.0),)))
    assert book.top() is None  # a snapshot replaces everything, and this one has no asks


def test_fixed_depth_book_drops_levels_pushed_out() -> None:
    book = L2Book(max_depth=2)
    book.apply(BookUpdate(True, bids=((100.0, 1.0), (99.0, 1.0)), asks=((101.0, 1.0), (102.0, 1.0))))
    book.apply(BookUpdate(False, bids=((100.5, 1.0),), asks=((100.8, 1.0),)))
    assert book.bids() == ((100.5, 1.0), (100.0, 1.0))
    assert book.asks() == ((100.8, 1.0), (101.0, 1.0))


# -- Coinbase ------------------------------------------------------------------------------------


def test_coinbase_level2_snapshot_then_update() -> None:
    msgs = frames("coinbase_level2.jsonl")
    parsed = [coinbase.parse_level2(m) for m in msgs]
    assert [len(p) for p in parsed] == [0, 1, 0, 0, 1]  # subscriptions and heartbeats carry no book
    assert parsed[1][0].snapshot and not parsed[4][0].snapshot
    after_snapshot = replay(parsed[:2])
    assert after_snapshot.top() == TopOfBook(91234.56, 0.5, 91235.01, 0.3)
    book = replay(parsed)
    assert book.top() == TopOfBook(91234.80, 0.1, 91235.01, 0.25)
    assert book.bids() == ((91234.80, 0.1), (91234.00, 1.2), (91230.10, 2.0))


def test_coinbase_sequence_gap_forces_resync() -> None:
    checker = coinbase.SequenceChecker()
    for m in frames("coinbase_level2.jsonl"):
        checker.check(m)
    with pytest.raises(ProtocolError, match="sequence gap"):
        checker.check({"channel": "heartbeats", "sequence_num": 7})


def test_coinbase_ticker_gives_top_of_book() -> None:
    msg = json.loads((FIXTURES / "coinbase_ticker.json").read_text())
    assert coinbase.parse_ticker(msg) == TopOfBook(91234.80, 0.1, 91235.01, 0.25)
    assert coinbase.parse_ticker(msg, "ETH-USD") is None


def test_coinbase_error_frame_is_a_typed_rejection() -> None:
    with pytest.raises(FeedRejectedError, match="failure to subscribe"):
        coinbase.parse_level2({"type": "error", "message": "failure to subscribe"})


def test_coinbase_subscribes_each_channel_and_heartbeats() -> None:
    subs = [json.loads(s) for s in coinbase.subscribe_messages("BTC-USD")]
    assert [s["channel"] for s in subs] == ["level2", "heartbeats"]
    assert all(s["type"] == "subscribe" and s["product_ids"] == ["BTC-USD"] for s in subs)


# -- Kraken --------------------------------------------------------------------------------------


def test_kraken_book_snapshot_then_update_with_valid_checksums() -> None:
    msgs = frames("kraken_book.jsonl")
    parsed = [kraken.parse_book(m) for m in msgs]
    assert [len(p) for p in parsed] == [0, 0, 1, 0, 1]
    book = L2Book(kraken.DEPTH)
    for msg, updates in zip(msgs, parsed, strict=True):
        for u in updates:
            book.apply(u)
        for expected in kraken.checksums(msg):
            assert kraken.book_checksum(book.bids(10), book.asks(10)) == expected
    assert book.top() == TopOfBook(91234.2, 0.05, 91236.1, 0.2)
    assert parsed[4][0].exchange_ts_ms == 1795183201123


def test_kraken_checksum_follows_documented_string_rule() -> None:
    # Asks low->high then bids high->low; each "price qty" with the dot and leading zeros removed.
    bids = [(45283.5, 0.5), (45283.0, 12.0)]
    asks = [(45285.2, 0.001)]
    text = "452852" + "100000" + "452835" + "50000000" + "452830" + "1200000000"
    assert kraken.book_checksum(bids, asks) == zlib.crc32(text.encode())


def test_kraken_subscribe_failure_is_a_typed_rejection() -> None:
    with pytest.raises(FeedRejectedError, match="Currency pair not supported"):
        kraken.parse_book({"method": "subscribe", "success": False, "error": "Currency pair not supported"})


def test_kraken_subscribe_frame() -> None:
    (sub,) = [json.loads(s) for s in kraken.subscribe_messages()]
    assert sub == {
        "method": "subscribe",
        "params": {"channel": "book", "symbol": ["BTC/USD"], "depth": 500, "snapshot": True},
    }


# -- Bitstamp ------------------------------------------------------------------------------------


def test_bitstamp_order_book_frames_are_snapshots() -> None:
    parsed = [bitstamp.parse_order_book(m) for m in frames("bitstamp_order_book.jsonl")]
    assert [len(p) for p in parsed] == [0, 1, 1]
    assert all(u.snapshot for p in parsed for u in p)
    book = replay(parsed)
    assert book.top() == TopOfBook(91234.0, 0.15, 91237.0, 0.2)
    assert len(book.asks()) == 2  # the 91245 level is gone: the second snapshot replaced the first
    assert parsed[2][0].exchange_ts_ms == 1795183200223


def test_bitstamp_diff_frames_change_levels_and_reconnect_request_raises() -> None:
    diff, reconnect = frames("bitstamp_diff_order_book.jsonl")
    (update,) = bitstamp.parse_order_book(diff)
    assert not update.snapshot
    assert update.bids == ((91233.0, 0.0), (91231.0, 0.75))
    with pytest.raises(ReconnectRequestedError):
        bitstamp.parse_order_book(reconnect)


def test_bitstamp_error_is_a_typed_rejection() -> None:
    with pytest.raises(FeedRejectedError) as err:
        bitstamp.parse_order_book({"event": "bts:error", "data": {"code": 400, "message": "Bad channel"}})
    assert err.value.code == "400"


# -- Gemini --------------------------------------------------------------------------------------


def test_gemini_first_l2_update_is_the_book() -> None:
    msgs = frames("gemini_l2.jsonl")
    first = gemini.parse_l2(msgs[0], first=True)
    assert first[0].snapshot
    assert gemini.parse_l2(msgs[1]) == [] and gemini.parse_l2(msgs[2]) == []  # heartbeat, trade
    book = replay([first, gemini.parse_l2(msgs[3])])
    assert book.top() == TopOfBook(91232.11, 0.40, 91236.90, 0.05)
    assert book.asks()[1] == (91237.0, 0.9)


def test_gemini_bad_side_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        gemini.parse_l2({"type": "l2_updates", "symbol": "BTCUSD", "changes": [["hold", "1", "1"]]})


# -- backoff -------------------------------------------------------------------------------------


def test_backoff_grows_exponentially_with_jitter_and_caps() -> None:
    b = Backoff(initial_s=0.5, max_s=4.0, factor=2.0, jitter=0.5, rng=random.Random(7))
    delays = [b.next_delay() for _ in range(6)]
    bases = [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert all(base * 0.5 <= d <= base for d, base in zip(delays, bases, strict=True))
    assert len(set(delays)) == len(delays)  # jittered, not lockstep
    b.reset()
    assert b.next_delay() <= 0.5
