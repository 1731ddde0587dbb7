"""Spot-feed frames the fuzzer found (tests/fuzz/test_fuzz_feeds.py): each is refused with a ProtocolError
(the feed reconnects) instead of killing the feed's task or entering the book."""

from __future__ import annotations

import json

import pytest

from kxbtc.clock import ManualClock
from kxbtc.errors import ProtocolError
from kxbtc.oracle.feeds.bitstamp import BitstampFeed
from kxbtc.oracle.feeds.gemini import GeminiFeed
from kxbtc.oracle.feeds.kraken import KrakenFeed


def test_kraken_frame_whose_data_is_not_a_list_of_objects_is_a_protocol_error() -> None:
    feed = KrakenFeed(ManualClock())
    feed.on_connected()
    with pytest.raises(ProtocolError, match="unexpected frame shape"):
        feed._on_frame(b'{"data": "0"}')


@pytest.mark.parametrize("price", [False, "nan", "inf", "-5", 0])
def test_a_level_with_a_price_that_is_not_a_positive_number_never_enters_the_book(price: object) -> None:
    feed = BitstampFeed(ManualClock())
    feed.on_connected()
    good = {"bids": [["91233", "0.4"]], "asks": [["91238", "0.8"]], "timestamp": "1795183200"}
    frame = {"channel": "order_book_btcusd", "event": "data", "data": good}
    feed._on_frame(json.dumps(frame))
    bad = {**frame, "data": {**good, "asks": [[price, "0.2"]]}}
    with pytest.raises(ProtocolError, match="price level"):
        feed._on_frame(json.dumps(bad))
    book = feed.snapshot()
    assert book is not None and book.asks == ((91238.0, 0.8),)


def test_gemini_nan_size_is_refused() -> None:
    feed = GeminiFeed(ManualClock())
    feed.on_connected()
    frame = {"type": "l2_updates", "symbol": "BTCUSD", "changes": [["buy", "91000", "NaN"]]}
    with pytest.raises(ProtocolError, match="price level"):
        feed._on_frame(json.dumps(frame))
