"""Parsing the bodies of the order-entry and transfer requests into typed requests.

Parsed orders come out in fixed-point units (``Price``, ``Count``) on the YES leg. The legacy
``/portfolio/orders`` bodies are parsed in ``kxbtc.sim.requests_legacy``; decoding and the error shapes
are in ``kxbtc.sim.request_decoding``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from kxbtc.sim.request_decoding import (
    BadRequest,
    InvalidParameters,
    JsonKind,
    QueryValidationError,
    RequestError,
    Schema,
    count_field,
    decode_json,
    enum_field,
    price_field,
    query_int,
    require_field,
    shard_field,
)
from kxbtc.units import Count, Price

# The decoding names stay importable from here, where they were before the module was split.
__all__ = [
    "BadRequest",
    "InvalidParameters",
    "JsonKind",
    "QueryValidationError",
    "RequestError",
    "Schema",
    "decode_json",
    "query_int",
]

BookSide = Literal["bid", "ask"]
TIME_IN_FORCE = ("fill_or_kill", "good_till_canceled", "immediate_or_cancel")
STP_TYPES = ("taker_at_cross", "maker")


# ---------------------------------------------------------------------------------------------
# Order entry: V2


@dataclass(frozen=True)
class OrderRequest:
    """One order on the YES leg, whichever endpoint it arrived on."""

    ticker: str
    side: BookSide
    count: Count
    price: Price
    time_in_force: str
    self_trade_prevention_type: str | None
    client_order_id: str | None = None
    post_only: bool = False
    reduce_only: bool = False
    cancel_order_on_pause: bool = False
    expiration_time: int | None = None
    order_group_id: str | None = None
    subaccount: int = 0
    exchange_index: int | None = None


CREATE_ORDER_V2: Schema = {
    "ticker": "string",
    "client_order_id": "string",
    "side": "string",
    "count": "string",
    "price": "string",
    "time_in_force": "string",
    "self_trade_prevention_type": "string",
    "post_only": "bool",
    "reduce_only": "bool",
    "cancel_order_on_pause": "bool",
    "expiration_time": "int64",
    "order_group_id": "string",
    "subaccount": "int",
    "exchange_index": "int",
}


def order_from_v2(body: Mapping[str, Any]) -> OrderRequest:
    ticker = str(require_field(body, "ticker"))
    side = enum_field(body, "side", ("bid", "ask"))
    count = count_field(str(require_field(body, "count")), "count")
    price = price_field(str(require_field(body, "price")), "price")
    tif = enum_field(body, "time_in_force", TIME_IN_FORCE)
    stp = enum_field(body, "self_trade_prevention_type", STP_TYPES)
    expiration = body.get("expiration_time")
    if expiration is not None and tif == "immediate_or_cancel":
        raise InvalidParameters("expiration_time is not allowed with immediate_or_cancel")
    return OrderRequest(
        ticker=ticker,
        side="bid" if side == "bid" else "ask",
        count=count,
        price=price,
        time_in_force=tif,
        self_trade_prevention_type=stp,
        client_order_id=body.get("client_order_id") or None,
        post_only=bool(body.get("post_only", False)),
        reduce_only=bool(body.get("reduce_only", False)),
        cancel_order_on_pause=bool(body.get("cancel_order_on_pause", False)),
        expiration_time=expiration,
        order_group_id=body.get("order_group_id") or None,
        subaccount=int(body.get("subaccount", 0)),
        exchange_index=shard_field(body.get("exchange_index")),
    )


def parse_create_order_v2(raw: bytes) -> OrderRequest:
    return order_from_v2(decode_json(raw, "CreateOrderV2Request", CREATE_ORDER_V2))


BATCH_CREATE_V2: Schema = {"orders": ("array", CREATE_ORDER_V2)}


def parse_batch_create_v2(raw: bytes) -> list[dict[str, Any]]:
    """Returns the decoded items: each one is validated separately so one bad item fails alone."""
    body = decode_json(raw, "BatchCreateOrdersV2Request", BATCH_CREATE_V2)
    orders: list[dict[str, Any]] = body.get("orders", [])
    if not orders:
        raise InvalidParameters("orders is required")
    return orders


@dataclass(frozen=True)
class CancelTarget:
    order_id: str
    subaccount: int = 0
    exchange_index: int | None = None
    market_ticker: str | None = None


BATCH_CANCEL_V2: Schema = {
    "orders": (
        "array",
        {"order_id": "string", "subaccount": "int", "exchange_index": "int", "market_ticker": "string"},
    ),
    "ids": ("strings",),
}


def parse_batch_cancel(raw: bytes, struct: str = "BatchCancelOrdersV2Request") -> list[CancelTarget]:
    body = decode_json(raw, struct, BATCH_CANCEL_V2)
    targets = [
        CancelTarget(
            order_id=str(require_field(item, "order_id")),
            subaccount=int(item.get("subaccount", 0)),
            exchange_index=shard_field(item.get("exchange_index")),
            market_ticker=item.get("market_ticker") or None,
        )
        for item in body.get("orders", [])
    ]
    targets.extend(CancelTarget(order_id=order_id) for order_id in body.get("ids", []))
    if not targets:
        raise InvalidParameters("orders is required")
    return targets


@dataclass(frozen=True)
class AmendRequest:
    ticker: str
    side: BookSide
    price: Price
    count: Count
    client_order_id: str | None = None
    updated_client_order_id: str | None = None
    exchange_index: int | None = None


AMEND_V2: Schema = {
    "ticker": "string",
    "side": "string",
    "price": "string",
    "count": "string",
    "client_order_id": "string",
    "updated_client_order_id": "string",
    "exchange_index": "int",
}


def parse_amend_v2(raw: bytes) -> AmendRequest:
    body = decode_json(raw, "AmendOrderV2Request", AMEND_V2)
    side = enum_field(body, "side", ("bid", "ask"))
    return AmendRequest(
        ticker=str(require_field(body, "ticker")),
        side="bid" if side == "bid" else "ask",
        price=price_field(str(require_field(body, "price")), "price"),
        count=count_field(str(require_field(body, "count")), "count"),
        client_order_id=body.get("client_order_id") or None,
        updated_client_order_id=body.get("updated_client_order_id") or None,
        exchange_index=shard_field(body.get("exchange_index")),
    )


@dataclass(frozen=True)
class DecreaseRequest:
    """Exactly one of ``reduce_by`` / ``reduce_to`` is set."""

    reduce_by: Count | None
    reduce_to: Count | None
    exchange_index: int | None = None
    market_ticker: str | None = None


DECREASE_V2: Schema = {
    "reduce_by": "string",
    "reduce_to": "string",
    "exchange_index": "int",
    "market_ticker": "string",
}


def parse_decrease_v2(raw: bytes) -> DecreaseRequest:
    body = decode_json(raw, "DecreaseOrderV2Request", DECREASE_V2)
    by, to = body.get("reduce_by"), body.get("reduce_to")
    if (by is None) == (to is None):
        raise InvalidParameters("exactly one of reduce_by and reduce_to is required")
    return DecreaseRequest(
        reduce_by=count_field(by, "reduce_by") if by is not None else None,
        reduce_to=count_field(to, "reduce_to", allow_zero=True) if to is not None else None,
        exchange_index=shard_field(body.get("exchange_index")),
        market_ticker=body.get("market_ticker") or None,
    )


# ---------------------------------------------------------------------------------------------
# Transfers


@dataclass(frozen=True)
class TransferRequest:
    source_exchange_shard: int
    destination_exchange_shard: int
    amount_centicents: int
    subaccount: int = 0


TRANSFER: Schema = {
    "source": "string",
    "destination": "string",
    "source_exchange_shard": "int",
    "destination_exchange_shard": "int",
    "amount": "int64",
    "subaccount": "int",
}


def parse_transfer(raw: bytes) -> TransferRequest:
    body = decode_json(raw, "IntraExchangeInstanceTransferRequest", TRANSFER)
    for name in ("source", "destination"):
        enum_field(body, name, ("event_contract", "margined"), default="event_contract")
    amount = int(require_field(body, "amount"))
    if amount <= 0:
        raise InvalidParameters("amount must be positive")
    return TransferRequest(
        source_exchange_shard=int(require_field(body, "source_exchange_shard")),
        destination_exchange_shard=int(require_field(body, "destination_exchange_shard")),
        amount_centicents=amount,
        subaccount=int(body.get("subaccount", 0)),
    )
