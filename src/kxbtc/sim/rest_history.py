"""Kalshi's historical tier over the simulated exchange: ``/historical/cutoff``, ``/historical/markets``
(list and one), ``/historical/markets/{ticker}/candlesticks`` and ``/historical/trades``.

They serve what ``kxbtc.sim.history_tier`` puts before the cutoff, in the shapes of OpenAPI v3.28: the
market and trade objects are the live ones, while historical candles name their fields without the
``_dollars``/``_fp`` suffixes (``MarketCandlestickHistorical``). Like the live lists, the lists are newest
first with an opaque cursor.
"""

from __future__ import annotations

from aiohttp import web

from kxbtc.sim import wire
from kxbtc.sim.exchange import Exchange, SimRejection
from kxbtc.sim.history_tier import cutoff_ns, market_in_tier
from kxbtc.sim.request_decoding import QueryValidationError, query_int
from kxbtc.sim.rest_query import now_s, opt_int, opt_str, paging_params
from kxbtc.sim.rest_routing import Call, json_response


def historical_candle_json(live: wire.Json) -> wire.Json:
    """A live candlestick body in the historical field names: ``open_dollars`` -> ``open``,
    ``volume_fp`` -> ``volume``, ``open_interest_fp`` -> ``open_interest``."""

    def strip(part: wire.Json | None) -> wire.Json | None:
        if part is None:
            return None
        return {key.removesuffix("_dollars"): value for key, value in part.items()}

    return {
        "end_period_ts": live["end_period_ts"],
        "yes_bid": strip(live["yes_bid"]),
        "yes_ask": strip(live["yes_ask"]),
        "price": strip(live["price"]),
        "volume": live["volume_fp"],
        "open_interest": live["open_interest_fp"],
    }


class HistoryEndpoints:
    """The ``/historical`` routes (listed in ``kxbtc.sim.rest_api``)."""

    def __init__(self, exchange: Exchange) -> None:
        self.x = exchange

    def _cutoff(self) -> int:
        self.x.step()
        return cutoff_ns(self.x.state)

    async def cutoff(self, call: Call) -> web.Response:
        at = wire.rfc3339(self._cutoff())
        return json_response(
            {
                "market_settled_ts": at,
                "trades_created_ts": at,
                "orders_updated_ts": at,
                "market_positions_last_updated_ts": at,
            }
        )

    async def markets(self, call: Call) -> web.Response:
        q = call.query
        paging = paging_params(q, "GetHistoricalMarkets")
        tickers = [t for t in q.get("tickers", "").split(",") if t]
        page = self.x.markets_page(
            event_ticker=opt_str(q, "event_ticker"),
            series_ticker=opt_str(q, "series_ticker"),
            tickers=tickers or None,
            tier="historical",
            **paging,
        )
        return json_response(wire.page_json("markets", page, lambda m: wire.market_json(self.x, m)))

    async def market(self, call: Call) -> web.Response:
        market = self.x.market(call.match("ticker"))
        if not market_in_tier(market.settled_ns, self._cutoff(), "historical"):
            raise SimRejection(404, "not_found", "not found")
        return json_response({"market": wire.market_json(self.x, market)})

    async def candlesticks(self, call: Call) -> web.Response:
        ticker = call.match("ticker")
        q = call.query
        operation = "GetMarketCandlesticksHistorical"
        if not market_in_tier(self.x.market(ticker).settled_ns, self._cutoff(), "historical"):
            raise SimRejection(404, "not_found", "not found")
        interval = query_int(q, "period_interval", operation, default=1)
        if interval not in (1, 60, 1440):
            raise QueryValidationError(
                f"Parameter validation failed for {operation}: Key: '{operation}Params.PeriodInterval' "
                "Error:Field validation for 'PeriodInterval' failed on the 'oneof' tag"
            )
        # Without end_ts, up to the end of the period in progress, so its candle is included.
        end_ts = opt_int(q, "end_ts", operation) or -(-now_s(self.x) // (interval * 60)) * interval * 60
        start_ts = opt_int(q, "start_ts", operation) or end_ts - 3600
        candles = self.x.candlesticks(ticker, start_ts=start_ts, end_ts=end_ts, period_interval=interval)
        body = [historical_candle_json(wire.candlestick_json(c)) for c in candles]
        return json_response({"ticker": ticker, "candlesticks": body})

    async def trades(self, call: Call) -> web.Response:
        q = call.query
        page = self.x.trades_page(
            ticker=opt_str(q, "ticker"),
            min_ts=opt_int(q, "min_ts", "GetTradesHistorical"),
            max_ts=opt_int(q, "max_ts", "GetTradesHistorical"),
            tier="historical",
            **paging_params(q, "GetTradesHistorical"),
        )
        return json_response(wire.page_json("trades", page, wire.trade_json))
