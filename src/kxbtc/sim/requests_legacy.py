"""Parsing the legacy ``/portfolio/orders`` bodies (yes/no side, buy/sell action, cent or dollar prices)
into the V2 requests of ``kxbtc.sim.requests``: buy YES @p = bid p, sell YES = ask p, buy NO @q = ask 1-q,
sell NO = bid 1-q."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kxbtc.sim.request_decoding import (
    InvalidParameters,
    Schema,
    count_field,
    decode_json,
    enum_field,
    price_field,
    require_field,
    shard_field,
)
from kxbtc.sim.requests import STP_TYPES, TIME_IN_FORCE, AmendRequest, BookSide, DecreaseRequest, OrderRequest
from kxbtc.units import Count, Price, complement

# ---------------------------------------------------------------------------------------------
# Order entry: legacy /portfolio/orders, translated to the YES leg

CREATE_ORDER_LEGACY: Schema = {
    "ticker": "string",
    "client_order_id": "string",
    "side": "string",
    "action": "string",
    "count": "int",
    "count_fp": "string",
    "yes_price": "int",
    "no_price": "int",
    "yes_price_dollars": "string",
    "no_price_dollars": "string",
    "time_in_force": "string",
    "expiration_ts": "int64",
    "buy_max_cost": "int",
    "post_only": "bool",
    "reduce_only": "bool",
    "sell_position_floor": "int",
    "self_trade_prevention_type": "string",
    "order_group_id": "string",
    "cancel_order_on_pause": "bool",
    "subaccount": "int",
    "exchange_index": "int",
}


def _legacy_count(body: Mapping[str, Any]) -> Count:
    if "count_fp" in body:
        return count_field(str(body["count_fp"]), "count_fp")
    if "count" in body:
        if body["count"] < 1:
            raise InvalidParameters(
                "count must be at least 1", code="invalid_order_size", message="invalid order size"
            )
        return Count(int(body["count"]) * 100)
    raise InvalidParameters("count is required")


def _legacy_price(body: Mapping[str, Any]) -> tuple[str, Price]:
    """Which leg the price names (``yes``/``no``) and the price on that leg."""
    given = [
        name for name in ("yes_price", "no_price", "yes_price_dollars", "no_price_dollars") if name in body
    ]
    if len(given) != 1:
        raise InvalidParameters(
            "exactly one of yes_price, no_price, yes_price_dollars, no_price_dollars is required"
        )
    name = given[0]
    leg = name.split("_", 1)[0]
    if name.endswith("_dollars"):
        return leg, price_field(str(body[name]), name)
    cents = int(body[name])
    if not 1 <= cents <= 99:
        raise InvalidParameters(
            f"{name} must be between 1 and 99", code="invalid_price", message="invalid price"
        )
    return leg, Price(cents * 100)


def legacy_to_yes_leg(side: str, action: str, leg: str, price: Price) -> tuple[BookSide, Price]:
    """Map (side, action, priced leg) to the V2 book side and YES price."""
    yes_price = price if leg == "yes" else complement(price)
    buys_yes = (side == "yes") == (action == "buy")
    return ("bid" if buys_yes else "ask"), yes_price


def order_from_legacy(body: Mapping[str, Any]) -> OrderRequest:
    ticker = str(require_field(body, "ticker"))
    side = enum_field(body, "side", ("yes", "no"))
    action = enum_field(body, "action", ("buy", "sell"))
    count = _legacy_count(body)
    leg, price = _legacy_price(body)
    book_side, yes_price = legacy_to_yes_leg(side, action, leg, price)
    tif = enum_field(body, "time_in_force", TIME_IN_FORCE, default="good_till_canceled")
    if "buy_max_cost" in body:
        tif = "fill_or_kill"
    stp = body.get("self_trade_prevention_type")
    if stp is not None and stp not in STP_TYPES:
        raise InvalidParameters(f"self_trade_prevention_type must be one of {', '.join(STP_TYPES)}")
    return OrderRequest(
        ticker=ticker,
        side=book_side,
        count=count,
        price=yes_price,
        time_in_force=tif,
        self_trade_prevention_type=stp,
        client_order_id=body.get("client_order_id") or None,
        post_only=bool(body.get("post_only", False)),
        reduce_only=bool(body.get("reduce_only", False)),
        cancel_order_on_pause=bool(body.get("cancel_order_on_pause", False)),
        expiration_time=body.get("expiration_ts"),
        order_group_id=body.get("order_group_id") or None,
        subaccount=int(body.get("subaccount", 0)),
        # The spec defaults legacy requests to shard 0 (errata Part 1 §2), which would refuse every BTC
        # order (shard 2); legacy endpoints predate sharding, so the simulator auto-routes them instead.
        exchange_index=shard_field(body.get("exchange_index")),
    )


def parse_create_order_legacy(raw: bytes) -> OrderRequest:
    return order_from_legacy(decode_json(raw, "CreateOrderRequest", CREATE_ORDER_LEGACY))


BATCH_CREATE_LEGACY: Schema = {"orders": ("array", CREATE_ORDER_LEGACY)}


def parse_batch_create_legacy(raw: bytes) -> list[dict[str, Any]]:
    body = decode_json(raw, "BatchCreateOrdersRequest", BATCH_CREATE_LEGACY)
    orders: list[dict[str, Any]] = body.get("orders", [])
    if not orders:
        raise InvalidParameters("orders is required")
    return orders


AMEND_LEGACY: Schema = {
    "ticker": "string",
    "side": "string",
    "action": "string",
    "client_order_id": "string",
    "updated_client_order_id": "string",
    "yes_price": "int",
    "no_price": "int",
    "yes_price_dollars": "string",
    "no_price_dollars": "string",
    "count": "int",
    "count_fp": "string",
    "subaccount": "int",
    "exchange_index": "int",
}


def parse_amend_legacy(raw: bytes) -> AmendRequest:
    body = decode_json(raw, "AmendOrderRequest", AMEND_LEGACY)
    side = enum_field(body, "side", ("yes", "no"))
    action = enum_field(body, "action", ("buy", "sell"))
    leg, price = _legacy_price(body)
    book_side, yes_price = legacy_to_yes_leg(side, action, leg, price)
    return AmendRequest(
        ticker=str(require_field(body, "ticker")),
        side=book_side,
        price=yes_price,
        count=_legacy_count(body),
        client_order_id=body.get("client_order_id") or None,
        updated_client_order_id=body.get("updated_client_order_id") or None,
        exchange_index=shard_field(body.get("exchange_index")),
    )


DECREASE_LEGACY: Schema = {
    "reduce_by": "int",
    "reduce_by_fp": "string",
    "reduce_to": "int",
    "reduce_to_fp": "string",
    "subaccount": "int",
    "exchange_index": "int",
}


def parse_decrease_legacy(raw: bytes) -> DecreaseRequest:
    body = decode_json(raw, "DecreaseOrderRequest", DECREASE_LEGACY)
    given = [name for name in ("reduce_by", "reduce_by_fp", "reduce_to", "reduce_to_fp") if name in body]
    if len(given) != 1:
        raise InvalidParameters("exactly one of reduce_by, reduce_by_fp, reduce_to, reduce_to_fp is required")
    name = given[0]
    raw_value = body[name]
    amount = (
        count_field(raw_value, name, allow_zero=True) if name.endswith("_fp") else Count(int(raw_value) * 100)
    )
    by = name.startswith("reduce_by")
    if by and amount <= 0:
        raise InvalidParameters(f"{name} must be positive")
    return DecreaseRequest(
        reduce_by=amount if by else None,
        reduce_to=None if by else amount,
        exchange_index=shard_field(body.get("exchange_index")),
    )
