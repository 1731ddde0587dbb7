"""The simulator's HTTP server: Kalshi Trade API v2 REST under ``/trade-api/v2`` and the WebSocket at
``/trade-api/ws/v2``, on one aiohttp application.

Every request passes, in order: trailing-slash redirect (301), route match (404/405 in Kalshi's error
shape), authentication (public routes skip it; orderbook routes accept both), optional per-user token
buckets (429 ``{"error":"too many requests"}``), injected faults, then the handler. ``SimServer`` here
does those steps; ``kxbtc.sim.rest_api`` lists the handlers (market, portfolio and order endpoints), which
parse with ``kxbtc.sim.requests``, call the ``Exchange`` facade and render with ``kxbtc.sim.wire``. An
exception in one handler is logged with its type and answered with a 500; the server keeps serving.

Response shapes that the recordings do not show (404 for unknown paths, 405, 413, 415, 500) use the
nested ``{"error":{"code","message"}}`` envelope that most Kalshi errors use.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from kxbtc.clock import Clock, SystemClock
from kxbtc.sim.auth_check import AuthChecker, AuthFailure
from kxbtc.sim.exchange import Exchange, SimRejection
from kxbtc.sim.faults import FaultInjector, HttpFault, LostResponse
from kxbtc.sim.rate_limits import DEFAULT_COST, ENDPOINT_COSTS, TokenBuckets, cost_of
from kxbtc.sim.request_decoding import RequestError
from kxbtc.sim.rest_api import RestApi
from kxbtc.sim.rest_query import now_s
from kxbtc.sim.rest_routing import (
    TOO_MANY_REQUESTS,
    Access,
    Call,
    Route,
    error_response,
    json_response,
    rejection_response,
)
from kxbtc.sim.server_config import API_PREFIX, WS_PATH, ServerConfig
from kxbtc.sim.ws_server import WsEndpoint

# Importable from here since before the server was split into modules.
__all__ = [
    "API_PREFIX",
    "DEFAULT_COST",
    "ENDPOINT_COSTS",
    "TOO_MANY_REQUESTS",
    "WS_PATH",
    "Call",
    "RestApi",
    "Route",
    "ServerConfig",
    "SimServer",
    "TokenBuckets",
    "error_response",
    "json_response",
    "now_s",
    "rejection_response",
]

log = logging.getLogger(__name__)


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
            # From the raw (still percent-encoded) URL: a decoded "%0a" in a header would be a header
            # injection. One leading slash only: "//evil.com" as a Location is another host.
            url = request.rel_url
            target = "/" + url.raw_path.strip("/\\")
            if url.raw_query_string:
                target += "?" + url.raw_query_string
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
        cost = cost_of(route.method, route.path)

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
                limited = json_response(TOO_MANY_REQUESTS, 429)
                limited.headers.update(self.faults.retry_after_header)
                return limited
            if fault is HttpFault.SERVER_ERROR:
                return error_response(500, "internal_server_error", "internal server error")
            response = await route.handler(Call(request, who, request.query))
            # The answer's own trip back: an order's WebSocket updates can reach the client before it.
            delay = self.faults.delay_seconds()
            if delay:
                await asyncio.sleep(delay)
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
