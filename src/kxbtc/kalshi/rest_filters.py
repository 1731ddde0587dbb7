"""The query filters of Kalshi's cursor-paged list endpoints, one set per endpoint.

``KalshiRestClient.get_X`` (one page, plus ``cursor``) and ``iter_X`` (every item, following cursors) take the
same keyword arguments, typed once here. Every key may be left out; None means "no filter", as does an
empty sequence. Timestamps are Unix seconds; ``limit`` is the page size.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypedDict


class EventFilters(TypedDict, total=False):
    """``GET /events``. ``event_tickers`` goes out as the API's comma-joined ``event_ticker``."""

    series_ticker: str | None
    status: str | None
    with_nested_markets: bool | None
    event_tickers: Sequence[str] | None
    min_close_ts: int | None
    limit: int | None


class MarketFilters(TypedDict, total=False):
    """``GET /markets``. ``extra`` passes other filters as they are (``min_close_ts`` ...)."""

    series_ticker: str | None
    event_ticker: str | None
    status: str | None
    tickers: Sequence[str] | None
    limit: int | None
    extra: Mapping[str, int | str] | None


class TradeFilters(TypedDict, total=False):
    """``GET /markets/trades``."""

    ticker: str | None
    min_ts: int | None
    max_ts: int | None
    limit: int | None


class FillFilters(TypedDict, total=False):
    """``GET /portfolio/fills``."""

    ticker: str | None
    order_id: str | None
    min_ts: int | None
    max_ts: int | None
    subaccount: int | None
    exchange_index: int | None
    limit: int | None


class OrderFilters(TypedDict, total=False):
    """``GET /portfolio/orders`` (newest first)."""

    ticker: str | None
    event_ticker: str | None
    status: str | None
    min_ts: int | None
    max_ts: int | None
    subaccount: int | None
    exchange_index: int | None
    limit: int | None


class SettlementFilters(TypedDict, total=False):
    """``GET /portfolio/settlements``."""

    ticker: str | None
    event_ticker: str | None
    min_ts: int | None
    max_ts: int | None
    subaccount: int | None
    limit: int | None


__all__ = [
    "EventFilters",
    "FillFilters",
    "MarketFilters",
    "OrderFilters",
    "SettlementFilters",
    "TradeFilters",
]
