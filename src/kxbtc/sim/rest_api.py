"""Kalshi's REST API over one simulated ``Exchange``: the route table, whose handlers are the market,
portfolio and order endpoints."""

from __future__ import annotations

from kxbtc.sim.exchange import Exchange
from kxbtc.sim.rest_history import HistoryEndpoints
from kxbtc.sim.rest_markets import MarketEndpoints
from kxbtc.sim.rest_orders import OrderEndpoints
from kxbtc.sim.rest_portfolio import PortfolioEndpoints
from kxbtc.sim.rest_routing import Route
from kxbtc.sim.server_config import ServerConfig


class RestApi:
    """Kalshi's REST endpoints over one ``Exchange``."""

    def __init__(self, exchange: Exchange, config: ServerConfig) -> None:
        self.markets = MarketEndpoints(exchange)
        self.portfolio = PortfolioEndpoints(exchange, config)
        self.orders = OrderEndpoints(exchange)
        self.history = HistoryEndpoints(exchange)

    def routes(self) -> list[Route]:
        markets, portfolio, orders, history = self.markets, self.portfolio, self.orders, self.history
        return [
            Route("GET", "/historical/cutoff", history.cutoff, "public"),
            Route("GET", "/historical/markets", history.markets, "public"),
            Route("GET", "/historical/markets/{ticker}", history.market, "public"),
            Route("GET", "/historical/markets/{ticker}/candlesticks", history.candlesticks, "public"),
            Route("GET", "/historical/trades", history.trades, "public"),
            Route("GET", "/exchange/status", markets.exchange_status, "public"),
            Route("GET", "/exchange/schedule", markets.exchange_schedule, "public"),
            Route("GET", "/exchange/user_data_timestamp", markets.user_data_timestamp, "public"),
            Route("GET", "/series/fee_changes", markets.series_fee_changes, "public"),
            Route("GET", "/series", markets.series_list, "public"),
            Route("GET", "/series/{series_ticker}", markets.series, "public"),
            Route(
                "GET", "/series/{series_ticker}/markets/{ticker}/candlesticks", markets.candlesticks, "public"
            ),
            Route("GET", "/events/fee_changes", markets.event_fee_changes, "public"),
            Route("GET", "/events", markets.events, "public"),
            Route("GET", "/events/{event_ticker}", markets.event, "public"),
            Route("GET", "/markets/trades", markets.trades, "public"),
            Route("GET", "/markets/orderbooks", markets.orderbooks, "optional"),
            Route("GET", "/markets/candlesticks", markets.batch_candlesticks, "public"),
            Route("GET", "/markets", markets.markets, "public"),
            Route("GET", "/markets/{ticker}", markets.market, "public"),
            Route("GET", "/markets/{ticker}/orderbook", markets.orderbook, "optional"),
            Route("GET", "/account/endpoint_costs", markets.endpoint_costs, "public"),
            Route("GET", "/account/limits", portfolio.account_limits, "private"),
            Route("GET", "/portfolio/balance", portfolio.balance, "private"),
            Route("GET", "/portfolio/positions", portfolio.positions, "private"),
            Route("GET", "/portfolio/fills", portfolio.fills, "private"),
            Route("GET", "/portfolio/settlements", portfolio.settlements, "private"),
            Route("GET", "/portfolio/orders/queue_positions", portfolio.queue_positions, "private"),
            Route(
                "POST",
                "/portfolio/orders/batched",
                orders.legacy_batch_create,
                "private",
                "write",
                True,
                per_item=True,
            ),
            Route(
                "DELETE",
                "/portfolio/orders/batched",
                orders.legacy_batch_cancel,
                "private",
                "write",
                True,
                per_item=True,
            ),
            Route("GET", "/portfolio/orders", portfolio.orders, "private"),
            Route("POST", "/portfolio/orders", orders.legacy_create, "private", "write", True),
            Route("GET", "/portfolio/orders/{order_id}", portfolio.order, "private"),
            Route("DELETE", "/portfolio/orders/{order_id}", orders.legacy_cancel, "private", "write", True),
            Route("GET", "/portfolio/orders/{order_id}/queue_position", portfolio.queue_position, "private"),
            Route(
                "POST", "/portfolio/orders/{order_id}/amend", orders.legacy_amend, "private", "write", True
            ),
            Route(
                "POST",
                "/portfolio/orders/{order_id}/decrease",
                orders.legacy_decrease,
                "private",
                "write",
                True,
            ),
            Route(
                "POST",
                "/portfolio/events/orders/batched",
                orders.batch_create,
                "private",
                "write",
                True,
                per_item=True,
            ),
            Route(
                "DELETE",
                "/portfolio/events/orders/batched",
                orders.batch_cancel,
                "private",
                "write",
                True,
                per_item=True,
            ),
            Route("POST", "/portfolio/events/orders", orders.create, "private", "write", True),
            Route("DELETE", "/portfolio/events/orders/{order_id}", orders.cancel, "private", "write", True),
            Route(
                "POST", "/portfolio/events/orders/{order_id}/amend", orders.amend, "private", "write", True
            ),
            Route(
                "POST",
                "/portfolio/events/orders/{order_id}/decrease",
                orders.decrease,
                "private",
                "write",
                True,
            ),
            Route(
                "POST", "/portfolio/intra_exchange_instance_transfer", portfolio.transfer, "private", "write"
            ),
            Route("GET", "/portfolio/intra_exchange_instance_transfers", portfolio.transfers, "private"),
            Route(
                "GET",
                "/portfolio/intra_exchange_instance_transfers/{transfer_id}",
                portfolio.transfer_get,
                "private",
            ),
        ]
