"""A small GET-only JSON client for Polymarket's public APIs (Gamma, CLOB), on httpx2.

Reads are safe to repeat: network errors, 429, 425 (matching-engine restart, errata Part 4 §2.2) and
5xx are retried with jittered exponential backoff on the injected clock; everything else raises the
typed error at once. Error bodies are Polymarket's ``{"error": "..."}``.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Sequence

import httpx2

from kxbtc.backoff import equal_jitter
from kxbtc.clock import Clock, SystemClock
from kxbtc.errors import (
    ExchangeError,
    NetworkError,
    NotFoundError,
    RateLimitedError,
    RejectedError,
    RetryableError,
    ServerError,
)

__all__ = ["PolyHttp", "error_for_status"]

log = logging.getLogger(__name__)

Params = Sequence[tuple[str, str]]


def _message(body: bytes) -> str:
    try:
        data = json.loads(body)
    except ValueError:
        return body[:200].decode("utf-8", "replace")
    if isinstance(data, dict):
        for key in ("error", "message", "detail"):
            if isinstance(data.get(key), str):
                return str(data[key])
    return body[:200].decode("utf-8", "replace")


def error_for_status(status: int, body: bytes, *, path: str) -> ExchangeError:
    message = _message(body) or f"HTTP {status}"
    kind: type[ExchangeError]
    if status == 404:
        kind = NotFoundError
    elif status in (425, 429):
        kind = RateLimitedError  # 425: the matching engine is restarting; both mean "later"
    elif status >= 500:
        kind = ServerError
    else:
        kind = RejectedError
    return kind(message, code=f"http_{status}", status=status, method="GET", path=path)


class PolyHttp:
    def __init__(
        self,
        base_url: str,
        clock: Clock | None = None,
        *,
        timeout_s: float = 10.0,
        max_retries: int = 2,
        backoff_base_s: float = 0.2,
        backoff_max_s: float = 5.0,
        rng: random.Random | None = None,
        transport: httpx2.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._clock: Clock = clock if clock is not None else SystemClock()
        self.max_retries = max_retries
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self._rng = rng if rng is not None else random.Random()
        self._http = httpx2.AsyncClient(
            base_url=self.base_url,
            timeout=httpx2.Timeout(timeout_s),
            headers={"Accept": "application/json"},
            transport=transport,
            follow_redirects=False,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def get(self, path: str, params: Params = ()) -> bytes:
        attempt = 0
        while True:
            attempt += 1
            try:
                response = await self._http.get(path, params=list(params))
            except httpx2.TransportError as exc:
                error: ExchangeError = NetworkError(f"{type(exc).__name__}: {exc}", method="GET", path=path)
            else:
                if response.is_success:
                    return response.content
                error = error_for_status(response.status_code, response.content, path=path)
            if not isinstance(error, RetryableError) or attempt > self.max_retries:
                raise error
            delay = equal_jitter(attempt - 1, self.backoff_base_s, self.backoff_max_s, self._rng)
            log.warning("retrying GET %s in %.3fs (attempt %d): %s", path, delay, attempt, error)
            await self._clock.sleep(delay)
