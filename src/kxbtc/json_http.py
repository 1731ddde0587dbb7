"""GET JSON from a public HTTP API, paced and retried: the transport of the history fetcher's clients.

Why not ``KalshiRestClient``: its retries sleep on their own schedule and its ``RateLimitedError`` drops the
response headers, so a caller can neither honour ``Retry-After`` nor count the 429s it survived. Bulk
downloads need both, for Kalshi and for a spot exchange alike, so this small client does it once:

- pacing: at most one request per ``min_interval_s`` of the injected clock (a polite client never sees
  most 429s);
- retries of what a repeat cannot harm (every request here is a GET): network errors, 429 and 5xx;
- a 429 waits for ``Retry-After`` (seconds or an HTTP date) when the server sends one, else exponential
  backoff with equal jitter; every sleep goes through the injected clock, so tests need not wait;
- other statuses become the typed errors of ``kxbtc.errors`` through an injected ``ErrorMapper``.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

import httpx2

from kxbtc.backoff import equal_jitter
from kxbtc.clock import NS_PER_S, Clock
from kxbtc.errors import (
    AuthError,
    ExchangeError,
    NetworkError,
    NotFoundError,
    RateLimitedError,
    RejectedError,
    RetryableError,
    ServerError,
)

log = logging.getLogger(__name__)

#: (status, body, method, path) -> the typed error for a non-2xx answer.
ErrorMapper = Callable[[int, bytes, str, str], ExchangeError]

Query = list[tuple[str, str | int | float | bool | None]]


def plain_error(status: int, body: bytes, method: str, path: str) -> ExchangeError:
    """The typed error for a venue without an error vocabulary of its own: by status, body as message."""
    text = body[:200].decode("utf-8", "replace").strip() or f"HTTP {status}"
    kind: type[ExchangeError]
    if status == 429:
        kind = RateLimitedError
    elif status >= 500:
        kind = ServerError
    elif status == 404:
        kind = NotFoundError
    elif status in (401, 403):
        kind = AuthError
    else:
        kind = RejectedError
    return kind(text, status=status, method=method, path=path)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard to try. ``max_retries`` counts retries of one request, not requests."""

    max_retries: int = 8
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0
    #: A server's Retry-After is honoured up to this long; longer waits are cut to it.
    retry_after_max_s: float = 120.0
    #: Pacing: the least time between two requests of this client (0: none).
    min_interval_s: float = 0.0


@dataclass(slots=True)
class HttpStats:
    """What one client did and survived, for the fetcher's summary and for tests."""

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    #: The waits slept before retries, in order (seconds of the injected clock).
    waits: list[float] = field(default_factory=list)


def retry_after_s(value: str | None, now_ns: int) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date); None if absent or bad."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now_ns / NS_PER_S)


class JsonGetter:
    """GETs under one base URL. Use as ``async with JsonGetter(...) as http:``."""

    def __init__(
        self,
        base_url: str,
        *,
        clock: Clock,
        policy: RetryPolicy | None = None,
        error_for: ErrorMapper = plain_error,
        rng: random.Random | None = None,
        timeout_s: float = 20.0,
        transport: httpx2.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.clock = clock
        self.policy = policy or RetryPolicy()
        self.stats = HttpStats()
        self._error_for = error_for
        self._rng = rng or random.Random()
        self._last_sent: float | None = None
        self._http = httpx2.AsyncClient(
            base_url=self.base_url,
            timeout=httpx2.Timeout(timeout_s),
            headers={"Accept": "application/json", "User-Agent": "kxbtc-history"},
            transport=transport,
            follow_redirects=False,
        )

    async def __aenter__(self) -> JsonGetter:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def get(self, path: str, params: Query | None = None) -> bytes:
        """The body of a 2xx answer to ``GET path``; retries per the policy, else the typed error."""
        attempt = 0
        while True:
            attempt += 1
            await self._pace()
            self.stats.requests += 1
            wait: float | None = None
            try:
                response = await self._http.get(path, params=params or [])
            except httpx2.TransportError as exc:
                error: ExchangeError = NetworkError(
                    f"{type(exc).__name__}: {exc}", code="network_error", method="GET", path=path
                )
            else:
                if response.is_success:
                    return response.content
                error = self._error_for(response.status_code, response.content, "GET", path)
                if isinstance(error, RateLimitedError):
                    self.stats.rate_limited += 1
                    wait = retry_after_s(response.headers.get("retry-after"), self.clock.time_ns())
            if not isinstance(error, RetryableError) or attempt > self.policy.max_retries:
                raise error
            if wait is None:
                wait = equal_jitter(
                    attempt - 1, self.policy.backoff_base_s, self.policy.backoff_max_s, self._rng
                )
            wait = min(wait, self.policy.retry_after_max_s)
            self.stats.retries += 1
            self.stats.waits.append(wait)
            log.info("retrying GET %s in %.3fs (attempt %d): %s", path, wait, attempt, error)
            await self.clock.sleep(wait)

    async def _pace(self) -> None:
        interval = self.policy.min_interval_s
        if interval > 0 and self._last_sent is not None:
            due = self._last_sent + interval - self.clock.monotonic()
            if due > 0:
                await self.clock.sleep(due)
        self._last_sent = self.clock.monotonic()


def query(**values: Any) -> Query:
    """Query parameters with None dropped, in the order given."""
    return [(key, value) for key, value in values.items() if value is not None]
