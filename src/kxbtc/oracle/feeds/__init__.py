"""Spot BTC/USD order-book feeds from the BRTI constituent venues, plus Kalshi's published BRTI."""

from __future__ import annotations

from kxbtc.oracle.feeds.base import Backoff, FeedHealth, FeedState, SpotFeed
from kxbtc.oracle.feeds.bitstamp import BitstampFeed
from kxbtc.oracle.feeds.book import BookUpdate, L2Book, TopOfBook, VenueBook
from kxbtc.oracle.feeds.coinbase import CoinbaseFeed
from kxbtc.oracle.feeds.frames import FeedRejectedError, ReconnectRequestedError
from kxbtc.oracle.feeds.gemini import GeminiFeed
from kxbtc.oracle.feeds.kraken import KrakenFeed

#: Every spot feed by venue name.
SPOT_FEEDS: dict[str, type[SpotFeed]] = {
    cls.venue: cls for cls in (CoinbaseFeed, KrakenFeed, BitstampFeed, GeminiFeed)
}

__all__ = [
    "SPOT_FEEDS",
    "Backoff",
    "BitstampFeed",
    "BookUpdate",
    "CoinbaseFeed",
    "FeedHealth",
    "FeedRejectedError",
    "FeedState",
    "GeminiFeed",
    "KrakenFeed",
    "L2Book",
    "ReconnectRequestedError",
    "SpotFeed",
    "TopOfBook",
    "VenueBook",
]
