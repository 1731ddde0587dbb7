"""The public REST endpoints of the simulator: exchange status and schedule, series, events, markets,
order books, trades, candlesticks and endpoint costs."""

from __future__ import annotations

from aiohttp import web
from multidict import MultiMapping

from kxbtc.sim import wire
from kxbtc.sim.exchange import Exchange, SimRejection
from kxbtc.sim.history_tier import cutoff_ns, market_in_tier
from kxbtc.sim.markets import Event
from kxbtc.sim.rate_limits import DEFAULT_COST, ENDPOINT_COSTS
from kxbtc.sim.request_decoding import QueryValidationError, query_int
from kxbtc.sim.rest_query import now_s, opt_int, opt_str, paging_params
from kxbtc.sim.rest_routing import Call, json_response
from kxbtc.sim.server_config import API_PREFIX


class MarketEndpoints:
    """Market data over one ``Exchange``; the routes are listed in ``kxbtc.sim.rest_api``."""

    def __init__(self, exchange: Exchange) -> None:
        self.x = exchange

    # -- exchange ---------------------------------------------------------------------------------------

    async def exchange_status(self, call: Call) -> web.Response:
        status = self.x.exchange_status()
        return json_response(
            {"exchange_active": status.exchange_active, "trading_active": status.trading_active}
        )

    async def exchange_schedule(self, call: Call) -> web.Response:
        # BTC markets trade around the clock; the weekly maintenance window is not simulated.
        day = [{"open_time": "00:00", "close_time": "24:00"}]
        week = {
            d: day for d in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
        }
        hours = {"start_time": "2026-01-01T00:00:00Z", "end_time": "2099-01-01T00:00:00Z", **week}
        return json_response({"schedule": {"standard_hours": [hours], "maintenance_windows": []}})

    async def user_data_timestamp(self, call: Call) -> web.Response:
        return json_response({"as_of_time": wire.rfc3339(self.x.now_ns())})

    # -- series, events, markets ------------------------------------------------------------------------

    async def series_fee_changes(self, call: Call) -> web.Response:
        return json_response({"series_fee_change_arr": []})

    async def event_fee_changes(self, call: Call) -> web.Response:
        query_int(
            call.query, "limit", "GetEventFeeChanges", default=100, low=1, high=1000, tags=("min", "max")
        )
        return json_response({"event_fee_changes": [], "cursor": ""})

    async def series_list(self, call: Call) -> web.Response:
        return json_response({"series": [wire.series_json(s) for s in self.x.series_list()]})

    async def series(self, call: Call) -> web.Response:
        return json_response({"series": wire.series_json(self.x.series(call.match("series_ticker")))})

    async def events(self, call: Call) -> web.Response:
        q = call.query
        paging = paging_params(q, "GetEvents", default=200, high=200)
        page = self.x.events_page(
            series_ticker=opt_str(q, "series_ticker"), status=opt_str(q, "status"), **paging
        )
        nested = q.get("with_nested_markets", "").lower() == "true"

        def render(event: Event) -> wire.Json:
            if not nested:
                return wire.event_json(event, None)
            markets = [self.x.markets[t] for t in event.market_tickers if t in self.x.markets]
            return wire.event_json(event, [wire.market_json(self.x, m) for m in markets])

        return json_response(wire.page_json("events", page, render))

    async def event(self, call: Call) -> web.Response:
        event, markets = self.x.event(call.match("event_ticker"))
        nested = call.query.get("with_nested_markets", "").lower() == "true"
        rendered = [wire.market_json(self.x, m) for m in markets]
        return json_response(
            {
                "event": wire.event_json(event, rendered if nested else None),
                "markets": [] if nested else rendered,
            }
        )

    async def markets(self, call: Call) -> web.Response:
        q = call.query
        paging = paging_params(q, "GetMarkets")
        tickers = [t for t in q.get("tickers", "").split(",") if t]
        page = self.x.markets_page(
            event_ticker=opt_str(q, "event_ticker"),
            series_ticker=opt_str(q, "series_ticker"),
            tickers=tickers or None,
            status=opt_str(q, "status"),
            min_close_ts=opt_int(q, "min_close_ts", "GetMarkets"),
            max_close_ts=opt_int(q, "max_close_ts", "GetMarkets"),
            min_settled_ts=opt_int(q, "min_settled_ts", "GetMarkets"),
            max_settled_ts=opt_int(q, "max_settled_ts", "GetMarkets"),
            tier="live",
            **paging,
        )
        return json_response(wire.page_json("markets", page, lambda m: wire.market_json(self.x, m)))

    async def market(self, call: Call) -> web.Response:
        return json_response({"market": wire.market_json(self.x, self.x.market(call.match("ticker")))})

    async def orderbook(self, call: Call) -> web.Response:
        depth = query_int(
            call.query, "depth", "GetMarketOrderbook", default=0, low=0, high=100, tags=("min", "max")
        )
        return json_response(wire.orderbook_json(self.x.orderbook(call.match("ticker"), depth)))

    async def orderbooks(self, call: Call) -> web.Response:
        tickers = [t for value in call.query.getall("tickers", []) for t in value.split(",") if t]
        if not 1 <= len(tickers) <= 100:
            raise QueryValidationError(
                "Parameter validation failed for GetMultipleMarketOrderbooks: Key: "
                "'GetMultipleMarketOrderbooksParams.Tickers' Error:Field validation for 'Tickers' "
                f"failed on the '{'min' if not tickers else 'max'}' tag"
            )
        books = [{"ticker": t, **wire.orderbook_json(self.x.orderbook(t))} for t in tickers]
        return json_response({"orderbooks": books})

    async def trades(self, call: Call) -> web.Response:
        q = call.query
        paging = paging_params(q, "GetTrades")
        page = self.x.trades_page(
            ticker=opt_str(q, "ticker"),
            min_ts=opt_int(q, "min_ts", "GetTrades"),
            max_ts=opt_int(q, "max_ts", "GetTrades"),
            tier="live",
            **paging,
        )
        return json_response(wire.page_json("trades", page, wire.trade_json))

    async def candlesticks(self, call: Call) -> web.Response:
        ticker = call.match("ticker")
        market = self.x.market(ticker)
        if market.series_ticker != call.match("series_ticker"):
            raise SimRejection(404, "not_found", "not found")
        return json_response(
            {"ticker": ticker, "candlesticks": self._candles(ticker, call.query, "GetMarketCandlesticks")}
        )

    async def batch_candlesticks(self, call: Call) -> web.Response:
        tickers = [t for t in call.query.get("market_tickers", "").split(",") if t]
        out = []
        for ticker in tickers[:100]:
            self.x.market(ticker)
            out.append(
                {
                    "market_ticker": ticker,
                    "candlesticks": self._candles(ticker, call.query, "BatchGetMarketCandlesticks"),
                }
            )
        return json_response({"markets": out})

    def _candles(self, ticker: str, q: MultiMapping[str], operation: str) -> list[wire.Json]:
        """The exchange's one-minute records (top of book sampled each second, trades) rolled up to
        ``period_interval``; a market the historical tier holds is not found here, as on Kalshi."""
        interval = query_int(q, "period_interval", operation, default=1)
        if interval not in (1, 60, 1440):
            raise QueryValidationError(
                f"Parameter validation failed for {operation}: Key: '{operation}Params.PeriodInterval' "
                "Error:Field validation for 'PeriodInterval' failed on the 'oneof' tag"
            )
        if not market_in_tier(self.x.market(ticker).settled_ns, cutoff_ns(self.x.state), "live"):
            raise SimRejection(404, "not_found", "not found")
        # Without end_ts, up to the end of the period in progress, so its candle is included.
        end_ts = opt_int(q, "end_ts", operation) or -(-now_s(self.x) // (interval * 60)) * interval * 60
        start_ts = opt_int(q, "start_ts", operation) or end_ts - 3600
        candles = self.x.candlesticks(ticker, start_ts=start_ts, end_ts=end_ts, period_interval=interval)
        return [wire.candlestick_json(c) for c in candles]

    # -- rate limits------------------------------------------------------------------------------------

    async def endpoint_costs(self, call: Call) -> web.Response:
        costs = [{"cost": c, "method": m, "path": API_PREFIX + p} for c, m, p in ENDPOINT_COSTS]
        return json_response({"default_cost": DEFAULT_COST, "endpoint_costs": costs})
