"""The simulator's HTTP server: Kalshi Trade API v2 REST under ``/trade-api/v2`` and the WebSocket at
``/trade-api/ws/v2``, on one aiohttp application.

Every request passes, in order: trailing-slash redirect (301), route match (404/405 in Kalshi's error
shape), authentication (public routes skip it; orderbook routes accept both), optional per-user token
buckets (429 ``{"error":"too many requests"}``), injected faults, then the handler. Handlers parse with
``kxbtc.sim.requests``, call the ``Exchange`` facade and render with ``kxbtc.sim.wire``. An exception in
one handler is logged with its type and answered with a 500; the server keeps serving.

Response shapes that the recordings do not show (404 for unknown paths, 405, 413, 415, 500) use the
nested ``{"error":{"code","message"}}`` envelope that most Kalshi errors use.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web
from multidict import MultiMapping

from kxbtc.clock import NS_PER_S, Clock, SystemClock
from kxbtc.sim import wire
from kxbtc.sim.accounts import Trade
from kxbtc.sim.auth_check import DEFAULT_MAX_FUTURE_MS, DEFAULT_MAX_PAST_MS, AuthChecker, AuthFailure
from kxbtc.sim.exchange import CreateResult, Exchange, SimRejection
from kxbtc.sim.faults import FaultInjector, FaultSpec, HttpFault, LostResponse
from kxbtc.sim.markets import Event
from kxbtc.sim.paging import DEFAULT_LIMIT, MAX_LIMIT, Paging, PortfolioQuery
from kxbtc.sim.requests import (
    AmendRequest,
    CancelTarget,
    InvalidParameters,
    OrderRequest,
    QueryValidationError,
    RequestError,
    order_from_legacy,
    order_from_v2,
    parse_amend_legacy,
    parse_amend_v2,
    parse_batch_cancel,
    parse_batch_create_legacy,
    parse_batch_create_v2,
    parse_create_order_legacy,
    parse_create_order_v2,
    parse_decrease_legacy,
    parse_decrease_v2,
    parse_transfer,
    query_int,
)
from kxbtc.sim.ws_server import WsEndpoint
from kxbtc.units import Count, Money, format_count, format_price

log = logging.getLogger(__name__)

API_PREFIX = "/trade-api/v2"
WS_PATH = "/trade-api/ws/v2"

Access = Literal["public", "optional", "private"]
Bucket = Literal["read", "write"]


@dataclass(frozen=True)
class ServerConfig:
    max_past_ms: int = DEFAULT_MAX_PAST_MS
    max_future_ms: int = DEFAULT_MAX_FUTURE_MS
    faults: FaultSpec = field(default_factory=FaultSpec)
    fault_seed: int = 0
    #: Per-user token buckets (Basic tier: 200 read / 100 write tokens per second, 1 s of burst).
    rate_limit: bool = False
    read_rate: int = 200
    write_rate: int = 100
    #: Bodies above this size get 413 (Kalshi's limit is not documented).
    max_body_bytes: int = 1 << 20
    heartbeat_s: float = 10.0
    #: Frames queued for one WebSocket client before its subscriptions end with error 25 (slow reader).
    ws_buffer_frames: int = 100_000


def json_response(body: Any, status: int = 200) -> web.Response:
    return web.Response(
        text=json.dumps(body, separators=(",", ":")), status=status, content_type="application/json"
    )


def error_response(status: int, code: str, message: str, details: str = "") -> web.Response:
    error: dict[str, str] = {"code": code, "message": message}
    if details:
        error["details"] = details
    return json_response({"error": error}, status)


def rejection_response(rejection: SimRejection) -> web.Response:
    return json_response(wire.error_body(rejection), rejection.status)


TOO_MANY_REQUESTS: dict[str, Any] = {"error": "too many requests"}

# ---------------------------------------------------------------------------------------------
# Token buckets

#: Non-default costs, as ``GET /account/endpoint_costs`` reported them on demo (2026-06-11).
ENDPOINT_COSTS: list[tuple[int, str, str]] = [
    (30, "POST", "/account/api_usage_level/upgrade"),
    (150, "GET", "/cfbenchmarks"),
    (150, "GET", "/cfbenchmarks/*endpoint"),
    (2, "POST", "/communications/quotes"),
    (2, "DELETE", "/communications/quotes/:quote_id"),
    (5, "GET", "/margin/balance"),
    (2, "PUT", "/multivariate_event_collections/:collection_ticker/lookup"),
    (2, "DELETE", "/portfolio/events/orders/:order_id"),
    (2, "DELETE", "/portfolio/events/orders/batched"),
    (20, "POST", "/portfolio/orders"),
    (4, "DELETE", "/portfolio/orders/:order_id"),
    (2, "GET", "/portfolio/orders/:order_id"),
    (20, "POST", "/portfolio/orders/:order_id/amend"),
    (20, "POST", "/portfolio/orders/:order_id/decrease"),
    (4, "DELETE", "/portfolio/orders/batched"),
    (20, "POST", "/portfolio/orders/batched"),
]
DEFAULT_COST = 10


def _cost_key(path: str) -> str:
    return path.replace("{", ":").replace("}", "")


_COSTS = {(method, path): cost for cost, method, path in ENDPOINT_COSTS}


class TokenBuckets:
    """Kalshi's per-user read and write buckets, refilled continuously on a monotonic clock."""

    def __init__(self, clock: Clock, read_rate: int, write_rate: int) -> None:
        self._clock = clock
        self._rates = {"read": read_rate, "write": write_rate}
        self._state: dict[tuple[str, str], tuple[float, float]] = {}

    def take(self, user: str, bucket: Bucket, cost: int) -> bool:
        rate = self._rates[bucket]
        now = self._clock.monotonic()
        tokens, last = self._state.get((user, bucket), (float(rate), now))
        tokens = min(float(rate), tokens + (now - last) * rate)
        if tokens < cost:
            self._state[(user, bucket)] = (tokens, now)
            return False
        self._state[(user, bucket)] = (tokens - cost, now)
        return True


# ---------------------------------------------------------------------------------------------
# Routing


@dataclass(frozen=True)
class Call:
    """One authenticated (or public) API request as a handler sees it."""

    request: web.Request
    user_id: str | None
    query: MultiMapping[str]

    @property
    def user(self) -> str:
        if self.user_id is None:  # only private routes call this, and they always have a user
            raise SimRejection(401, "authentication_error", "authentication_error", "NOT_FOUND")
        return self.user_id

    def match(self, name: str) -> str:
        return self.request.match_info[name]

    async def body(self) -> bytes:
        return await self.request.read()


Handler = Callable[[Call], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # under API_PREFIX, aiohttp template syntax
    handler: Handler
    access: Access
    bucket: Bucket = "read"
    #: Order-entry writes: the ``lose_response`` fault applies to them.
    order_entry: bool = False
    #: Batch endpoints: the token cost is per order in the batch (kalshi-api.md §3.6, from the docs).
    per_item: bool = False


class SimServer:
    """Owns the aiohttp application for one ``Exchange``."""

    def __init__(
        self,
        exchange: Exchange,
        config: ServerConfig | None = None,
        *,
        auth_clock: Clock | None = None,
    ) -> None:
        self.exchange = exchange
        self.config = config or ServerConfig()
        # Clients sign with their wall clock; the exchange clock may run at --speed, so auth uses real time.
        real_clock = auth_clock or SystemClock()
        self.auth = AuthChecker(
            real_clock, max_past_ms=self.config.max_past_ms, max_future_ms=self.config.max_future_ms
        )
        self.faults = FaultInjector(self.config.faults, self.config.fault_seed)
        self.buckets = TokenBuckets(SystemClock(), self.config.read_rate, self.config.write_rate)
        self.app = web.Application(
            client_max_size=self.config.max_body_bytes, middlewares=[self._error_middleware]
        )
        self.ws = WsEndpoint(self)
        self.app.router.add_get(WS_PATH, self.ws.handle)
        for route in RestApi(exchange, self.config).routes():
            self.app.router.add_route(route.method, API_PREFIX + route.path, self._wrap(route))

    def trust(self, key_id: str, public_key_pem: bytes) -> None:
        self.auth.trust(key_id, public_key_pem)
        self.exchange.ensure_user(key_id)

    # -- middleware -------------------------------------------------------------------------------

    @web.middleware
    async def _error_middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        path = request.path
        if len(path) > 1 and path.endswith("/"):
            target = path.rstrip("/") or "/"
            if request.query_string:
                target += "?" + request.query_string
            return web.Response(status=301, headers={"Location": target})
        try:
            return await handler(request)
        except web.HTTPRequestEntityTooLarge:
            return error_response(413, "request_entity_too_large", "request entity too large")
        except web.HTTPMethodNotAllowed:
            return error_response(405, "method_not_allowed", "method not allowed")
        except web.HTTPNotFound:
            return error_response(404, "not_found", "not found")
        except web.HTTPException:
            raise
        except RequestError as exc:
            return json_response(exc.body(), exc.status)
        except SimRejection as rejection:
            return rejection_response(rejection)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # one bad request must not stop the server; the type is in the log
            log.exception("unhandled %s in %s %s", type(exc).__name__, request.method, path)
            return error_response(500, "internal_server_error", "internal server error")

    def authenticate(self, request: web.Request, access: Access) -> str | AuthFailure | None:
        """The user id, None for an anonymous public request, or the failure to send."""
        if access == "public" or (access == "optional" and not self.auth.has_credentials(request.headers)):
            return None
        outcome = self.auth.check(request.headers, request.method, request.path)
        if isinstance(outcome, AuthFailure):
            return outcome
        return self.exchange.ensure_user(outcome.key_id)

    def _wrap(self, route: Route) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        cost = _COSTS.get((route.method, _cost_key(route.path)), DEFAULT_COST)

        async def handle(request: web.Request) -> web.StreamResponse:
            who = self.authenticate(request, route.access)
            if isinstance(who, AuthFailure):
                return json_response(who.body, who.status)
            if request.method in ("POST", "PUT") and not _json_content_type(request):
                return error_response(415, "unsupported_media_type", "unsupported media type")
            if self.config.rate_limit:
                units = await _batch_size(request) if route.per_item else 1
                if not self.buckets.take(who or request.remote or "", route.bucket, cost * units):
                    return json_response(TOO_MANY_REQUESTS, 429)
            fault = self.faults.http_fault()
            delay = self.faults.delay_seconds()
            if delay:
                await asyncio.sleep(delay)
            if fault is HttpFault.RATE_LIMITED:
                return json_response(TOO_MANY_REQUESTS, 429)
            if fault is HttpFault.SERVER_ERROR:
                return error_response(500, "internal_server_error", "internal server error")
            response = await route.handler(Call(request, who, request.query))
            if route.order_entry:
                lost = self.faults.lost_response()
                if lost is LostResponse.EMPTY_500:
                    return web.Response(status=500)
                if lost is LostResponse.DROP_CONNECTION and request.transport is not None:
                    request.transport.abort()
            return response

        return handle


async def _batch_size(request: web.Request) -> int:
    """Orders in a batch body, for its token cost; 1 when the body is unreadable (the handler says why)."""
    try:
        body = json.loads(await request.read())
    except (ValueError, RecursionError):
        return 1
    if not isinstance(body, dict):
        return 1
    items = body.get("orders") or body.get("ids") or []
    return max(1, len(items)) if isinstance(items, list) else 1


def _json_content_type(request: web.Request) -> bool:
    """A missing Content-Type is accepted (Go decodes the body regardless); a non-JSON one is not."""
    header = request.headers.get("Content-Type")
    if header is None:
        return True
    mime = header.split(";", 1)[0].strip().lower()
    return mime in ("application/json", "") or mime.endswith("+json")


def now_s(exchange: Exchange) -> int:
    return exchange.now_ns() // NS_PER_S


# ---------------------------------------------------------------------------------------------
# REST handlers


def _opt_int(query: MultiMapping[str], name: str, operation: str) -> int | None:
    if query.get(name) in (None, ""):
        return None
    return query_int(query, name, operation, default=0)


def _opt_str(query: MultiMapping[str], name: str) -> str | None:
    value = query.get(name)
    return value or None


def _paging(
    query: MultiMapping[str],
    operation: str,
    *,
    default: int = DEFAULT_LIMIT,
    high: int = MAX_LIMIT,
    tags: tuple[str, str] = ("gte", "lte"),
) -> Paging:
    """``cursor`` and ``limit`` of a list read; a ``limit`` outside 0..``high`` is the validator's 400."""
    limit = query_int(query, "limit", operation, default=default, low=0, high=high, tags=tags)
    return Paging(cursor=query.get("cursor", ""), limit=limit)


def _portfolio_query(query: MultiMapping[str], operation: str) -> PortfolioQuery:
    """The filters and paging that orders, fills and settlements share (their own filters aside)."""
    return PortfolioQuery(
        ticker=_opt_str(query, "ticker"),
        min_ts=_opt_int(query, "min_ts", operation),
        max_ts=_opt_int(query, "max_ts", operation),
        subaccount=_opt_int(query, "subaccount", operation),
        **_portfolio_paging(query, operation),
    )


def _portfolio_paging(query: MultiMapping[str], operation: str) -> Paging:
    return _paging(query, operation, tags=("min", "max"))


def _candles(
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


class RestApi:
    """Kalshi's REST endpoints over one ``Exchange``."""

    def __init__(self, exchange: Exchange, config: ServerConfig) -> None:
        self.x = exchange
        self.config = config

    def routes(self) -> list[Route]:
        return [
            Route("GET", "/exchange/status", self.exchange_status, "public"),
            Route("GET", "/exchange/schedule", self.exchange_schedule, "public"),
            Route("GET", "/exchange/user_data_timestamp", self.user_data_timestamp, "public"),
            Route("GET", "/series/fee_changes", self.series_fee_changes, "public"),
            Route("GET", "/series", self.series_list, "public"),
            Route("GET", "/series/{series_ticker}", self.series, "public"),
            Route(
                "GET", "/series/{series_ticker}/markets/{ticker}/candlesticks", self.candlesticks, "public"
            ),
            Route("GET", "/events/fee_changes", self.event_fee_changes, "public"),
            Route("GET", "/events", self.events, "public"),
            Route("GET", "/events/{event_ticker}", self.event, "public"),
            Route("GET", "/markets/trades", self.trades, "public"),
            Route("GET", "/markets/orderbooks", self.orderbooks, "optional"),
            Route("GET", "/markets/candlesticks", self.batch_candlesticks, "public"),
            Route("GET", "/markets", self.markets, "public"),
            Route("GET", "/markets/{ticker}", self.market, "public"),
            Route("GET", "/markets/{ticker}/orderbook", self.orderbook, "optional"),
            Route("GET", "/account/endpoint_costs", self.endpoint_costs, "public"),
            Route("GET", "/account/limits", self.account_limits, "private"),
            Route("GET", "/portfolio/balance", self.balance, "private"),
            Route("GET", "/portfolio/positions", self.positions, "private"),
            Route("GET", "/portfolio/fills", self.fills, "private"),
            Route("GET", "/portfolio/settlements", self.settlements, "private"),
            Route("GET", "/portfolio/orders/queue_positions", self.queue_positions, "private"),
            Route(
                "POST",
                "/portfolio/orders/batched",
                self.legacy_batch_create,
                "private",
                "write",
                True,
                per_item=True,
            ),
            Route(
                "DELETE",
                "/portfolio/orders/batched",
                self.legacy_batch_cancel,
                "private",
                "write",
                True,
                per_item=True,
            ),
            Route("GET", "/portfolio/orders", self.orders, "private"),
            Route("POST", "/portfolio/orders", self.legacy_create, "private", "write", True),
            Route("GET", "/portfolio/orders/{order_id}", self.order, "private"),
            Route("DELETE", "/portfolio/orders/{order_id}", self.legacy_cancel, "private", "write", True),
            Route("GET", "/portfolio/orders/{order_id}/queue_position", self.queue_position, "private"),
            Route("POST", "/portfolio/orders/{order_id}/amend", self.legacy_amend, "private", "write", True),
            Route(
                "POST",
                "/portfolio/orders/{order_id}/decrease",
                self.legacy_decrease,
                "private",
                "write",
                True,
            ),
            Route(
                "POST",
                "/portfolio/events/orders/batched",
                self.batch_create,
                "private",
                "write",
                True,
                per_item=True,
            ),
            Route(
                "DELETE",
                "/portfolio/events/orders/batched",
                self.batch_cancel,
                "private",
                "write",
                True,
                per_item=True,
            ),
            Route("POST", "/portfolio/events/orders", self.create, "private", "write", True),
            Route("DELETE", "/portfolio/events/orders/{order_id}", self.cancel, "private", "write", True),
            Route("POST", "/portfolio/events/orders/{order_id}/amend", self.amend, "private", "write", True),
            Route(
                "POST",
                "/portfolio/events/orders/{order_id}/decrease",
                self.decrease,
                "private",
                "write",
                True,
            ),
            Route("POST", "/portfolio/intra_exchange_instance_transfer", self.transfer, "private", "write"),
            Route("GET", "/portfolio/intra_exchange_instance_transfers", self.transfers, "private"),
            Route(
                "GET",
                "/portfolio/intra_exchange_instance_transfers/{transfer_id}",
                self.transfer_get,
                "private",
            ),
        ]

    # -- exchange ---------------------------------------------------------------------------------

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

    # -- series, events, markets ------------------------------------------------------------------

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
        paging = _paging(q, "GetEvents", default=200, high=200)
        page = self.x.events_page(
            series_ticker=_opt_str(q, "series_ticker"), status=_opt_str(q, "status"), **paging
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
        paging = _paging(q, "GetMarkets")
        tickers = [t for t in q.get("tickers", "").split(",") if t]
        page = self.x.markets_page(
            event_ticker=_opt_str(q, "event_ticker"),
            series_ticker=_opt_str(q, "series_ticker"),
            tickers=tickers or None,
            status=_opt_str(q, "status"),
            min_close_ts=_opt_int(q, "min_close_ts", "GetMarkets"),
            max_close_ts=_opt_int(q, "max_close_ts", "GetMarkets"),
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
        paging = _paging(q, "GetTrades")
        page = self.x.trades_page(
            ticker=_opt_str(q, "ticker"),
            min_ts=_opt_int(q, "min_ts", "GetTrades"),
            max_ts=_opt_int(q, "max_ts", "GetTrades"),
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
        end_ts = _opt_int(q, "end_ts", operation) or now
        start_ts = _opt_int(q, "start_ts", operation) or end_ts - 3600
        page = self.x.trades_page(ticker=ticker, min_ts=start_ts, limit=1000).items
        trades = [t for t in page if t.ts_ns // NS_PER_S <= end_ts]
        return _candles(self.x, ticker, trades, start_ts, end_ts, interval * 60)

    # -- account ----------------------------------------------------------------------------------

    async def endpoint_costs(self, call: Call) -> web.Response:
        costs = [{"cost": c, "method": m, "path": API_PREFIX + p} for c, m, p in ENDPOINT_COSTS]
        return json_response({"default_cost": DEFAULT_COST, "endpoint_costs": costs})

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

    # -- portfolio reads --------------------------------------------------------------------------

    async def balance(self, call: Call) -> web.Response:
        q = call.query
        balance = self.x.balance(
            call.user,
            subaccount=query_int(q, "subaccount", "GetBalance", default=0),
            exchange_index=_opt_int(q, "exchange_index", "GetBalance"),
        )
        return json_response(wire.balance_json(balance))

    async def positions(self, call: Call) -> web.Response:
        q = call.query
        page = self.x.positions_page(
            call.user,
            ticker=_opt_str(q, "ticker"),
            event_ticker=_opt_str(q, "event_ticker"),
            count_filter=_opt_str(q, "count_filter"),
            subaccount=_opt_int(q, "subaccount", "GetPositions"),
            exchange_index=_opt_int(q, "exchange_index", "GetPositions"),
            **_portfolio_paging(q, "GetPositions"),
        )
        return json_response(wire.positions_json(page))

    async def fills(self, call: Call) -> web.Response:
        order_id = _opt_str(call.query, "order_id")
        page = self.x.fills_page(call.user, order_id=order_id, **_portfolio_query(call.query, "GetFills"))
        return json_response(wire.page_json("fills", page, wire.fill_json))

    async def settlements(self, call: Call) -> web.Response:
        event_ticker = _opt_str(call.query, "event_ticker")
        query = _portfolio_query(call.query, "GetSettlements")
        page = self.x.settlements_page(call.user, event_ticker=event_ticker, **query)
        return json_response(wire.page_json("settlements", page, wire.settlement_json))

    async def orders(self, call: Call) -> web.Response:
        event_ticker, status = _opt_str(call.query, "event_ticker"), _opt_str(call.query, "status")
        query = _portfolio_query(call.query, "GetOrders")
        page = self.x.orders_page(call.user, event_ticker=event_ticker, status=status, **query)
        return json_response(wire.page_json("orders", page, wire.order_json))

    async def order(self, call: Call) -> web.Response:
        return json_response({"order": wire.order_json(self.x.order(call.user, call.match("order_id")))})

    async def queue_position(self, call: Call) -> web.Response:
        ahead = self.x.queue_position(call.user, call.match("order_id"))
        return json_response({"queue_position_fp": format_count(ahead)})

    async def queue_positions(self, call: Call) -> web.Response:
        tickers = {t for t in call.query.get("market_tickers", "").split(",") if t}
        event = _opt_str(call.query, "event_ticker")
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

    # -- transfers --------------------------------------------------------------------------------

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

    # -- V2 order entry ---------------------------------------------------------------------------

    def _create(self, user: str, request: OrderRequest) -> CreateResult:
        return self.x.create_order(user, **_order_kwargs(request))

    async def create(self, call: Call) -> web.Response:
        result = self._create(call.user, parse_create_order_v2(await call.body()))
        return json_response(wire.create_response_json(result), 201)

    def _cancel_query(self, call: Call) -> dict[str, Any]:
        q = call.query
        return {
            "subaccount": _opt_int(q, "subaccount", "CancelOrderV2"),
            "exchange_index": _shard(_opt_int(q, "exchange_index", "CancelOrderV2")),
            "market_ticker": _opt_str(q, "market_ticker"),
        }

    async def cancel(self, call: Call) -> web.Response:
        result = self.x.cancel_order(call.user, call.match("order_id"), **self._cancel_query(call))
        return json_response(wire.cancel_response_json(result))

    async def amend(self, call: Call) -> web.Response:
        request = parse_amend_v2(await call.body())
        result = self.x.amend_order(
            call.user,
            call.match("order_id"),
            subaccount=_opt_int(call.query, "subaccount", "AmendOrderV2"),
            **_amend_kwargs(request),
        )
        return json_response(wire.amend_response_json(result))

    async def decrease(self, call: Call) -> web.Response:
        request = parse_decrease_v2(await call.body())
        result = self.x.decrease_order(
            call.user,
            call.match("order_id"),
            reduce_by=request.reduce_by,
            reduce_to=request.reduce_to,
            subaccount=_opt_int(call.query, "subaccount", "DecreaseOrderV2"),
            exchange_index=request.exchange_index,
            market_ticker=request.market_ticker,
        )
        return json_response(wire.decrease_response_json(result))

    async def batch_create(self, call: Call) -> web.Response:
        items = parse_batch_create_v2(await call.body())
        results = self._batch(call.user, items, order_from_v2)
        return json_response(wire.batch_create_json(results, [i.get("client_order_id") for i in items]), 201)

    def _batch(
        self, user: str, items: list[dict[str, Any]], parse: Callable[[dict[str, Any]], OrderRequest]
    ) -> list[CreateResult | SimRejection]:
        if len(items) > self.x.config.max_batch:
            raise SimRejection(
                400, "invalid_parameters", "invalid parameters", f"at most {self.x.config.max_batch} orders"
            )
        results: list[CreateResult | SimRejection] = []
        for item in items:
            try:
                results.append(self._create(user, parse(item)))
            except InvalidParameters as exc:
                results.append(SimRejection(400, exc.code, exc.message, exc.details))
            except SimRejection as rejection:
                results.append(rejection)
        return results

    async def batch_cancel(self, call: Call) -> web.Response:
        targets = parse_batch_cancel(await call.body())
        results = self.x.batch_cancel(call.user, [_target_dict(t) for t in targets])
        return json_response(wire.batch_cancel_json(results, [t.order_id for t in targets]))

    # -- legacy order entry, translated to V2 -----------------------------------------------------

    def _legacy_shard(self, user: str, order_id: str) -> dict[str, Any]:
        # Legacy endpoints predate sharding: route to the order's own shard so old clients keep working.
        try:
            return {"exchange_index": self.x.order(user, order_id).exchange_index}
        except SimRejection:
            return {}

    async def legacy_create(self, call: Call) -> web.Response:
        result = self._create(call.user, parse_create_order_legacy(await call.body()))
        return json_response({"order": wire.order_json(result.order)}, 201)

    async def legacy_cancel(self, call: Call) -> web.Response:
        order_id = call.match("order_id")
        result = self.x.cancel_order(call.user, order_id, **self._legacy_shard(call.user, order_id))
        return json_response(wire.legacy_cancel_json(result))

    async def legacy_amend(self, call: Call) -> web.Response:
        order_id = call.match("order_id")
        request = parse_amend_legacy(await call.body())
        before = wire.order_json(self.x.order(call.user, order_id))
        result = self.x.amend_order(
            call.user, order_id, **{**_amend_kwargs(request), **self._legacy_shard(call.user, order_id)}
        )
        return json_response({"old_order": before, "order": wire.order_json(result.order)})

    async def legacy_decrease(self, call: Call) -> web.Response:
        order_id = call.match("order_id")
        request = parse_decrease_legacy(await call.body())
        result = self.x.decrease_order(
            call.user,
            order_id,
            reduce_by=request.reduce_by,
            reduce_to=request.reduce_to,
            **self._legacy_shard(call.user, order_id),
        )
        return json_response({"order": wire.order_json(result.order)})

    async def legacy_batch_create(self, call: Call) -> web.Response:
        items = parse_batch_create_legacy(await call.body())
        results = self._batch(call.user, items, order_from_legacy)
        out = []
        for item, result in zip(items, results, strict=True):
            entry: dict[str, Any] = {"client_order_id": item.get("client_order_id", "")}
            if isinstance(result, SimRejection):
                entry["error"] = wire.flat_error(result)
            else:
                entry["order"] = wire.order_json(result.order)
            out.append(entry)
        return json_response({"orders": out}, 201)

    async def legacy_batch_cancel(self, call: Call) -> web.Response:
        targets = parse_batch_cancel(await call.body(), "BatchCancelOrdersRequest")
        out = []
        for target in targets:
            try:
                result = self.x.cancel_order(
                    call.user, target.order_id, **self._legacy_shard(call.user, target.order_id)
                )
            except SimRejection as rejection:
                out.append(
                    {
                        "order_id": target.order_id,
                        "reduced_by_fp": "0.00",
                        "error": wire.flat_error(rejection),
                    }
                )
                continue
            out.append(
                {
                    "order_id": target.order_id,
                    "order": wire.order_json(result.order),
                    "reduced_by_fp": format_count(result.reduced_by),
                }
            )
        return json_response({"orders": out})


def _shard(value: int | None) -> int | None:
    return None if value is None or value < 0 else value


def _order_kwargs(request: OrderRequest) -> dict[str, Any]:
    return {
        "ticker": request.ticker,
        "side": request.side,
        "price": request.price,
        "count": request.count,
        "time_in_force": request.time_in_force,
        "self_trade_prevention_type": request.self_trade_prevention_type,
        "client_order_id": request.client_order_id,
        "post_only": request.post_only,
        "reduce_only": request.reduce_only,
        "cancel_order_on_pause": request.cancel_order_on_pause,
        "expiration_time": request.expiration_time,
        "order_group_id": request.order_group_id,
        "subaccount": request.subaccount,
        "exchange_index": request.exchange_index,
    }


def _amend_kwargs(request: AmendRequest) -> dict[str, Any]:
    return {
        "ticker": request.ticker,
        "side": request.side,
        "price": request.price,
        "count": request.count,
        "client_order_id": request.client_order_id,
        "updated_client_order_id": request.updated_client_order_id,
        "exchange_index": request.exchange_index,
    }


def _target_dict(target: CancelTarget) -> dict[str, Any]:
    return {
        "order_id": target.order_id,
        "subaccount": target.subaccount,
        "exchange_index": target.exchange_index,
        "market_ticker": target.market_ticker,
    }
