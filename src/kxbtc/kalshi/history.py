"""Kalshi's public market-data history: settled markets, one-minute candlesticks and public trades, from the
live endpoints and from the historical tier that holds what settled before the cutoff.

Endpoints (paths under ``/trade-api/v2``; shapes per OpenAPI v3.28 and kalshi-api.md §4):

- ``GET /historical/cutoff``: ``market_settled_ts`` (markets settled before it, and their candlesticks,
  are only in the historical tier) and ``trades_created_ts`` (trades before it likewise);
- ``GET /markets?series_ticker&status=settled&min_settled_ts&max_settled_ts`` (cursor): live settled
  markets; the spec allows only the settled-time filters together with ``status=settled``;
- ``GET /historical/markets?series_ticker`` (cursor): archived markets; its filters are mutually
  exclusive, so there is no time filter and the caller keeps what it wants;
- ``GET /series/{s}/markets/{t}/candlesticks`` and ``GET /historical/markets/{t}/candlesticks``: the
  latter's candles name their fields without the ``_dollars``/``_fp`` suffixes; both are returned here
  as the live ``Candlestick``;
- ``GET /markets/trades?ticker`` and ``GET /historical/trades?ticker`` (cursor), newest first.

This module owns its requests (through ``kxbtc.json_http``) rather than going through
``KalshiRestClient``: a bulk download must see each 429's headers (Retry-After) and count them.
"""

from __future__ import annotations

from urllib.parse import quote

import msgspec

from kxbtc.errors import ExchangeError
from kxbtc.json_http import JsonGetter, query
from kxbtc.kalshi.error_bodies import parse_error
from kxbtc.kalshi.rest_messages import (
    BidAskDistribution,
    Candlestick,
    CandlesticksResponse,
    MarketsPage,
    PriceDistribution,
    TradesPage,
    decode,
    parse_rfc3339_ns,
)

#: Most items one page of ``/markets`` and ``/markets/trades`` holds (kalshi-api.md §3.3).
MAX_PAGE = 1000


def kalshi_error(status: int, body: bytes, method: str, path: str) -> ExchangeError:
    """Kalshi's three error body shapes, typed by status (``kxbtc.kalshi.error_bodies``)."""
    return parse_error(status, body, method=method, path=path)


class _Wire(msgspec.Struct, kw_only=True):
    """Base for response bodies: keyword construction, unknown fields ignored."""


class HistoricalCutoff(_Wire):
    market_settled_ts: str
    trades_created_ts: str
    orders_updated_ts: str | None = None

    @property
    def market_settled_s(self) -> int:
        return parse_rfc3339_ns(self.market_settled_ts) // 1_000_000_000

    @property
    def trades_created_s(self) -> int:
        return parse_rfc3339_ns(self.trades_created_ts) // 1_000_000_000


class _HistoricalBidAsk(_Wire):
    open: str | None = None
    low: str | None = None
    high: str | None = None
    close: str | None = None


class _HistoricalPrice(_HistoricalBidAsk):
    mean: str | None = None
    previous: str | None = None


class _HistoricalCandlestick(_Wire):
    end_period_ts: int
    yes_bid: _HistoricalBidAsk | None = None
    yes_ask: _HistoricalBidAsk | None = None
    price: _HistoricalPrice | None = None
    volume: str | None = None
    open_interest: str | None = None

    def as_live(self) -> Candlestick:
        """The same candle in the live endpoint's field names."""
        return Candlestick(
            end_period_ts=self.end_period_ts,
            yes_bid=_bid_ask(self.yes_bid),
            yes_ask=_bid_ask(self.yes_ask),
            price=None
            if self.price is None
            else PriceDistribution(
                open_dollars=self.price.open,
                low_dollars=self.price.low,
                high_dollars=self.price.high,
                close_dollars=self.price.close,
                mean_dollars=self.price.mean,
                previous_dollars=self.price.previous,
            ),
            volume_fp=self.volume,
            open_interest_fp=self.open_interest,
        )


def _bid_ask(value: _HistoricalBidAsk | None) -> BidAskDistribution | None:
    if value is None:
        return None
    return BidAskDistribution(
        open_dollars=value.open, low_dollars=value.low, high_dollars=value.high, close_dollars=value.close
    )


class _HistoricalCandlesticks(_Wire):
    ticker: str = ""
    candlesticks: list[_HistoricalCandlestick] | None = None


def _seg(value: str) -> str:
    return quote(value, safe="")


class KalshiHistoryApi:
    """The public history endpoints over a ``JsonGetter`` whose base URL ends in ``/trade-api/v2``."""

    def __init__(self, http: JsonGetter) -> None:
        self.http = http

    async def cutoff(self) -> HistoricalCutoff:
        return decode(await self.http.get("/historical/cutoff"), HistoricalCutoff, "GET /historical/cutoff")

    async def settled_markets(
        self, series: str, *, min_settled_ts: int, max_settled_ts: int, cursor: str | None, limit: int
    ) -> MarketsPage:
        """One page of live settled markets of ``series`` settled within [min, max] (Unix seconds)."""
        params = query(
            series_ticker=series,
            status="settled",
            min_settled_ts=min_settled_ts,
            max_settled_ts=max_settled_ts,
            limit=limit,
            cursor=cursor or None,
        )
        return decode(await self.http.get("/markets", params), MarketsPage, "GET /markets")

    async def historical_markets(self, series: str, *, cursor: str | None, limit: int) -> MarketsPage:
        """One page of archived markets of ``series`` (no time filter exists on this endpoint)."""
        params = query(series_ticker=series, limit=limit, cursor=cursor or None)
        return decode(
            await self.http.get("/historical/markets", params), MarketsPage, "GET /historical/markets"
        )

    async def candlesticks(
        self, series: str, ticker: str, *, start_ts: int, end_ts: int, archived: bool
    ) -> list[Candlestick]:
        """One-minute candles ending within [start_ts, end_ts], from the tier that holds the market."""
        params = query(start_ts=start_ts, end_ts=end_ts, period_interval=1)
        if archived:
            path = f"/historical/markets/{_seg(ticker)}/candlesticks"
            old = decode(await self.http.get(path, params), _HistoricalCandlesticks, f"GET {path}")
            return [c.as_live() for c in old.candlesticks or ()]
        path = f"/series/{_seg(series)}/markets/{_seg(ticker)}/candlesticks"
        live = decode(await self.http.get(path, params), CandlesticksResponse, f"GET {path}")
        return list(live.candlesticks or ())

    async def trades(self, ticker: str, *, cursor: str | None, limit: int, archived: bool) -> TradesPage:
        """One page of a market's public trades, newest first, from the live or the historical tier."""
        path = "/historical/trades" if archived else "/markets/trades"
        params = query(ticker=ticker, limit=limit, cursor=cursor or None)
        return decode(await self.http.get(path, params), TradesPage, f"GET {path}")


__all__ = ["MAX_PAGE", "HistoricalCutoff", "KalshiHistoryApi", "kalshi_error"]
