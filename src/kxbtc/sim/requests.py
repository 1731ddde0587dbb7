"""Request decoding and validation, answering bad input the way Kalshi's Go server does.

Three failure shapes (kalshi-api.md §3.4):
- body that is not JSON or has wrong JSON types -> 400 flat ``{"code":"bad_request",...}`` whose
  ``details`` is Go's ``encoding/json`` message (recorded for a numeric ``count``);
- well-typed body with bad values (unknown enum, missing field, off-format decimal) -> 400 nested
  ``invalid_parameters`` (the recordings do not show this case; the code is from the docs' table);
- query parameter out of bounds -> 400 bare ``{"msg": ...}`` naming the validator tag (recorded for
  ``/markets?limit=1001``).

Parsed orders come out in fixed-point units (``Price``, ``Count``) on the YES leg, with legacy requests
translated to V2 semantics (buy YES @p = bid p, sell YES = ask p, buy NO @q = ask 1-q, sell NO = bid 1-q).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from kxbtc.units import Count, Price, UnitError, complement, parse_count, parse_price

JsonKind = Literal["string", "bool", "int", "int64", "object"]
Schema = Mapping[str, "JsonKind | tuple[Literal['array'], Schema] | tuple[Literal['strings']]"]

BookSide = Literal["bid", "ask"]
TIME_IN_FORCE = ("fill_or_kill", "good_till_canceled", "immediate_or_cancel")
STP_TYPES = ("taker_at_cross", "maker")


class RequestError(Exception):
    """A request the server refuses before it reaches the exchange core."""

    status = 400

    def body(self) -> dict[str, Any]:
        raise NotImplementedError


class BadRequest(RequestError):
    """Undecodable body: Kalshi's flat error shape."""

    def __init__(self, details: str) -> None:
        super().__init__(details)
        self.details = details

    def body(self) -> dict[str, Any]:
        return {"code": "bad_request", "message": "bad request", "details": self.details}


class InvalidParameters(RequestError):
    """Decodable body with a value the exchange refuses: nested error shape."""

    def __init__(
        self, details: str, code: str = "invalid_parameters", message: str = "invalid parameters"
    ) -> None:
        super().__init__(details)
        self.code = code
        self.message = message
        self.details = details

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class QueryValidationError(RequestError):
    """Query parameter failure: the bare ``{"msg": ...}`` body of Kalshi's parameter validator."""

    def __init__(self, msg: str) -> None:
        super().__init__(msg)
        self.msg = msg

    def body(self) -> dict[str, Any]:
        return {"msg": self.msg}


# ---------------------------------------------------------------------------------------------
# JSON decoding with Go's error messages

_GO_TYPE = {
    "string": "string",
    "bool": "bool",
    "int": "int",
    "int64": "int64",
    "object": "map[string]interface {}",
}


def _json_kind(value: object) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


#: Python's decoder messages -> the context Go's ``encoding/json`` names in its syntax errors.
_GO_CONTEXT = {
    "Expecting property name enclosed in double quotes": "looking for beginning of object key string",
    "Expecting ':' delimiter": "after object key",
    "Expecting ',' delimiter": "after object key:value pair",
    "Extra data": "after top-level value",
}


def _go_syntax_error(text: str, exc: json.JSONDecodeError) -> str:
    if exc.pos >= len(text.rstrip()):
        return "unexpected end of JSON input"
    context = _GO_CONTEXT.get(exc.msg, "looking for beginning of value")
    return f"invalid character {text[exc.pos]!r} {context}"


def decode_json(raw: bytes, struct: str, schema: Schema) -> dict[str, Any]:
    """Decode ``raw`` as the Go struct ``struct``; unknown keys are ignored and ``null`` means absent."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("invalid UTF-8 in JSON input") from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadRequest(_go_syntax_error(text, exc)) from None
    except RecursionError:
        raise BadRequest("exceeded max depth") from None
    if not isinstance(value, dict):
        raise BadRequest(f"json: cannot unmarshal {_json_kind(value)} into Go value of type {struct}")
    return _check_object(value, struct, "", schema)


def _check_object(obj: dict[str, Any], struct: str, prefix: str, schema: Schema) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, kind in schema.items():
        value = obj.get(name)
        if value is None:
            continue
        field = f"{prefix}{name}"
        if isinstance(kind, tuple):
            if not isinstance(value, list):
                raise BadRequest(
                    _mismatch(value, struct, field, "[]" + ("string" if kind[0] == "strings" else "T"))
                )
            if kind[0] == "strings":
                for item in value:
                    if not isinstance(item, str):
                        raise BadRequest(_mismatch(item, struct, field, "string"))
                out[name] = list(value)
            else:
                items = []
                for item in value:
                    if not isinstance(item, dict):
                        raise BadRequest(_mismatch(item, struct, field, "struct"))
                    items.append(_check_object(item, struct, field + ".", kind[1]))
                out[name] = items
            continue
        if not _matches(value, kind):
            raise BadRequest(_mismatch(value, struct, field, _GO_TYPE[kind]))
        out[name] = value
    return out


def _matches(value: object, kind: str) -> bool:
    if kind == "string":
        return isinstance(value, str)
    if kind == "bool":
        return isinstance(value, bool)
    if kind in ("int", "int64"):
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, dict)


def _mismatch(value: object, struct: str, field: str, go_type: str) -> str:
    kind = _json_kind(value)
    if kind == "number" and go_type in ("int", "int64"):
        kind = f"number {value}"
    return f"json: cannot unmarshal {kind} into Go struct field {struct}.{field} of type {go_type}"


# ---------------------------------------------------------------------------------------------
# Value parsing helpers


def _require(body: Mapping[str, Any], name: str) -> Any:
    if name not in body:
        raise InvalidParameters(f"{name} is required")
    return body[name]


def _enum(body: Mapping[str, Any], name: str, allowed: tuple[str, ...], default: str | None = None) -> str:
    value = body.get(name, default)
    if value is None:
        raise InvalidParameters(f"{name} is required")
    if value not in allowed:
        raise InvalidParameters(f"{name} must be one of {', '.join(allowed)}")
    return str(value)


def _price(text: str, name: str) -> Price:
    try:
        price = parse_price(text, name)
    except UnitError:
        raise InvalidParameters(f"{name} must be a dollar string with at most 4 decimals") from None
    if not 0 < price < 10_000:
        raise InvalidParameters(
            f"{name} must be between 0 and 1", code="invalid_price", message="invalid price"
        )
    return price


def _count(text: str, name: str, *, allow_zero: bool = False) -> Count:
    try:
        count = parse_count(text, name)
    except UnitError:
        raise InvalidParameters(f"{name} must be a count string with at most 2 decimals") from None
    if count < 0 or (count == 0 and not allow_zero):
        raise InvalidParameters(
            f"{name} must be positive", code="invalid_order_size", message="invalid order size"
        )
    return count


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
    ticker = str(_require(body, "ticker"))
    side = _enum(body, "side", ("bid", "ask"))
    count = _count(str(_require(body, "count")), "count")
    price = _price(str(_require(body, "price")), "price")
    tif = _enum(body, "time_in_force", TIME_IN_FORCE)
    stp = _enum(body, "self_trade_prevention_type", STP_TYPES)
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
        exchange_index=_shard(body.get("exchange_index")),
    )


def _shard(value: int | None) -> int | None:
    return None if value is None or value < 0 else value


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
            order_id=str(_require(item, "order_id")),
            subaccount=int(item.get("subaccount", 0)),
            exchange_index=_shard(item.get("exchange_index")),
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
    side = _enum(body, "side", ("bid", "ask"))
    return AmendRequest(
        ticker=str(_require(body, "ticker")),
        side="bid" if side == "bid" else "ask",
        price=_price(str(_require(body, "price")), "price"),
        count=_count(str(_require(body, "count")), "count"),
        client_order_id=body.get("client_order_id") or None,
        updated_client_order_id=body.get("updated_client_order_id") or None,
        exchange_index=_shard(body.get("exchange_index")),
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
        reduce_by=_count(by, "reduce_by") if by is not None else None,
        reduce_to=_count(to, "reduce_to", allow_zero=True) if to is not None else None,
        exchange_index=_shard(body.get("exchange_index")),
        market_ticker=body.get("market_ticker") or None,
    )


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
        return _count(str(body["count_fp"]), "count_fp")
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
        return leg, _price(str(body[name]), name)
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
    ticker = str(_require(body, "ticker"))
    side = _enum(body, "side", ("yes", "no"))
    action = _enum(body, "action", ("buy", "sell"))
    count = _legacy_count(body)
    leg, price = _legacy_price(body)
    book_side, yes_price = legacy_to_yes_leg(side, action, leg, price)
    tif = _enum(body, "time_in_force", TIME_IN_FORCE, default="good_till_canceled")
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
        exchange_index=_shard(body.get("exchange_index")),
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
    side = _enum(body, "side", ("yes", "no"))
    action = _enum(body, "action", ("buy", "sell"))
    leg, price = _legacy_price(body)
    book_side, yes_price = legacy_to_yes_leg(side, action, leg, price)
    return AmendRequest(
        ticker=str(_require(body, "ticker")),
        side=book_side,
        price=yes_price,
        count=_legacy_count(body),
        client_order_id=body.get("client_order_id") or None,
        updated_client_order_id=body.get("updated_client_order_id") or None,
        exchange_index=_shard(body.get("exchange_index")),
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
    amount = _count(raw_value, name, allow_zero=True) if name.endswith("_fp") else Count(int(raw_value) * 100)
    by = name.startswith("reduce_by")
    if by and amount <= 0:
        raise InvalidParameters(f"{name} must be positive")
    return DecreaseRequest(
        reduce_by=amount if by else None,
        reduce_to=None if by else amount,
        exchange_index=_shard(body.get("exchange_index")),
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
        _enum(body, name, ("event_contract", "margined"), default="event_contract")
    amount = int(_require(body, "amount"))
    if amount <= 0:
        raise InvalidParameters("amount must be positive")
    return TransferRequest(
        source_exchange_shard=int(_require(body, "source_exchange_shard")),
        destination_exchange_shard=int(_require(body, "destination_exchange_shard")),
        amount_centicents=amount,
        subaccount=int(body.get("subaccount", 0)),
    )


# ---------------------------------------------------------------------------------------------
# Query parameters


def query_int(
    query: Mapping[str, str],
    name: str,
    operation: str,
    *,
    default: int,
    low: int | None = None,
    high: int | None = None,
    tags: tuple[str, str] = ("gte", "lte"),
) -> int:
    """An integer query parameter with the validator's bare 400 on a bad value; ``0`` means default."""
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise QueryValidationError(
            f"Invalid format for parameter {name}: error binding string parameter: "
            f'strconv.ParseInt: parsing "{raw}": invalid syntax'
        ) from None
    field = "".join(part.capitalize() for part in name.split("_"))
    prefix = f"Parameter validation failed for {operation}: Key: '{operation}Params.{field}' Error:"
    if low is not None and value < low:
        raise QueryValidationError(f"{prefix}Field validation for '{field}' failed on the '{tags[0]}' tag")
    if high is not None and value > high:
        raise QueryValidationError(f"{prefix}Field validation for '{field}' failed on the '{tags[1]}' tag")
    return value or default
