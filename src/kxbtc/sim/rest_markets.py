"""The public REST endpoints of the simulator: exchange status and schedule, series, events, markets,
order books, trades, candlesticks and endpoint costs."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from multidict import MultiMapping

from kxbtc.clock import NS_PER_S
from kxbtc.sim import wire
from kxbtc.sim.accounts import Trade
from kxbtc.sim.exchange import Exchange, SimRejection
from kxbtc.sim.markets import Event
from kxbtc.sim.rate_limits import DEFAULT_COST, ENDPOINT_COSTS
from kxbtc.sim.request_decoding import QueryValidationError, query_int
from kxbtc.sim.rest_query import now_s, opt_int, opt_str, paging_params
from kxbtc.sim.rest_routing import Call, json_response
from kxbtc.sim.server_config import API_PREFIX
from kxbtc.units import Count, format_count, format_price


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

    def _candles(self, ticker: str, q: MultiMapping[str], operation: str) -> list[dict[str, Any]]:
        interval = query_int(q, "period_interval", operation, default=1)
        if interval not in (1, 60, 1440):
            raise QueryValidationError(
                f"Parameter validation failed for {operation}: Key: '{operation}Params.PeriodInterval' "
                "Error:Field validation for 'PeriodInterval' failed on the 'oneof' tag"
            )
        now = now_s(self.x)
        end_ts = opt_int(q, "end_ts", operation) or now
        start_ts = opt_int(q, "start_ts", operation) or end_ts - 3600
        page = self.x.trades_page(ticker=ticker, min_ts=start_ts, limit=1000).items
        trades = [t for t in page if t.ts_ns // NS_PER_S <= end_ts]
        return trade_candles(self.x, ticker, trades, start_ts, end_ts, interval * 60)

    # -- rate limits------------------------------------------------------------------------------------

    async def endpoint_costs(self, call: Call) -> web.Response:
        costs = [{"cost": c, "method": m, "path": API_PREFIX + p} for c, m, p in ENDPOINT_COSTS]
        return json_response({"default_cost": DEFAULT_COST, "endpoint_costs": costs})


def trade_candles(
    exchange: Exchange, ticker: str, trades: list[Trade], start_ts: int, end_ts: int, period_s: int
) -> list[dict[str, Any]]:
    """Trade-price candles per period that saw trades. The simulator keeps no quote history, so the
    ``yes_bid``/``yes_ask`` candles repeat the current top of book."""
    bid, _, ask, _ = exchange.top_of_book(ticker)
    flat_bid = {
        k: format_price(bid) for k in ("open_dollars", "low_dollars", "high_dollars", "close_dollars")
    }
    flat_ask = {
        k: format_price(ask) for k in ("open_dollars", "low_dollars", "high_dollars", "close_dollars")
    }
    periods: dict[int, list[Trade]] = {}
    for trade in sorted(trades, key=lambda t: t.ts_ns):
        ts = trade.ts_ns // NS_PER_S
        end = -(-ts // period_s) * period_s
        periods.setdefault(end, []).append(trade)
    out: list[dict[str, Any]] = []
    previous: Trade | None = None
    for end in sorted(periods):
        items = periods[end]
        prices = [t.price for t in items]
        volume = sum(t.count for t in items)
        mean = sum(t.price * t.count for t in items) // max(volume, 1)
        price = {
            "open_dollars": format_price(prices[0]),
            "low_dollars": format_price(min(prices)),
            "high_dollars": format_price(max(prices)),
            "close_dollars": format_price(prices[-1]),
            "mean_dollars": format_price(mean),
            "min_dollars": format_price(min(prices)),
            "max_dollars": format_price(max(prices)),
        }
        if previous is not None:
            price["previous_dollars"] = format_price(previous.price)
        previous = items[-1]
        if start_ts <= end - period_s and end <= end_ts + period_s:
            out.append(
                {
                    "end_period_ts": end,
                    "yes_bid": flat_bid,
                    "yes_ask": flat_ask,
                    "price": price,
                    "volume_fp": format_count(Count(volume)),
                    "open_interest_fp": format_count(exchange.markets[ticker].open_interest),
                }
            )
    return out
