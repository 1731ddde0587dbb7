"""Request authentication exactly as Kalshi checks it (kalshi-api.md §2, errata Part 1 §1.11).

The signed text is ``timestamp_ms + METHOD + path`` where ``path`` is the full URL path without the query.
Failures carry the exact 401 bodies recorded on demo. The order of the checks (missing header, timestamp
window, key lookup, signature) is our choice: the recordings show each failure alone.

Keys: the simulator trusts the public keys it is given (``--trust KEY_ID=PEM``); the in-process harness
and ``kxbtc sim serve`` without ``--trust`` mint one ephemeral key pair and trust it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kxbtc.clock import Clock, now_ms
from kxbtc.kalshi.auth import (
    KEY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    PublicKey,
    load_public_key,
    verify_signature,
)

#: Demo accepted -5 s and +5 s and rejected -30 s and +5 min; the checklist suggests -10 s / +60 s.
DEFAULT_MAX_PAST_MS = 10_000
DEFAULT_MAX_FUTURE_MS = 60_000


@dataclass(frozen=True)
class AuthFailure:
    """A refused request: HTTP status and the exact JSON body Kalshi sends."""

    status: int
    body: dict[str, Any]

    @property
    def code(self) -> str:
        error = self.body.get("error", {})
        return str(error.get("code", "")) if isinstance(error, dict) else ""


BAD_SIGNATURE = AuthFailure(
    401,
    {
        "error": {
            "code": "authentication_error",
            "message": "authentication_error",
            "details": "INCORRECT_API_KEY_SIGNATURE",
        }
    },
)
UNKNOWN_KEY = AuthFailure(
    401,
    {"error": {"code": "authentication_error", "message": "authentication_error", "details": "NOT_FOUND"}},
)
TIMESTAMP_EXPIRED = AuthFailure(
    401, {"error": {"code": "header_timestamp_expired", "message": "header timestamp expired"}}
)
SIGNATURE_MISSING = AuthFailure(
    401,
    {"error": {"code": "signature_is_missing_from_headers", "message": "signature is missing from headers"}},
)
# Not recorded: modelled on the recorded "signature is missing" body.
KEY_MISSING = AuthFailure(
    401, {"error": {"code": "key_is_missing_from_headers", "message": "key is missing from headers"}}
)
TIMESTAMP_MISSING = AuthFailure(
    401,
    {"error": {"code": "timestamp_is_missing_from_headers", "message": "timestamp is missing from headers"}},
)


@dataclass(frozen=True)
class Principal:
    """Who signed a request: the API key id, which the simulator maps to one user."""

    key_id: str


class AuthChecker:
    """Verifies Kalshi request signatures against a set of trusted public keys."""

    def __init__(
        self,
        clock: Clock,
        *,
        max_past_ms: int = DEFAULT_MAX_PAST_MS,
        max_future_ms: int = DEFAULT_MAX_FUTURE_MS,
    ) -> None:
        self._clock = clock
        self._max_past_ms = max_past_ms
        self._max_future_ms = max_future_ms
        self._keys: dict[str, PublicKey] = {}

    def trust(self, key_id: str, public_key_pem: bytes) -> None:
        """Accept signatures from ``key_id`` made with the private half of ``public_key_pem``."""
        self._keys[key_id] = load_public_key(public_key_pem)

    @property
    def key_ids(self) -> list[str]:
        return list(self._keys)

    def has_credentials(self, headers: Mapping[str, str]) -> bool:
        return any(name in headers for name in (KEY_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER))

    def check(self, headers: Mapping[str, str], method: str, path: str) -> Principal | AuthFailure:
        """``path`` is the request path without the query string, as the client signed it."""
        key_id = headers.get(KEY_HEADER, "")
        timestamp = headers.get(TIMESTAMP_HEADER, "")
        signature = headers.get(SIGNATURE_HEADER, "")
        if not signature:
            return SIGNATURE_MISSING
        if not key_id:
            return KEY_MISSING
        if not timestamp:
            return TIMESTAMP_MISSING
        if not self._timestamp_in_window(timestamp):
            return TIMESTAMP_EXPIRED
        public_key = self._keys.get(key_id)
        if public_key is None:
            return UNKNOWN_KEY
        if not verify_signature(public_key, timestamp, method.upper(), path, signature):
            return BAD_SIGNATURE
        return Principal(key_id)

    def _timestamp_in_window(self, timestamp: str) -> bool:
        # Milliseconds since 1970 have 13 digits; a longer one is refused before int() (which caps digits).
        if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 19:
            return False
        skew = int(timestamp) - now_ms(self._clock)
        return -self._max_past_ms <= skew <= self._max_future_ms
