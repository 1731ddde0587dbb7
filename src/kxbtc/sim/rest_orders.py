"""The simulator's order-entry REST endpoints: V2 create, cancel, amend and decrease, one by one or in
batches, and the legacy ``/portfolio/orders`` ones translated to V2."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from kxbtc.sim import wire
from kxbtc.sim.exchange import CreateResult, Exchange, SimRejection
from kxbtc.sim.request_decoding import InvalidParameters, shard_field
from kxbtc.sim.requests import (
    AmendRequest,
    CancelTarget,
    OrderRequest,
    order_from_v2,
    parse_amend_v2,
    parse_batch_cancel,
    parse_batch_create_v2,
    parse_create_order_v2,
    parse_decrease_v2,
)
from kxbtc.sim.requests_legacy import (
    order_from_legacy,
    parse_amend_legacy,
    parse_batch_create_legacy,
    parse_create_order_legacy,
    parse_decrease_legacy,
)
from kxbtc.sim.rest_query import opt_int, opt_str
from kxbtc.sim.rest_routing import Call, json_response
from kxbtc.units import format_count


class OrderEndpoints:
    """Order entry over one ``Exchange``; the routes are listed in ``kxbtc.sim.rest_api``."""

    def __init__(self, exchange: Exchange) -> None:
        self.x = exchange

    # -- V2 order entry ---------------------------------------------------------------------------------

    def _create(self, user: str, request: OrderRequest) -> CreateResult:
        return self.x.create_order(user, **_order_kwargs(request))

    async def create(self, call: Call) -> web.Response:
        result = self._create(call.user, parse_create_order_v2(await call.body()))
        return json_response(wire.create_response_json(result), 201)

    def _cancel_query(self, call: Call) -> dict[str, Any]:
        q = call.query
        return {
            "subaccount": opt_int(q, "subaccount", "CancelOrderV2"),
            "exchange_index": shard_field(opt_int(q, "exchange_index", "CancelOrderV2")),
            "market_ticker": opt_str(q, "market_ticker"),
        }

    async def cancel(self, call: Call) -> web.Response:
        result = self.x.cancel_order(call.user, call.match("order_id"), **self._cancel_query(call))
        return json_response(wire.cancel_response_json(result))

    async def amend(self, call: Call) -> web.Response:
        request = parse_amend_v2(await call.body())
        result = self.x.amend_order(
            call.user,
            call.match("order_id"),
            subaccount=opt_int(call.query, "subaccount", "AmendOrderV2"),
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
            subaccount=opt_int(call.query, "subaccount", "DecreaseOrderV2"),
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

    # -- legacy order entry, translated to V2 -----------------------------------------------------------

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
