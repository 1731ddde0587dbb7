"""Decoding and validating request input the way Kalshi's Go server does, with its three failure shapes
(kalshi-api.md §3.4):

- body that is not JSON or has wrong JSON types -> 400 flat ``{"code":"bad_request",...}`` whose
  ``details`` is Go's ``encoding/json`` message (recorded for a numeric ``count``);
- well-typed body with bad values (unknown enum, missing field, off-format decimal) -> 400 nested
  ``invalid_parameters`` (the recordings do not show this case; the code is from the docs' table);
- query parameter out of bounds -> 400 bare ``{"msg": ...}`` naming the validator tag (recorded for
  ``/markets?limit=1001``).

The body parsers that use these are in ``kxbtc.sim.requests`` and ``kxbtc.sim.requests_legacy``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

from kxbtc.units import Count, Price, UnitError, parse_count, parse_price

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

JsonKind = Literal["string", "bool", "int", "int64", "object"]
Schema = Mapping[str, "JsonKind | tuple[Literal['array'], Schema] | tuple[Literal['strings']]"]


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
    except ValueError:
        # Python refuses to convert an integer of more than 4,300 digits; Go fails on such a number too.
        raise BadRequest("json: number out of range") from None
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
        # Go's int is 64 bits on Kalshi's servers: a larger number fails to decode like a wrong type.
        return isinstance(value, int) and not isinstance(value, bool) and INT64_MIN <= value <= INT64_MAX
    return isinstance(value, dict)


def _mismatch(value: object, struct: str, field: str, go_type: str) -> str:
    kind = _json_kind(value)
    if kind == "number" and go_type in ("int", "int64"):
        kind = f"number {value}"
    return f"json: cannot unmarshal {kind} into Go struct field {struct}.{field} of type {go_type}"


# ---------------------------------------------------------------------------------------------
# Value parsing helpers


def require_field(body: Mapping[str, Any], name: str) -> Any:
    if name not in body:
        raise InvalidParameters(f"{name} is required")
    return body[name]


def enum_field(
    body: Mapping[str, Any], name: str, allowed: tuple[str, ...], default: str | None = None
) -> str:
    value = body.get(name, default)
    if value is None:
        raise InvalidParameters(f"{name} is required")
    if value not in allowed:
        raise InvalidParameters(f"{name} must be one of {', '.join(allowed)}")
    return str(value)


def price_field(text: str, name: str) -> Price:
    try:
        price = parse_price(text, name)
    except UnitError:
        raise InvalidParameters(f"{name} must be a dollar string with at most 4 decimals") from None
    if not 0 < price < 10_000:
        raise InvalidParameters(
            f"{name} must be between 0 and 1", code="invalid_price", message="invalid price"
        )
    return price


def count_field(text: str, name: str, *, allow_zero: bool = False) -> Count:
    try:
        count = parse_count(text, name)
    except UnitError:
        raise InvalidParameters(f"{name} must be a count string with at most 2 decimals") from None
    if count < 0 or (count == 0 and not allow_zero):
        raise InvalidParameters(
            f"{name} must be positive", code="invalid_order_size", message="invalid order size"
        )
    return count


def shard_field(value: int | None) -> int | None:
    """A shard number; a negative one means none, as on Kalshi."""
    return None if value is None or value < 0 else value


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
