"""Clock offset measurement (NTP, with the exchange's HTTP ``Date`` header as fallback) and the skew guard.

Kalshi rejects timestamps a few seconds off (accepted at ±5 s, rejected at -30 s and +5 min on demo;
kalshi-api.md §2.5, errata item 11), so every signature must carry true time. ``ClockSync`` measures how
far the local clock is from true time and keeps an ``OffsetClock`` corrected by that amount; the signer
reads that clock. ``SkewGuard`` decides whether the clock the signer reads can be trusted:
its remaining error (the measurement's uncertainty, plus the whole offset when correction is off) must stay
within a bound, and the measurement must be recent.

Offsets follow ``kxbtc.clock.OffsetClock``: true time = local time + offset.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Literal

import ntplib

from kxbtc.clock import NS_PER_MS, NS_PER_S, Clock, OffsetClock, SystemClock
from kxbtc.errors import ClockSkewError, KxbtcError

log = logging.getLogger(__name__)

OffsetSource = Literal["ntp", "http-date"]

DEFAULT_NTP_SERVERS: tuple[str, ...] = ("time.cloudflare.com", "time.google.com", "pool.ntp.org")
NTP_PORT = 123
#: The Date header has one-second resolution: the server's time lies somewhere in [Date, Date + 1 s).
DATE_RESOLUTION_NS = NS_PER_S

#: A callable giving the exchange's ``Date`` response header, e.g. from a HEAD/GET of /exchange/status.
DateFetcher = Callable[[], Awaitable[str] | str]


class TimeSyncError(KxbtcError):
    """No time source answered; ``reasons`` holds one line per source tried."""

    def __init__(self, message: str, reasons: Sequence[str] = ()) -> None:
        super().__init__(message + ("".join(f"\n  - {r}" for r in reasons)))
        self.reasons = list(reasons)


@dataclass(frozen=True)
class OffsetMeasurement:
    """One estimate of ``true time - local time`` and how far it may be wrong."""

    offset_ns: int
    uncertainty_ns: int
    source: OffsetSource
    detail: str  # which servers answered, round trip; for log lines and refusal messages

    @property
    def offset_ms(self) -> float:
        return self.offset_ns / NS_PER_MS


def _fmt_s(ns: int, signed: bool = False) -> str:
    return f"{ns / NS_PER_S:+.3f} s" if signed else f"{ns / NS_PER_S:.3f} s"


async def measure_ntp(
    servers: Sequence[str],
    *,
    local: Clock | None = None,
    timeout_s: float = 2.0,
    port: int = NTP_PORT,
    version: int = 4,
) -> OffsetMeasurement:
    """Query every server at once (in threads) and take the median offset of those that answered.

    ntplib measures against the machine's clock; the result is re-expressed against ``local`` (the clock
    that will be corrected), which is the same thing when ``local`` is the system clock.
    Raises TimeSyncError when no server answers.
    """
    if not servers:
        raise TimeSyncError("no NTP servers configured")
    local = local if local is not None else SystemClock()
    client = ntplib.NTPClient()

    def query(server: str) -> ntplib.NTPStats:
        return client.request(server, version=version, port=port, timeout=timeout_s)

    results = await asyncio.gather(*(asyncio.to_thread(query, s) for s in servers), return_exceptions=True)
    # Same instant on both clocks, so that an offset against the system clock converts to one against local.
    system_minus_local_ns = time.time_ns() - local.time_ns()
    offsets_ns: list[int] = []
    delays_ns: list[int] = []
    answered: list[str] = []
    failures: list[str] = []
    for server, result in zip(servers, results, strict=True):
        if isinstance(result, BaseException):
            if not isinstance(result, ntplib.NTPException | OSError):
                raise result
            failures.append(f"ntp {server}:{port}: {type(result).__name__}: {result}")
            continue
        offsets_ns.append(round(result.offset * NS_PER_S) + system_minus_local_ns)
        delays_ns.append(max(0, round(result.delay * NS_PER_S)))
        answered.append(server)
    if not offsets_ns:
        raise TimeSyncError(f"no NTP server answered within {timeout_s} s", failures)
    offset_ns = int(statistics.median(offsets_ns))
    # Half the worst round trip bounds each answer's error; disagreement between servers adds to it.
    spread_ns = max(offsets_ns) - min(offsets_ns)
    uncertainty_ns = max(delays_ns) // 2 + spread_ns // 2
    detail = f"{len(answered)}/{len(servers)} servers answered ({', '.join(answered)})"
    if failures:
        log.warning("NTP: %s; failures: %s", detail, "; ".join(failures))
    return OffsetMeasurement(offset_ns, uncertainty_ns, "ntp", detail)


def parse_http_date_ns(value: str) -> int:
    """An HTTP ``Date`` header (IMF-fixdate, e.g. ``Wed, 25 Nov 2026 15:00:00 GMT``) in Unix ns."""
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        raise TimeSyncError(f"unparseable Date header {value!r}") from None
    if parsed.tzinfo is None:
        raise TimeSyncError(f"Date header {value!r} has no time zone")
    return int(parsed.timestamp()) * NS_PER_S


def offset_from_date_header(value: str, sent_ns: int, received_ns: int) -> OffsetMeasurement:
    """Offset from one response's ``Date`` header, against the midpoint of its round trip.

    ``sent_ns``/``received_ns`` are the local clock around the request (the REST client records them). The
    header is truncated to the second, so the server's time is ``Date + 0.5 s ± 0.5 s``: the estimate is
    centred on that and its uncertainty is 0.5 s plus half the round trip.
    """
    if not value:
        raise TimeSyncError("the response carried no Date header")
    rtt_ns = max(0, received_ns - sent_ns)
    server_ns = parse_http_date_ns(value) + DATE_RESOLUTION_NS // 2
    offset_ns = server_ns - (sent_ns + rtt_ns // 2)
    uncertainty_ns = DATE_RESOLUTION_NS // 2 + rtt_ns // 2
    detail = f"Date header {value!r}, round trip {rtt_ns / NS_PER_MS:.0f} ms, resolution ±0.5 s"
    return OffsetMeasurement(offset_ns, uncertainty_ns, "http-date", detail)


async def measure_http_date(fetch_date: DateFetcher, *, local: Clock | None = None) -> OffsetMeasurement:
    """Fetch the exchange's ``Date`` header once and derive the offset (see offset_from_date_header)."""
    local = local if local is not None else SystemClock()
    sent_ns = local.time_ns()
    answer = fetch_date()
    value = await answer if inspect.isawaitable(answer) else answer
    received_ns = local.time_ns()
    return offset_from_date_header(value if isinstance(value, str) else "", sent_ns, received_ns)


class SkewGuard:
    """Decides whether the signing clock is trustworthy enough to sign with.

    Signing is refused when nothing has been measured yet, when the last measurement is older than
    ``max_age_s``, or when the signing clock's possible error exceeds ``max_offset_ms``. That error is the
    measurement's uncertainty when the offset is applied to the signing clock, and the offset itself plus
    that uncertainty when it is not.
    """

    def __init__(self, max_offset_ms: int = 1000, *, max_age_s: float = 3600.0, clock: Clock | None = None):
        if max_offset_ms <= 0:
            raise ValueError("max_offset_ms must be positive")
        self.max_offset_ms = max_offset_ms
        self.max_age_s = max_age_s
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._last: OffsetMeasurement | None = None
        self._last_mono = 0.0  # the guard's own monotonic time of the last update, to age it
        self._corrected = False

    def update(self, measurement: OffsetMeasurement, *, corrected: bool) -> None:
        """Record a measurement; ``corrected`` says whether the signing clock now includes its offset."""
        self._last = measurement
        self._last_mono = self._clock.monotonic()
        self._corrected = corrected

    @property
    def last(self) -> OffsetMeasurement | None:
        return self._last

    def age_s(self) -> float | None:
        if self._last is None:
            return None
        return max(0.0, self._clock.monotonic() - self._last_mono)

    def error_bound_ns(self) -> int | None:
        """How far the signing clock may be from true time, per the last measurement."""
        m = self._last
        if m is None:
            return None
        return m.uncertainty_ns if self._corrected else abs(m.offset_ns) + m.uncertainty_ns

    def refusal(self) -> str | None:
        """Why signing must not happen now, or None when it may."""
        m = self._last
        bound_ns = self.max_offset_ms * NS_PER_MS
        if m is None:
            return f"clock offset not measured yet (bound {_fmt_s(bound_ns)}); run a time sync before signing"
        age = self.age_s() or 0.0
        measured = (
            f"clock offset {_fmt_s(m.offset_ns, signed=True)} ± {_fmt_s(m.uncertainty_ns)} "
            f"measured by {m.source}, {m.detail}, {age:.0f} s ago"
        )
        if age > self.max_age_s:
            return f"{measured}: older than the {self.max_age_s:.0f} s limit; resync before signing"
        error_ns = self.error_bound_ns() or 0
        if error_ns > bound_ns:
            applied = "applied to" if self._corrected else "NOT applied to"
            return (
                f"{measured} ({applied} the signing clock): timestamps may be off by up to "
                f"{_fmt_s(error_ns)}, above the {_fmt_s(bound_ns)} bound"
            )
        return None

    def signing_allowed(self) -> bool:
        return self.refusal() is None

    def check(self) -> None:
        """Raise ClockSkewError with the reason when signing is refused."""
        reason = self.refusal()
        if reason is not None:
            raise ClockSkewError(f"refusing to sign: {reason}")


class ClockSync:
    """Owns the corrected clock the signer reads, and keeps it corrected.

    ``sync()`` measures with NTP, falls back to the exchange's ``Date`` header (``fetch_date``) when no NTP
    server answers, sets the OffsetClock's offset (unless ``correct`` is False) and reports to the guard.
    """

    def __init__(
        self,
        base: Clock | None = None,
        *,
        ntp_servers: Sequence[str] = DEFAULT_NTP_SERVERS,
        ntp_timeout_s: float = 2.0,
        ntp_port: int = NTP_PORT,
        fetch_date: DateFetcher | None = None,
        guard: SkewGuard | None = None,
        correct: bool = True,
    ) -> None:
        self.base: Clock = base if base is not None else SystemClock()
        self.clock = OffsetClock(self.base)
        self.ntp_servers = tuple(ntp_servers)
        self.ntp_timeout_s = ntp_timeout_s
        self.ntp_port = ntp_port
        self.fetch_date = fetch_date
        self.guard = guard if guard is not None else SkewGuard(clock=self.base)
        self.correct = correct
        self._resync: asyncio.Future[OffsetMeasurement] | None = None

    async def measure(self) -> OffsetMeasurement:
        """One measurement (NTP first, then Date), without applying it."""
        reasons: list[str] = []
        if self.ntp_servers:
            try:
                return await measure_ntp(
                    self.ntp_servers, local=self.base, timeout_s=self.ntp_timeout_s, port=self.ntp_port
                )
            except TimeSyncError as exc:
                log.warning("NTP sync failed, trying the Date header: %s", exc)
                reasons.extend(exc.reasons or [str(exc)])
        if self.fetch_date is not None:
            try:
                return await measure_http_date(self.fetch_date, local=self.base)
            except (KxbtcError, OSError) as exc:  # the fetcher may raise the REST client's typed errors
                reasons.append(f"Date header: {type(exc).__name__}: {exc}")
        raise TimeSyncError("clock offset could not be measured", reasons)

    async def sync(self) -> OffsetMeasurement:
        """Measure, correct the clock, update the guard. On failure the previous estimate stays (and ages)."""
        m = await self.measure()
        if self.correct:
            self.clock.offset_ns = m.offset_ns
        self.guard.update(m, corrected=self.correct)
        log.info(
            "clock offset %+.1f ms ± %.1f ms via %s (%s)",
            m.offset_ms,
            m.uncertainty_ns / NS_PER_MS,
            m.source,
            m.detail,
        )
        return m

    async def resync(self) -> None:
        """Sync now, out of schedule (the exchange refused a timestamp). Callers that arrive while one is
        running wait for that one: a burst of refused orders measures the clock once."""
        if self._resync is None or self._resync.done():
            self._resync = asyncio.ensure_future(self.sync())
        await asyncio.shield(self._resync)

    async def run(self, interval_s: float = 300.0) -> None:
        """Resync every ``interval_s`` until cancelled; a failed round is logged and retried next time."""
        while True:
            try:
                await self.sync()
            except TimeSyncError as exc:
                log.error("clock sync failed (previous estimate kept): %s", exc)
            await self.base.sleep(interval_s)
