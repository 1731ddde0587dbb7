"""The Kalshi REST client's transport: signing, rate limiting, sending, and the retry policy.

Every attempt is signed afresh over the full path (``/trade-api/v2/...``, no query). Retries only where a
repeat cannot do harm; each endpoint says which policy it takes (``Retry``):

- reads (GET): network errors, 429 and 5xx, with jittered exponential backoff (``Retry.SAFE``);
- creates: the same body again (same ``client_order_id``, so the exchange deduplicates); whether an
  attempt's outcome was unknown is kept in ``Attempts`` so a later 409 can be resolved;
- cancels: 429 only (``Retry.RATE_LIMIT``: the request was not processed), or ``Retry.SAFE`` when the
  caller says a 404 is acceptable, since a repeated cancel of a done cancel answers 404;
- amend/decrease and transfers: 429 only.

Whatever the policy, a 401 ``header_timestamp_expired`` (the local clock stepped since the last time sync)
re-syncs the clock at once through ``on_clock_rejected`` and repeats the request once: the exchange
refused it unprocessed, so the repeat is safe for every request, order creates and cancels included.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Protocol, Self, TypeVar
from urllib.parse import quote, urlsplit

import httpx2

from kxbtc import latency
from kxbtc.backoff import equal_jitter
from kxbtc.clock import Clock, SystemClock
from kxbtc.errors import (
    AuthError,
    ExchangeError,
    KxbtcError,
    NetworkError,
    RateLimitedError,
    RetryableError,
    SendDeadlineError,
    ServerError,
)
from kxbtc.kalshi.auth import Signer
from kxbtc.kalshi.error_bodies import parse_error
from kxbtc.kalshi.order_wire import OrderWire
from kxbtc.kalshi.ratelimit import RateLimiter
from kxbtc.kalshi.rest_messages import decode

# The records keep the logger name they had when this code lived in ``kxbtc.kalshi.rest``.
log = logging.getLogger("kxbtc.kalshi.rest")

T = TypeVar("T")


class RequestSigner(Protocol):
    """What the client needs from ``kxbtc.kalshi.auth.Signer`` (which satisfies it)."""

    def headers(self, method: str, path: str, ts_ms: int | None = None) -> dict[str, str]: ...


@dataclass(frozen=True, slots=True)
class ResponseInfo:
    """One HTTP exchange, for clock sync (the Date header) and metrics."""

    method: str
    path: str
    status: int
    date_header: str | None
    sent_ns: int
    received_ns: int

    @property
    def server_time_ns(self) -> int | None:
        """The server's Date header as Unix ns (1 s resolution), or None if absent or unparseable."""
        if not self.date_header:
            return None
        try:
            return int(parsedate_to_datetime(self.date_header).timestamp()) * 1_000_000_000
        except (TypeError, ValueError):
            return None


OnResponse = Callable[[ResponseInfo], None]
#: Re-measures the clock offset now; called when the exchange says a signature's timestamp is off.
OnClockRejected = Callable[[], Awaitable[None]]

#: Kalshi's 401 code for a ``KALSHI-ACCESS-TIMESTAMP`` outside its window.
TIMESTAMP_EXPIRED = "header_timestamp_expired"


async def _trace_order_written(event: str, info: dict[str, Any]) -> None:
    if event == "http11.send_request_body.complete":
        latency.order_written(last=True)  # a task of its own: nothing more for this frame


class Retry(enum.Enum):
    NEVER = "never"
    RATE_LIMIT = "rate_limit"  # 429 only: the server did not process the request
    SAFE = "safe"  # network errors, 429, 5xx


@dataclass(slots=True)
class Attempts:
    """What happened across one logical request's attempts."""

    count: int = 0
    # True once an attempt may have reached the exchange without us seeing the answer.
    ambiguous: bool = False
    #: No attempt leaves after this instant (the request's clock, ns): an opening order's retry must not
    #: reach the exchange inside the final-minute freeze the risk gate checked it against.
    send_by_ns: int | None = None


Params = list[tuple[str, str | int | float | bool | None]]


def query_params(**values: Any) -> Params:
    """Query parameters: None dropped, bools as true/false, sequences comma-joined."""
    out: Params = []
    for key, value in values.items():
        if value is None:
            continue
        if isinstance(value, bool):
            out.append((key, "true" if value else "false"))
        elif isinstance(value, Sequence) and not isinstance(value, str):
            if value:
                out.append((key, ",".join(str(v) for v in value)))
        else:
            out.append((key, str(value)))
    return out


def path_segment(value: str) -> str:
    """One path segment, escaped (tickers are safe, but an order id is caller input)."""
    return quote(value, safe="")


@dataclass(frozen=True, slots=True)
class StartedWrite:
    """A request ``start_write`` put on the wire: its answer to come, and when it left."""

    answer: asyncio.Future[httpx2.Response]
    sent_ns: int


@dataclass(slots=True)
class RestStats:
    """What the client survived: for operators and tests, without reading log text."""

    requests: int = 0
    retries: int = 0
    #: Order creates whose outcome was unknown (lost response, reset, 5xx) and were re-sent.
    order_write_retries: int = 0
    #: Creates answered 409 after an unknown outcome and settled by finding the order by its id.
    resolved_by_lookup: int = 0


class RestTransport:
    """Signed, rate-limited, retried HTTP to the Trade API; the endpoint groups build on it.

    ``base_url`` includes the API prefix, e.g. ``https://external-api.kalshi.com/trade-api/v2``.
    ``signer`` may be None for public market data only.
    """

    def __init__(
        self,
        base_url: str,
        signer: Signer | RequestSigner | None,
        clock: Clock | None = None,
        *,
        timeout_s: float = 10.0,
        max_retries: int = 3,
        backoff_base_s: float = 0.2,
        backoff_max_s: float = 5.0,
        rate_limiter: RateLimiter | None = None,
        on_response: OnResponse | None = None,
        lookup_attempts: int = 4,
        lookup_delay_s: float = 0.25,
        rng: random.Random | None = None,
        transport: httpx2.AsyncBaseTransport | None = None,
        on_clock_rejected: OnClockRejected | None = None,
        order_wire: bool = True,
    ) -> None:
        parts = urlsplit(base_url.rstrip("/"))
        if not parts.scheme or not parts.netloc:
            raise ValueError(f"base_url must be absolute, got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self._prefix = parts.path  # "/trade-api/v2": part of the signed path
        self._signer = signer
        self._clock: Clock = clock if clock is not None else SystemClock()
        self.max_retries = max_retries
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.rate_limiter = rate_limiter
        self.stats = RestStats()
        self.on_response = on_response
        self.lookup_attempts = lookup_attempts
        self.lookup_delay_s = lookup_delay_s
        self._rng = rng if rng is not None else random.Random()
        self.on_clock_rejected = on_clock_rejected
        self._http = httpx2.AsyncClient(
            base_url=self.base_url,
            timeout=httpx2.Timeout(timeout_s),
            headers={"Accept": "application/json"},
            transport=transport,
            follow_redirects=False,
        )
        #: Kept-alive connections for order creates (``start_write``); not with a custom transport
        #: (tests that mock HTTP), whose requests must all go through it.
        self._order_wire: OrderWire | None = None
        if order_wire and transport is None:
            self._order_wire = OrderWire(self.base_url, timeout_s=timeout_s)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._order_wire is not None:
            await self._order_wire.aclose()
        await self._http.aclose()

    # ----------------------------------------------------------------------------------------------
    # Transport

    def full_path(self, path: str) -> str:
        """The path as signed and as the cost table names it: ``/trade-api/v2`` + ``path``."""
        return self._prefix + path

    def _backoff(self, attempt: int) -> float:
        return equal_jitter(attempt - 1, self.backoff_base_s, self.backoff_max_s, self._rng)

    async def _send_once(
        self,
        method: str,
        path: str,
        params: Params | None,
        body: bytes | None,
        items: int,
        send_by_ns: int | None = None,
    ) -> httpx2.Response:
        full = self.full_path(path)
        if self.rate_limiter is not None:
            await self.rate_limiter.acquire(method, full, items)
            if self._past(send_by_ns):
                raise SendDeadlineError("waited past the deadline for tokens", code="send_deadline_passed")
        headers: dict[str, str] = {}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if self._signer is not None:
            # Fresh timestamp and signature on every attempt; the signer's clock is the corrected one.
            headers.update(self._signer.headers(method, full))
        sent_ns = self._clock.time_ns()
        # Tick-to-wire measurement (kxbtc.latency): an order's request fully written.
        extensions = {"trace": _trace_order_written} if method == "POST" and latency.installed() else None
        try:
            response = await self._http.request(
                method, path, params=params, content=body, headers=headers, extensions=extensions
            )
        except httpx2.TransportError as exc:
            raise NetworkError(f"{type(exc).__name__}: {exc}", method=method, path=full) from exc
        self._answered(method, full, response, sent_ns)
        return response

    def _answered(self, method: str, full: str, response: httpx2.Response, sent_ns: int) -> None:
        if self.on_response is not None:
            info = ResponseInfo(
                method,
                full,
                response.status_code,
                response.headers.get("date"),
                sent_ns,
                self._clock.time_ns(),
            )
            try:
                self.on_response(info)
            except Exception:  # a broken metrics hook must not break trading
                log.exception("on_response hook failed for %s %s", method, full)

    # -- the order path: written before the caller returns (``order_wire``) -------------------------

    def start_write(self, path: str, body: bytes, items: int = 1) -> StartedWrite | None:
        """POST ``body`` to ``path`` now, on a kept-alive connection with a signature prepared ahead, in
        one write before returning; None when that cannot be done at once (no idle connection, no
        fresh signature, no rate-limit tokens without waiting), and the caller sends the usual way.
        The result goes to ``_request(..., started=...)`` as its first attempt."""
        ready = self._idle_order_path()
        if ready is None:
            return None
        wire, signer = ready
        full = self.full_path(path)
        try:
            signed = signer.presigned_headers("POST", full)
        except KxbtcError:  # a distrusted clock: the usual path raises it where the caller expects it
            return None
        if signed is None:
            signer.presign("POST", full)  # for the next one; this one goes the usual way
            return None
        limiter = self.rate_limiter
        if limiter is not None and not limiter.bucket_for("POST", full).try_acquire(
            limiter.cost("POST", full, items)
        ):
            return None
        sent_ns = self._clock.time_ns()
        future = wire.try_send(
            "POST", full, body, {"Content-Type": "application/json", "Accept": "application/json", **signed}
        )
        return None if future is None else StartedWrite(future, sent_ns)

    def _idle_order_path(self) -> tuple[OrderWire, Signer] | None:
        """The kept-alive order connections and the signer, when a connection is idle now."""
        wire, signer = self._order_wire, self._signer
        if wire is None or not isinstance(signer, Signer) or not wire.ready():
            return None
        return wire, signer

    def order_path_ready(self, path: str) -> bool:
        """A POST to ``path`` now would be written at once (``start_write``): a kept-alive connection idle
        and a signature prepared. Rate-limit tokens are not looked at."""
        ready = self._idle_order_path()
        return ready is not None and ready[1].presigned_headers("POST", self.full_path(path)) is not None

    @property
    def orders_written_at_once(self) -> int:
        """Requests ``start_write`` put on the wire (the rest went through the general client)."""
        return self._order_wire.sent if self._order_wire is not None else 0

    def presign_orders(self, path: str) -> None:
        """Keep the order path's signature fresh (after each order, and on the engine's timer)."""
        if isinstance(self._signer, Signer):
            self._signer.presign("POST", self.full_path(path))
        if self._order_wire is not None:
            self._order_wire.replenish()

    async def _finish_started(self, started: StartedWrite, full: str) -> httpx2.Response:
        assert self._order_wire is not None
        response = await self._order_wire.answer(started.answer)
        self._answered("POST", full, response, started.sent_ns)
        return response

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        body: bytes | None = None,
        retry: Retry = Retry.SAFE,
        items: int = 1,
        attempts: Attempts | None = None,
        started: StartedWrite | None = None,
    ) -> bytes:
        """Send with retries per ``retry``; return the 2xx body or raise the typed error. ``started``: the
        first attempt, already written by ``start_write``."""
        state = attempts if attempts is not None else Attempts()
        full = self.full_path(path)
        resynced = False
        last: ExchangeError | None = None
        while True:
            if started is None and self._past(state.send_by_ns):
                raise self._too_late(method, full, state, last)
            state.count += 1
            self.stats.requests += 1
            try:
                if started is not None:
                    first, started = started, None
                    response = await self._finish_started(first, full)
                else:
                    response = await self._send_once(method, path, params, body, items, state.send_by_ns)
            except SendDeadlineError:  # the rate limiter's wait ran past the deadline
                raise self._too_late(method, full, state, last) from None
            except NetworkError as exc:
                state.ambiguous = True
                error: ExchangeError = exc
            else:
                if response.is_success:
                    return response.content
                error = parse_error(response.status_code, response.content, method=method, path=full)
                if isinstance(error, ServerError):
                    state.ambiguous = True
                if isinstance(error, RateLimitedError) and self.rate_limiter is not None:
                    self.rate_limiter.bucket_for(method, full).drain()
            last = error
            if not resynced and self._clock_rejected(error):
                resynced = True
                await self._resync(method, full)
                continue
            if not self._should_retry(error, retry) or state.count > self.max_retries:
                raise error
            delay = self._backoff(state.count)
            self.stats.retries += 1
            if method == "POST" and "/orders" in full and state.ambiguous:
                self.stats.order_write_retries += 1
            log.warning("retrying %s %s in %.3fs (attempt %d): %s", method, full, delay, state.count, error)
            await self._clock.sleep(delay)

    def _past(self, deadline_ns: int | None) -> bool:
        return deadline_ns is not None and self._clock.time_ns() > deadline_ns

    @staticmethod
    def _too_late(method: str, full: str, state: Attempts, last: ExchangeError | None) -> ExchangeError:
        """What a request stopped by its deadline reports: the last attempt's error when an attempt may
        have executed (the outcome is unknown: reconciliation settles it), else that it was not sent."""
        if state.ambiguous and last is not None:
            return last
        return SendDeadlineError(
            "not sent: its deadline passed before this attempt could leave",
            code="send_deadline_passed",
            details=f"after {state.count} attempt(s)" + (f"; last: {last}" if last is not None else ""),
            method=method,
            path=full,
        )

    def _clock_rejected(self, error: ExchangeError) -> bool:
        return (
            self.on_clock_rejected is not None
            and isinstance(error, AuthError)
            and error.code == TIMESTAMP_EXPIRED
        )

    async def _resync(self, method: str, full: str) -> None:
        """Re-measure the clock before the one repeat; a failed measurement leaves the repeat to fail."""
        assert self.on_clock_rejected is not None
        log.warning("%s %s: %s; re-syncing the clock and retrying once", method, full, TIMESTAMP_EXPIRED)
        try:
            await self.on_clock_rejected()
        except KxbtcError as exc:
            log.error("clock re-sync after %s failed: %s", TIMESTAMP_EXPIRED, exc)

    @staticmethod
    def _should_retry(error: ExchangeError, retry: Retry) -> bool:
        if retry is Retry.NEVER:
            return False
        if retry is Retry.RATE_LIMIT:
            return isinstance(error, RateLimitedError)
        return isinstance(error, RetryableError)

    async def _get(self, path: str, kind: type[T], params: Params | None = None) -> T:
        raw = await self._request("GET", path, params=params, retry=Retry.SAFE)
        return decode(raw, kind, f"GET {self.full_path(path)}")
