"""Order entry on the simulated Polymarket venue: the routes the official SDK calls to sign in and to post
an order, checked as the exchange checks them (``poly_auth``), and fill-or-kill matching on the books.

Routes (paths as the SDK sends them):

- ``POST /auth/api-key`` / ``GET /auth/derive-api-key`` (L1) -> ``{apiKey, secret, passphrase}``;
  ``GET /auth/api-keys`` (L2) -> ``{apiKeys: [...]}``; ``GET /auth/ban-status/closed-only`` (L2).
- ``GET /deployed?address=`` (the relayer): whether a deposit wallet is deployed.
- ``GET /markets-by-token/{token}``, ``GET /clob-markets/{condition}``, ``GET /tick-size``,
  ``GET /neg-risk``: the market metadata the SDK reads before signing.
- ``POST /order`` (L2): ``{order: {...signed...}, owner, orderType, deferExec}``. ``owner`` must be the
  caller's API key and the signature must recover to the key's owner. FOK and FAK orders match now
  against the book (taking the levels); a FOK that cannot fill answers ``success: false`` with the
  exchange's message, in the SDK's ``RawOrderResponse`` shape. GTC/GTD are refused here (the
  simulator keeps no resting orders of ours).
- ``GET /api/geoblock`` (on polymarket.com in production): ``{blocked, ip, country, region}``.

Faults (``OrderFaults``, set by tests): the next ``kill_next`` orders are answered as unfilled FOKs
whatever the book holds; the next ``fail_next`` get HTTP 500. ``blocked`` and ``closed_only`` make the
eligibility endpoints say no.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

from aiohttp import web

from kxbtc.sim.poly_auth import ApiCredentials, AuthFailure, PolyAuth
from kxbtc.sim.polymarket import PolySim
from kxbtc.units import COUNT_SCALE, PRICE_SCALE

__all__ = ["FOK_NOT_FILLED", "OrderFaults", "PolyOrderEntry", "SimPolyOrder"]

log = logging.getLogger(__name__)

FOK_NOT_FILLED = "order couldn't be fully filled. FOK orders are fully filled or killed."
#: Order amounts are integers with 6 decimals (pUSD and shares).
AMOUNT_SCALE = 1_000_000


@dataclass(slots=True)
class OrderFaults:
    kill_next: int = 0
    fail_next: int = 0
    #: The next N orders are matched but answered ``status: "delayed"`` (as on markets with a taker
    #: delay); their outcome is then read with ``GET /data/order/{id}``.
    delay_next: int = 0
    blocked: bool = False
    country: str = "IE"
    region: str = "L"
    closed_only: bool = False


@dataclass(frozen=True, slots=True)
class SimPolyOrder:
    """One order the venue accepted for checking (signature good), and what became of it."""

    order_id: str
    owner: str  # API key
    maker: str
    signature_type: int
    token: str
    side: str
    limit: Fraction  # $ per share
    count: int  # Count
    order_type: str
    status: str  # matched | killed | failed
    fills: tuple[tuple[int, int], ...] = ()


@dataclass(slots=True)
class PolyOrderEntry:
    poly: PolySim
    auth: PolyAuth = field(default_factory=PolyAuth)
    faults: OrderFaults = field(default_factory=OrderFaults)
    orders: list[SimPolyOrder] = field(default_factory=list)

    def add_routes(self, app: web.Application) -> None:
        r = app.router
        r.add_post("/auth/api-key", self._create_key)
        r.add_get("/auth/derive-api-key", self._create_key)
        r.add_get("/auth/api-keys", self._api_keys)
        r.add_get("/auth/ban-status/closed-only", self._closed_only)
        r.add_get("/deployed", self._deployed)
        r.add_get("/markets-by-token/{token}", self._market_by_token)
        r.add_get("/clob-markets/{condition}", self._clob_market)
        r.add_get("/tick-size", self._tick_size)
        r.add_get("/neg-risk", self._neg_risk)
        r.add_post("/order", self._post_order)
        r.add_get("/data/order/{order_id}", self._get_order)
        r.add_get("/api/geoblock", self._geoblock)

    # -- auth ---------------------------------------------------------------------------------------

    async def _l2(self, request: web.Request) -> tuple[ApiCredentials, str]:
        body = await request.text()
        return self.auth.l2(request.headers, request.method, request.path, body), body

    async def _create_key(self, request: web.Request) -> web.Response:
        try:
            creds = self.auth.l1(request.headers)
        except AuthFailure as exc:
            return _error(exc.status, exc.message)
        return web.json_response(
            {"apiKey": creds.key, "secret": creds.secret, "passphrase": creds.passphrase}
        )

    async def _api_keys(self, request: web.Request) -> web.Response:
        try:
            creds, _ = await self._l2(request)
        except AuthFailure as exc:
            return _error(exc.status, exc.message)
        keys = [k for k, c in self.auth.keys.items() if c.address.lower() == creds.address.lower()]
        return web.json_response({"apiKeys": keys})

    async def _closed_only(self, request: web.Request) -> web.Response:
        try:
            await self._l2(request)
        except AuthFailure as exc:
            return _error(exc.status, exc.message)
        return web.json_response({"closed_only": self.faults.closed_only})

    async def _deployed(self, request: web.Request) -> web.Response:
        return web.json_response({"deployed": self.auth.wallet_deployed(request.query.get("address", ""))})

    async def _geoblock(self, request: web.Request) -> web.Response:
        f = self.faults
        return web.json_response(
            {
                "blocked": f.blocked,
                "ip": request.remote or "127.0.0.1",
                "country": f.country,
                "region": f.region,
            }
        )

    # -- market metadata ----------------------------------------------------------------------------

    async def _market_by_token(self, request: web.Request) -> web.Response:
        window = self.poly.window_of_token(request.match_info["token"])
        if window is None:
            return _error(404, "market not found")
        return web.json_response({"condition_id": window.condition_id})

    async def _clob_market(self, request: web.Request) -> web.Response:
        condition = request.match_info["condition"]
        window = next((w for w in self.poly.windows.values() if w.condition_id == condition), None)
        if window is None:
            return _error(404, "market not found")
        cfg = self.poly.config
        return web.json_response(
            {
                "c": window.condition_id,
                "t": [{"t": token, "o": window.outcome_of(token)} for token in window.tokens],
                "mts": float(Decimal(cfg.tick) / PRICE_SCALE),
                "mos": float(Decimal(cfg.min_order_size) / COUNT_SCALE),
                "nr": False,
                "fd": {"r": float(cfg.fee_rate), "e": 1, "to": True},
            }
        )

    async def _tick_size(self, request: web.Request) -> web.Response:
        if self.poly.window_of_token(request.query.get("token_id", "")) is None:
            return _error(404, "market not found")
        return web.json_response({"minimum_tick_size": float(Decimal(self.poly.config.tick) / PRICE_SCALE)})

    async def _neg_risk(self, request: web.Request) -> web.Response:
        if self.poly.window_of_token(request.query.get("token_id", "")) is None:
            return _error(404, "market not found")
        return web.json_response({"neg_risk": False})

    # -- orders -------------------------------------------------------------------------------------

    async def _get_order(self, request: web.Request) -> web.Response:
        try:
            creds, _ = await self._l2(request)
        except AuthFailure as exc:
            return _error(exc.status, exc.message)
        wanted = request.match_info["order_id"]
        order = next((o for o in self.orders if o.order_id == wanted and o.owner == creds.key), None)
        window = self.poly.window_of_token(order.token) if order is not None else None
        if order is None or window is None:
            return _error(404, "order not found")
        outcome = window.outcome_of(order.token)
        return web.json_response(_open_order(order, window.condition_id, outcome, self.poly.now_ms // 1000))

    async def _post_order(self, request: web.Request) -> web.Response:
        try:
            creds, body = await self._l2(request)
        except AuthFailure as exc:
            return _error(exc.status, exc.message)
        try:
            payload = json.loads(body)
            order = payload["order"]
            owner, order_type = str(payload["owner"]), str(payload["orderType"])
        except (ValueError, KeyError, TypeError):
            return _error(400, "Invalid order payload")
        if owner != creds.key:
            return _error(400, "the order owner has to be the owner of the API KEY")
        if self.faults.blocked:
            return _error(403, "Trading restricted in your region, please refer to available regions")
        try:
            self.auth.check_order(order, creds, neg_risk=False)
        except AuthFailure as exc:
            log.info("simulated Polymarket: refused an order: %s", exc.message)
            return _error(exc.status, exc.message)
        return self._match(order, creds, order_type)

    def _match(self, order: dict[str, Any], creds: ApiCredentials, order_type: str) -> web.Response:
        side, token = str(order["side"]), str(order["tokenId"])
        maker, taker = int(order["makerAmount"]), int(order["takerAmount"])
        order_id = "0x" + hashlib.sha256(str(order["signature"]).encode()).hexdigest()
        shares = taker if side == "BUY" else maker
        cash = maker if side == "BUY" else taker
        if shares <= 0 or shares % (AMOUNT_SCALE // COUNT_SCALE):
            return _error(400, "invalid amounts: shares must be a multiple of 0.01")
        limit = Fraction(cash, shares)
        count = shares // (AMOUNT_SCALE // COUNT_SCALE)

        def record(status: str, fills: tuple[tuple[int, int], ...] = ()) -> None:
            self.orders.append(
                SimPolyOrder(
                    order_id, creds.key, str(order["maker"]), int(order["signatureType"]), token, side,
                    limit, count, order_type, status, fills,
                )
            )  # fmt: skip

        if self.faults.fail_next > 0:
            self.faults.fail_next -= 1
            record("failed")
            return _error(500, "Internal server error (injected)")
        if order_type not in ("FOK", "FAK"):
            return _error(400, f"the simulator takes only FOK/FAK orders, not {order_type}")
        fills = None
        if self.faults.kill_next > 0:
            self.faults.kill_next -= 1
        else:
            fills = self.poly.take(token, side, limit, count)
        if fills is None:
            record("killed")
            return web.json_response(
                {
                    "success": False,
                    "errorMsg": FOK_NOT_FILLED,
                    "orderID": "",
                    "status": "",
                    "makingAmount": "",
                    "takingAmount": "",
                }
            )
        record("matched", tuple(fills))
        if self.faults.delay_next > 0:
            self.faults.delay_next -= 1
            return web.json_response(
                {
                    "success": True,
                    "errorMsg": "",
                    "orderID": order_id,
                    "status": "delayed",
                    "makingAmount": "",
                    "takingAmount": "",
                }
            )
        paid = sum(price * n for price, n in fills)  # Price x Count = 1e-6 $
        got_shares = _decimal(sum(n for _, n in fills), COUNT_SCALE)
        got_cash = _decimal(paid, PRICE_SCALE * COUNT_SCALE)
        making, taking = (got_cash, got_shares) if side == "BUY" else (got_shares, got_cash)
        return web.json_response(
            {
                "success": True,
                "errorMsg": "",
                "orderID": order_id,
                "status": "matched",
                "makingAmount": making,
                "takingAmount": taking,
                "tradeIDs": [f"{order_id[:18]}-{i}" for i in range(len(fills))],
                "transactionsHashes": [],
            }
        )


def _open_order(order: SimPolyOrder, market: str, outcome: str, created_s: int) -> dict[str, Any]:
    """``GET /data/order/{id}``: the order as the CLOB reports it (the SDK's ``OpenOrder`` shape)."""
    matched = sum(n for _, n in order.fills)
    return {
        "id": order.order_id,
        "market": market,
        "asset_id": order.token,
        "owner": order.owner,
        "maker_address": order.maker,
        "side": order.side,
        "price": format(Decimal(order.limit.numerator) / order.limit.denominator, "f"),
        "original_size": _decimal(order.count, COUNT_SCALE),
        "size_matched": _decimal(matched, COUNT_SCALE),
        "outcome": outcome,
        "order_type": order.order_type,
        "status": "MATCHED" if matched else "CANCELED",
        "associate_trades": [],
        "created_at": created_s,
        "expiration": "0",
    }


def _decimal(value: int, scale: int) -> str:
    """An amount as Polymarket writes it: a plain decimal string without trailing zeros."""
    text = format(Decimal(value) / scale, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)
