"""Public market data endpoints: exchange status, series, events, markets, order books, trades, candles."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Unpack

from kxbtc.kalshi.rest_filters import EventFilters, MarketFilters, TradeFilters
from kxbtc.kalshi.rest_messages import (
    Candlestick,
    CandlesticksResponse,
    Event,
    EventResponse,
    EventsPage,
    ExchangeStatus,
    Market,
    MarketOrderbook,
    MarketResponse,
    MarketsPage,
    OrderbookFp,
    OrderbookResponse,
    OrderbooksResponse,
    Series,
    SeriesFeeChange,
    SeriesFeeChanges,
    SeriesList,
    SeriesResponse,
    Trade,
    TradesPage,
    UserDataTimestamp,
)
from kxbtc.kalshi.rest_paging import EVENTS_LIST, MARKETS_LIST, TRADES_LIST, PagedReads
from kxbtc.kalshi.rest_transport import Params, path_segment, query_params


def _event_query(filters: EventFilters) -> Params:
    """``event_tickers`` goes out as the comma-joined ``event_ticker`` the API names it."""
    renamed = {("event_ticker" if key == "event_tickers" else key): value for key, value in filters.items()}
    return query_params(**renamed)


def _market_query(filters: MarketFilters) -> Params:
    """The named filters, then ``extra`` as it is."""
    named = {key: value for key, value in filters.items() if key != "extra"}
    return query_params(**named, **dict(filters.get("extra") or {}))


class MarketDataEndpoints(PagedReads):
    """Exchange, series, events and markets: public, no signature needed."""

    async def get_exchange_status(self) -> ExchangeStatus:
        return await self._get("/exchange/status", ExchangeStatus)

    async def get_user_data_timestamp(self) -> UserDataTimestamp:
        return await self._get("/exchange/user_data_timestamp", UserDataTimestamp)

    async def get_series(self, series_ticker: str) -> Series:
        return (await self._get(f"/series/{path_segment(series_ticker)}", SeriesResponse)).series

    async def list_series(self, *, category: str | None = None, tags: str | None = None) -> list[Series]:
        page = await self._get("/series", SeriesList, query_params(category=category, tags=tags))
        return page.series or []

    async def get_series_fee_changes(
        self, series_ticker: str | None = None, *, show_historical: bool | None = None
    ) -> list[SeriesFeeChange]:
        params = query_params(series_ticker=series_ticker, show_historical=show_historical)
        return (await self._get("/series/fee_changes", SeriesFeeChanges, params)).series_fee_change_arr or []

    async def get_events(self, *, cursor: str | None = None, **filters: Unpack[EventFilters]) -> EventsPage:
        return await self._get_page(EVENTS_LIST, _event_query(filters), cursor)

    def iter_events(self, **filters: Unpack[EventFilters]) -> AsyncIterator[Event]:
        return self._iter_items(EVENTS_LIST, _event_query(filters))

    async def get_event(self, event_ticker: str, *, with_nested_markets: bool = True) -> EventResponse:
        params = query_params(with_nested_markets=with_nested_markets)
        return await self._get(f"/events/{path_segment(event_ticker)}", EventResponse, params)

    async def get_markets(
        self, *, cursor: str | None = None, **filters: Unpack[MarketFilters]
    ) -> MarketsPage:
        """One page of ``GET /markets``. ``extra`` passes other filters (``min_close_ts`` ...)."""
        return await self._get_page(MARKETS_LIST, _market_query(filters), cursor)

    def iter_markets(self, **filters: Unpack[MarketFilters]) -> AsyncIterator[Market]:
        """Every market matching the filters, following cursors to the last page."""
        return self._iter_items(MARKETS_LIST, _market_query(filters))

    async def get_market(self, ticker: str) -> Market:
        return (await self._get(f"/markets/{path_segment(ticker)}", MarketResponse)).market

    async def get_orderbook(self, ticker: str, *, depth: int | None = None) -> OrderbookFp:
        """Bids per leg. Take the best bid as the max price: the array order is not settled."""
        params = query_params(depth=depth)
        return (
            await self._get(f"/markets/{path_segment(ticker)}/orderbook", OrderbookResponse, params)
        ).orderbook_fp

    async def get_orderbooks(self, tickers: Sequence[str]) -> list[MarketOrderbook]:
        if not 1 <= len(tickers) <= 100:
            raise ValueError("get_orderbooks takes 1 to 100 tickers")
        params: Params = [("tickers", t) for t in tickers]  # repeated, not comma-joined
        return (await self._get("/markets/orderbooks", OrderbooksResponse, params)).orderbooks or []

    async def get_trades(self, *, cursor: str | None = None, **filters: Unpack[TradeFilters]) -> TradesPage:
        return await self._get_page(TRADES_LIST, query_params(**filters), cursor)

    def iter_trades(self, **filters: Unpack[TradeFilters]) -> AsyncIterator[Trade]:
        return self._iter_items(TRADES_LIST, query_params(**filters))

    async def get_candlesticks(
        self, series_ticker: str, ticker: str, *, start_ts: int, end_ts: int, period_interval: int = 1
    ) -> list[Candlestick]:
        """Candles of ``period_interval`` minutes (1, 60 or 1440) between Unix seconds start and end."""
        path = f"/series/{path_segment(series_ticker)}/markets/{path_segment(ticker)}/candlesticks"
        params = query_params(start_ts=start_ts, end_ts=end_ts, period_interval=period_interval)
        return (await self._get(path, CandlesticksResponse, params)).candlesticks or []
