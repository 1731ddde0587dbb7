"""A small Kalshi REST stub on 127.0.0.1 for client tests: real HTTP, real signatures, injected faults.

It serves the recorded demo bodies for the read endpoints, keeps a tiny order store for V2 order entry
(duplicate client_order_id -> 409, off-grid price -> 400 invalid_price, numeric count/price -> flat 400
bad_request, unknown cancel -> 404), paginates markets/events/orders with cursors, and verifies every
signature with ``cryptography`` directly (RSA-PSS, SHA-256, any salt length) over
``timestamp + METHOD + /trade-api/v2/...path`` without the query.

Faults are queued per (method, path prefix): ``"429"``, ``"500"``, ``"drop_before"`` (close the
connection without processing) and ``"drop_after"`` (process, then close without answering: a lost
response).
"""

from __future__ import annotations

import base64
import itertools
import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import loopback
from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

PREFIX = "/trade-api/v2"
# Paths answered with a recorded body: relative path -> fixture name.
FIXTURE_ROUTES = {
    "/exchange/status": "exchange__status",
    "/account/limits": "account__limits",
    "/account/endpoint_costs": "account__endpoint_costs",
    "/portfolio/balance": "auth__balance_ok",
    "/portfolio/fills": "fills__after_taker",
    "/portfolio/positions": "portfolio__positions",
    "/portfolio/settlements": "settlements__page",
    "/markets/trades": "trades__public_recorded",
    "/series/fee_changes": "series__fee_changes",
}
PUBLIC_PREFIXES = ("/exchange", "/markets", "/series", "/events")


@dataclass
class Recorded:
    method: str
    path: str  # raw path without query
    query: list[tuple[str, str]]
    body: Any
    headers: dict[str, str]
    signed: bool
    signature_ok: bool


@dataclass
class Fault:
    method: str
    path_prefix: str
    kind: str
    remaining: int = 1


@dataclass
class StubState:
    markets: list[dict[str, Any]] = field(default_factory=list)
    series: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    orders: list[dict[str, Any]] = field(default_factory=list)  # newest last
    transfers: list[dict[str, Any]] = field(default_factory=list)
    #: client_order_id -> number of order-list reads that will not show it yet (read-model lag).
    hidden_reads: dict[str, int] = field(default_factory=dict)
    #: How the last page ends its cursor: "empty" (""), "absent" or "null".
    end_cursor: str = "empty"
    page_size: int = 100


def nested_error(status: int, code: str, message: str) -> web.Response:
    return web.json_response(
        {"error": {"code": code, "message": message, "service": "exchange"}}, status=status
    )


class KalshiStub:
    def __init__(self, fixtures_dir: Path, public_key: rsa.RSAPublicKey, key_id: str) -> None:
        self.fixtures_dir = fixtures_dir
        self.public_key = public_key
        self.key_id = key_id
        self.state = StubState()
        self.requests: list[Recorded] = []
        self.faults: list[Fault] = []
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    # -- lifecycle --------------------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application(middlewares=[self._middleware])
        r = app.router
        r.add_get(PREFIX + "/markets", self._markets)
        r.add_get(PREFIX + "/events", self._events)
        r.add_get(PREFIX + "/series/{series}", self._series)
        r.add_get(PREFIX + "/portfolio/orders", self._list_orders)
        r.add_get(PREFIX + "/portfolio/orders/{order_id}", self._get_order)
        r.add_post(PREFIX + "/portfolio/events/orders", self._create)
        r.add_post(PREFIX + "/portfolio/events/orders/batched", self._batch_create)
        r.add_delete(PREFIX + "/portfolio/events/orders/batched", self._batch_cancel)
        r.add_delete(PREFIX + "/portfolio/events/orders/{order_id}", self._cancel)
        r.add_post(PREFIX + "/portfolio/intra_exchange_instance_transfer", self._transfer)
        for rel, name in FIXTURE_ROUTES.items():
            r.add_get(PREFIX + rel, self._fixture_handler(name))
        r.add_get(PREFIX + "/markets/{ticker}/orderbook", self._fixture_handler("orderbook__base"))
        r.add_get(PREFIX + "/markets/{ticker}", self._market)
        self._runner, port = await loopback.serve(app)
        self.base_url = f"http://127.0.0.1:{port}{PREFIX}"
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # -- test helpers -----------------------------------------------------------------------------

    def inject(self, method: str, path_prefix: str, kind: str, times: int = 1) -> None:
        self.faults.append(Fault(method.upper(), PREFIX + path_prefix, kind, times))

    def calls(self, method: str, path_prefix: str) -> list[Recorded]:
        return [q for q in self.requests if q.method == method and q.path.startswith(PREFIX + path_prefix)]

    # -- plumbing ---------------------------------------------------------------------------------

    def _verify(self, request: web.Request) -> tuple[bool, bool]:
        key = request.headers.get("KALSHI-ACCESS-KEY")
        ts = request.headers.get("KALSHI-ACCESS-TIMESTAMP")
        sig = request.headers.get("KALSHI-ACCESS-SIGNATURE")
        if not (key and ts and sig):
            return False, False
        if key != self.key_id or not ts.isdigit() or abs(int(ts) - time.time() * 1000) > 30_000:
            return True, False
        text = (ts + request.method + request.rel_url.raw_path).encode()
        try:
            self.public_key.verify(
                base64.b64decode(sig, validate=True),
                text,
                padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO),
                hashes.SHA256(),
            )
        except (InvalidSignature, ValueError):
            return True, False
        return True, True

    def _take_fault(self, method: str, path: str) -> str | None:
        for fault in self.faults:
            if fault.remaining > 0 and fault.method == method and path.startswith(fault.path_prefix):
                fault.remaining -= 1
                return fault.kind
        return None

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        raw = await request.read()
        body = json.loads(raw) if raw else None
        signed, ok = self._verify(request)
        self.requests.append(
            Recorded(
                request.method,
                request.rel_url.raw_path,
                list(request.rel_url.query.items()),
                body,
                dict(request.headers),
                signed,
                ok,
            )
        )
        rel = request.rel_url.raw_path.removeprefix(PREFIX)
        if (signed and not ok) or (not signed and not rel.startswith(PUBLIC_PREFIXES)):
            return web.json_response(
                {
                    "error": {
                        "code": "authentication_error",
                        "message": "authentication_error",
                        "details": "INCORRECT_API_KEY_SIGNATURE",
                    }
                },
                status=401,
            )
        fault = self._take_fault(request.method, request.rel_url.raw_path)
        if fault == "429":
            return web.json_response({"error": "too many requests"}, status=429)
        if fault == "500":
            return web.Response(status=500, text="internal server error")
        if fault == "drop_before":
            assert request.transport is not None
            request.transport.close()
            return web.Response(status=500)
        response: web.StreamResponse = await handler(request)
        if fault == "drop_after" and request.transport is not None:
            request.transport.close()
        return response

    def _fixture_handler(self, name: str) -> Any:
        async def handler(request: web.Request) -> web.Response:
            body = (self.fixtures_dir / f"{name}.json").read_bytes()
            return web.Response(body=body, content_type="application/json")

        return handler

    def _page(self, request: web.Request, items: list[dict[str, Any]], key: str) -> web.Response:
        start = int(request.query.get("cursor") or 0)
        limit = int(request.query.get("limit") or self.state.page_size)
        limit = min(limit, self.state.page_size)
        chunk = items[start : start + limit]
        out: dict[str, Any] = {key: chunk}
        if start + limit < len(items):
            out["cursor"] = str(start + limit)
        elif self.state.end_cursor == "empty":
            out["cursor"] = ""
        elif self.state.end_cursor == "null":
            out["cursor"] = None
        return web.json_response(out)

    # -- market data ------------------------------------------------------------------------------

    async def _markets(self, request: web.Request) -> web.Response:
        items = self.state.markets
        if "series_ticker" in request.query:
            items = [m for m in items if m["ticker"].startswith(request.query["series_ticker"] + "-")]
        return self._page(request, items, "markets")

    async def _market(self, request: web.Request) -> web.Response:
        ticker = request.match_info["ticker"]
        for market in self.state.markets:
            if market["ticker"] == ticker:
                return web.json_response({"market": market})
        single = json.loads((self.fixtures_dir / "markets__single.json").read_bytes())
        if single["market"]["ticker"] == ticker:
            return web.json_response(single)
        return nested_error(404, "not_found", "not found")

    async def _series(self, request: web.Request) -> web.Response:
        series = self.state.series.get(request.match_info["series"])
        if series is None:
            return nested_error(404, "not_found", "not found")
        return web.json_response({"series": series})

    async def _events(self, request: web.Request) -> web.Response:
        events = [e for e in self.state.events if e["series_ticker"] == request.query.get("series_ticker")]
        nested = request.query.get("with_nested_markets") == "true"
        out = []
        for event in events:
            copy = dict(event)
            if nested:
                copy["markets"] = [
                    m for m in self.state.markets if m["event_ticker"] == event["event_ticker"]
                ]
            out.append(copy)
        return self._page(request, out, "events")

    # -- orders -----------------------------------------------------------------------------------

    def _reject_numbers(self, order: dict[str, Any]) -> web.Response | None:
        for fld in ("count", "price"):
            if not isinstance(order.get(fld), str):
                return web.json_response(
                    {
                        "code": "bad_request",
                        "message": "bad request",
                        "details": f"json: cannot unmarshal number into Go struct field "
                        f"CreateOrderV2Request.{fld} of type string",
                    },
                    status=400,
                )
        return None

    def _place(self, order: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """(status, body) for one V2 create; the body is flat, as batch items carry it."""
        cid = order.get("client_order_id", "")
        price = order["price"]
        ticks = round(float(price) * 10_000)
        if ticks % 100 or not 0 < ticks < 10_000:
            return 400, {"code": "invalid_price", "message": "invalid price"}
        if cid and any(o["client_order_id"] == cid for o in self.state.orders):
            return 409, {"code": "order_already_exists", "message": "order already exists"}
        now = time.time()
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1e6):06d}Z"
        yes = f"{ticks / 10_000:.4f}"
        record = {
            "order_id": str(uuid.uuid4()),
            "client_order_id": cid,
            "user_id": "stub-user",
            "ticker": order["ticker"],
            "book_side": order["side"],
            "outcome_side": "yes" if order["side"] == "bid" else "no",
            "type": "limit",
            "status": "resting",
            "yes_price_dollars": yes,
            "no_price_dollars": f"{(10_000 - ticks) / 10_000:.4f}",
            "fill_count_fp": "0.00",
            "remaining_count_fp": order["count"],
            "initial_count_fp": order["count"],
            "taker_fill_cost_dollars": "0.000000",
            "maker_fill_cost_dollars": "0.000000",
            "taker_fees_dollars": "0.000000",
            "maker_fees_dollars": "0.000000",
            "created_time": ts,
            "last_update_time": ts,
            "self_trade_prevention_type": order["self_trade_prevention_type"],
            "exchange_index": order.get("exchange_index", 0),
        }
        self.state.orders.append(record)
        return 201, {
            "order_id": record["order_id"],
            "client_order_id": cid,
            "fill_count": "0.00",
            "remaining_count": order["count"],
            "ts_ms": int(now * 1000),
        }

    async def _create(self, request: web.Request) -> web.Response:
        order = await request.json()
        bad = self._reject_numbers(order)
        if bad is not None:
            return bad
        status, body = self._place(order)
        if status >= 400:
            return web.json_response({"error": {**body, "service": "exchange"}}, status=status)
        return web.json_response(body, status=status)

    async def _batch_create(self, request: web.Request) -> web.Response:
        items = (await request.json())["orders"]
        out = []
        for order in items:
            status, body = self._place(order)
            if status >= 400:
                out.append({"client_order_id": order.get("client_order_id"), "error": body})
            else:
                out.append(body)
        return web.json_response({"orders": out}, status=201)

    def _cancel_one(self, order_id: str) -> dict[str, Any] | None:
        for order in self.state.orders:
            if order["order_id"] == order_id and order["status"] == "resting":
                reduced = order["remaining_count_fp"]
                order["status"] = "canceled"
                order["remaining_count_fp"] = "0.00"
                return {"order_id": order_id, "reduced_by": reduced, "ts_ms": int(time.time() * 1000)}
        return None

    async def _cancel(self, request: web.Request) -> web.Response:
        result = self._cancel_one(request.match_info["order_id"])
        if result is None:
            return nested_error(404, "not_found", "not found")
        return web.json_response(result)

    async def _batch_cancel(self, request: web.Request) -> web.Response:
        out = []
        for item in (await request.json())["orders"]:
            result = self._cancel_one(item["order_id"])
            if result is None:
                result = {
                    "order_id": item["order_id"],
                    "reduced_by": "0",
                    "error": {"code": "not_found", "message": "not found"},
                }
            out.append(result)
        return web.json_response({"orders": out})

    async def _list_orders(self, request: web.Request) -> web.Response:
        visible = []
        for order in reversed(self.state.orders):  # newest first, like the exchange
            cid = order["client_order_id"]
            if self.state.hidden_reads.get(cid, 0) > 0:
                continue
            if "ticker" in request.query and order["ticker"] != request.query["ticker"]:
                continue
            visible.append(order)
        for cid, left in self.state.hidden_reads.items():
            self.state.hidden_reads[cid] = max(0, left - 1)
        return self._page(request, visible, "orders")

    async def _get_order(self, request: web.Request) -> web.Response:
        for order in self.state.orders:
            if order["order_id"] == request.match_info["order_id"]:
                return web.json_response({"order": order})
        return nested_error(404, "not_found", "not found")

    async def _transfer(self, request: web.Request) -> web.Response:
        body = await request.json()
        transfer_id = f"tr-{next(self._ids)}"
        self.state.transfers.append({"transfer_id": transfer_id, **body})
        return web.json_response({"transfer_id": transfer_id})


def load_public_key(pem: bytes) -> rsa.RSAPublicKey:
    key = serialization.load_pem_public_key(pem)
    assert isinstance(key, rsa.RSAPublicKey)
    return key
