"""The private REST reads of the simulator (account limits, balance, positions, fills, settlements, orders,
queue positions) and the intra-exchange transfers."""

from __future__ import annotations

from aiohttp import web

from kxbtc.sim import wire
from kxbtc.sim.exchange import Exchange, SimRejection
from kxbtc.sim.request_decoding import QueryValidationError, query_int
from kxbtc.sim.requests import parse_transfer
from kxbtc.sim.rest_query import opt_int, opt_str, portfolio_paging, portfolio_query
from kxbtc.sim.rest_routing import Call, json_response
from kxbtc.sim.server_config import ServerConfig
from kxbtc.units import Money, format_count


class PortfolioEndpoints:
    """A user's account and portfolio over one ``Exchange``; ``kxbtc.sim.rest_api`` lists the routes."""

    def __init__(self, exchange: Exchange, config: ServerConfig) -> None:
        self.x = exchange
        self.config = config

    # -- account ----------------------------------------------------------------------------------------

    async def account_limits(self, call: Call) -> web.Response:
        read, write = self.config.read_rate, self.config.write_rate
        return json_response(
            {
                "grants": [],
                "read": {"bucket_capacity": read, "refill_rate": read},
                "usage_tier": "basic",
                "write": {"bucket_capacity": write, "refill_rate": write},
            }
        )

    # -- portfolio reads --------------------------------------------------------------------------------

    async def balance(self, call: Call) -> web.Response:
        q = call.query
        balance = self.x.balance(
            call.user,
            subaccount=query_int(q, "subaccount", "GetBalance", default=0),
            exchange_index=opt_int(q, "exchange_index", "GetBalance"),
        )
        return json_response(wire.balance_json(balance))

    async def positions(self, call: Call) -> web.Response:
        q = call.query
        page = self.x.positions_page(
            call.user,
            ticker=opt_str(q, "ticker"),
            event_ticker=opt_str(q, "event_ticker"),
            count_filter=opt_str(q, "count_filter"),
            subaccount=opt_int(q, "subaccount", "GetPositions"),
            exchange_index=opt_int(q, "exchange_index", "GetPositions"),
            **portfolio_paging(q, "GetPositions"),
        )
        return json_response(wire.positions_json(page))

    async def fills(self, call: Call) -> web.Response:
        order_id = opt_str(call.query, "order_id")
        page = self.x.fills_page(call.user, order_id=order_id, **portfolio_query(call.query, "GetFills"))
        return json_response(wire.page_json("fills", page, wire.fill_json))

    async def settlements(self, call: Call) -> web.Response:
        event_ticker = opt_str(call.query, "event_ticker")
        query = portfolio_query(call.query, "GetSettlements")
        page = self.x.settlements_page(call.user, event_ticker=event_ticker, **query)
        return json_response(wire.page_json("settlements", page, wire.settlement_json))

    async def orders(self, call: Call) -> web.Response:
        event_ticker, status = opt_str(call.query, "event_ticker"), opt_str(call.query, "status")
        query = portfolio_query(call.query, "GetOrders")
        page = self.x.orders_page(call.user, event_ticker=event_ticker, status=status, **query)
        return json_response(wire.page_json("orders", page, wire.order_json))

    async def order(self, call: Call) -> web.Response:
        return json_response({"order": wire.order_json(self.x.order(call.user, call.match("order_id")))})

    async def queue_position(self, call: Call) -> web.Response:
        ahead = self.x.queue_position(call.user, call.match("order_id"))
        return json_response({"queue_position_fp": format_count(ahead)})

    async def queue_positions(self, call: Call) -> web.Response:
        tickers = {t for t in call.query.get("market_tickers", "").split(",") if t}
        event = opt_str(call.query, "event_ticker")
        if not tickers and event is None:
            raise QueryValidationError("market_tickers or event_ticker is required")
        page = self.x.orders_page(call.user, status="resting", limit=1000)
        out = [
            {
                "order_id": o.order_id,
                "market_ticker": o.ticker,
                "queue_position_fp": format_count(self.x.queue_position(call.user, o.order_id)),
            }
            for o in page.items
            if o.ticker in tickers or o.event_ticker == event
        ]
        return json_response({"queue_positions": out})

    # -- transfers --------------------------------------------------------------------------------------

    async def transfer(self, call: Call) -> web.Response:
        request = parse_transfer(await call.body())
        record = self.x.transfer(
            call.user,
            source_shard=request.source_exchange_shard,
            destination_shard=request.destination_exchange_shard,
            amount=Money(request.amount_centicents * 100),
            subaccount=request.subaccount,
        )
        return json_response({"transfer_id": record.transfer_id})

    async def transfers(self, call: Call) -> web.Response:
        query_int(
            call.query,
            "limit",
            "GetIntraExchangeInstanceTransfers",
            default=100,
            low=0,
            high=500,
            tags=("min", "max"),
        )
        records = sorted(self.x.transfers_of(call.user), key=lambda t: t.created_ns, reverse=True)
        return json_response({"transfers": [wire.transfer_json(t) for t in records]})

    async def transfer_get(self, call: Call) -> web.Response:
        wanted = call.match("transfer_id")
        for record in self.x.transfers_of(call.user):
            if record.transfer_id == wanted:
                return json_response({"transfer": wire.transfer_json(record)})
        raise SimRejection(404, "not_found", "not found")
