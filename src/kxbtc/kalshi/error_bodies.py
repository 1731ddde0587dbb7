"""Kalshi REST error bodies -> the ``kxbtc.errors`` hierarchy.

Four shapes occur on the wire (kalshi-api.md §3.4, errata Part 1 §3):

1. nested ``{"error": {"code", "message", "details"?, "service"?}}`` (auth and exchange rejects);
2. flat ``{"code", "message", "details"}`` (JSON decode errors; also batch items' ``error``);
3. bare ``{"msg": "..."}`` (query-parameter validation);
4. rate limit ``{"error": "too many requests"}`` (a string, not an object).

The class is chosen by HTTP status: 401/403 AuthError, 404 NotFoundError, 409 ConflictError,
429 RateLimitedError, 5xx ServerError, other 4xx RejectedError. Some codes embed ids
(``user_not_found:_<uuid>``): compare with ``code_is``, which prefix-matches.
"""

from __future__ import annotations

from typing import Any

import msgspec

from kxbtc.errors import (
    AuthError,
    ConflictError,
    ExchangeError,
    NotFoundError,
    RateLimitedError,
    RejectedError,
    ServerError,
)

# Codes the client branches on.
ORDER_ALREADY_EXISTS = "order_already_exists"
NOT_FOUND = "not_found"
INVALID_PRICE = "invalid_price"
INVALID_ORDER = "invalid_order"
INSUFFICIENT_BALANCE = "insufficient_balance"
BAD_REQUEST = "bad_request"
TOO_MANY_REQUESTS = "too_many_requests"
HEADER_TIMESTAMP_EXPIRED = "header_timestamp_expired"
AUTHENTICATION_ERROR = "authentication_error"
MARKET_INACTIVE = "market_inactive"


def code_is(code: str, known: str) -> bool:
    """True if ``code`` is ``known``, case-insensitively, or ``known`` followed by an embedded id.

    ``code_is("user_not_found:_3f2a...", "user_not_found")`` is True; ``MARKET_INACTIVE`` (FIX spelling)
    matches ``market_inactive``.
    """
    c, k = code.lower(), known.lower()
    if c == k:
        return True
    # Only ":" separates an embedded id: "invalid_order_size" is not "invalid_order".
    return c.startswith(k + ":")


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))


def error_fields(body: bytes | str) -> tuple[str, str, str]:
    """``(code, message, details)`` from any of the four error shapes; best effort on anything else."""
    try:
        data = msgspec.json.decode(body)
    except msgspec.DecodeError:
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        return "", text.strip()[:500], ""
    if not isinstance(data, dict):
        return "", _text(data)[:500], ""
    inner = data.get("error")
    if isinstance(inner, dict):
        return _text(inner.get("code")), _text(inner.get("message")), _text(inner.get("details"))
    if isinstance(inner, str):
        # {"error": "too many requests"}: the message is the only thing there is; derive a code from it.
        return inner.strip().lower().replace(" ", "_"), inner, ""
    if "code" in data or "message" in data:
        return _text(data.get("code")), _text(data.get("message")), _text(data.get("details"))
    if "msg" in data:
        return "", _text(data["msg"]), ""
    return "", _text(data)[:500], ""


def error_class(status: int) -> type[ExchangeError]:
    if status in (401, 403):
        return AuthError
    if status == 404:
        return NotFoundError
    if status == 409:
        return ConflictError
    if status == 429:
        return RateLimitedError
    if status >= 500:
        return ServerError
    if 400 <= status < 500:
        return RejectedError
    return ExchangeError


def parse_error(status: int, body: bytes | str, *, method: str = "", path: str = "") -> ExchangeError:
    """The typed error for an HTTP error response (``path`` without the query, for messages)."""
    code, message, details = error_fields(body)
    if not message:
        message = code or f"HTTP {status}"
    return error_class(status)(message, code=code, status=status, details=details, method=method, path=path)


def item_error(
    code: str, message: str, details: str = "", *, method: str = "", path: str = ""
) -> ExchangeError:
    """The typed error for a batch item's flat ``error`` object, which has no HTTP status of its own."""
    cls: type[ExchangeError] = RejectedError
    if code_is(code, NOT_FOUND):
        cls = NotFoundError
    elif code_is(code, ORDER_ALREADY_EXISTS):
        cls = ConflictError
    return cls(message or code, code=code, details=details, method=method, path=path)
