"""Injected clocks. Every time-dependent component takes a ``Clock`` rather than calling ``time``.

- ``SystemClock``: the machine's clock.
- ``OffsetClock``: another clock corrected by a measured offset (NTP or the exchange's Date header).
- ``ScaledClock``: simulated time running ``speed`` times faster than real time (the simulator's
  ``--speed``), anchored at a chosen start instant.
- ``ManualClock``: time moves only when a test calls ``advance``; sleepers wake in time order.
- ``LoopClock``: the event loop's own time; on ``kxbtc.virtual_loop.VirtualTimeLoop``, virtual time.

The skew guard and NTP measurement live in ``kxbtc.timesync``.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

NS_PER_S = 1_000_000_000
NS_PER_MS = 1_000_000


@runtime_checkable
class Clock(Protocol):
    def time_ns(self) -> int:
        """Wall-clock UTC time in integer nanoseconds since the Unix epoch."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards, for timeouts and rate limits."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Sleep ``seconds`` of this clock's time."""
        ...


def parse_utc_ns(text: str, *, require_zone: bool = False) -> int:
    """An ISO-8601 time (``2026-05-13T00:01:14.686976Z``) in integer Unix nanoseconds; a time without a
    zone is UTC unless ``require_zone``. ValueError when it is not such a time."""
    stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if stamp.tzinfo is None:
        if require_zone:
            raise ValueError(f"{text!r} has no time zone: add Z for UTC")
        stamp = stamp.replace(tzinfo=UTC)
    return int(stamp.timestamp()) * NS_PER_S + stamp.microsecond * 1000


def now_ms(clock: Clock) -> int:
    return clock.time_ns() // NS_PER_MS


def now_s(clock: Clock) -> float:
    return clock.time_ns() / NS_PER_S


class SystemClock:
    def time_ns(self) -> int:
        return time.time_ns()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class OffsetClock:
    """``base`` shifted by ``offset_ns`` (true time = local time + offset)."""

    def __init__(self, base: Clock, offset_ns: int = 0) -> None:
        self.base = base
        self.offset_ns = offset_ns

    def time_ns(self) -> int:
        return self.base.time_ns() + self.offset_ns

    def monotonic(self) -> float:
        return self.base.monotonic()

    async def sleep(self, seconds: float) -> None:
        await self.base.sleep(seconds)


class ScaledClock:
    """Simulated time that runs ``speed`` times faster than the machine's monotonic clock."""

    def __init__(self, speed: float = 1.0, start_ns: int | None = None) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self._start_ns = time.time_ns() if start_ns is None else start_ns
        self._real0 = time.monotonic()

    def time_ns(self) -> int:
        return self._start_ns + int((time.monotonic() - self._real0) * self.speed * NS_PER_S)

    def monotonic(self) -> float:
        return (time.monotonic() - self._real0) * self.speed

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.speed)

    def real_seconds(self, sim_seconds: float) -> float:
        return sim_seconds / self.speed


class ManualClock:
    """Deterministic test clock: ``advance`` moves time and wakes due sleepers in order."""

    def __init__(self, start_ns: int = 1_767_225_600 * NS_PER_S) -> None:  # 2026-01-01T00:00:00Z
        self._now_ns = start_ns
        self._mono0 = start_ns
        self._sleepers: list[tuple[int, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def time_ns(self) -> int:
        return self._now_ns

    def monotonic(self) -> float:
        return (self._now_ns - self._mono0) / NS_PER_S

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now_ns + int(seconds * NS_PER_S), next(self._seq), fut))
        await fut

    def set_ns(self, t_ns: int) -> None:
        if t_ns < self._now_ns:
            raise ValueError("ManualClock cannot go backwards")
        self._wake_until(t_ns)
        self._now_ns = t_ns

    def advance(self, seconds: float) -> None:
        self.set_ns(self._now_ns + int(seconds * NS_PER_S))

    def _wake_until(self, t_ns: int) -> None:
        while self._sleepers and self._sleepers[0][0] <= t_ns:
            wake, _, fut = heapq.heappop(self._sleepers)
            self._now_ns = max(self._now_ns, wake)
            if not fut.done():
                fut.set_result(None)

    async def run_for(self, seconds: float, step: float = 0.1) -> None:
        """Advance in small steps, yielding to the loop so woken tasks run between steps."""
        end = self._now_ns + int(seconds * NS_PER_S)
        while self._now_ns < end:
            self.set_ns(min(end, self._now_ns + int(step * NS_PER_S)))
            for _ in range(5):
                await asyncio.sleep(0)


class LoopClock:
    """Time read from the running event loop's ``time()``, anchored at ``start_ns``.

    On a ``kxbtc.virtual_loop.VirtualTimeLoop`` this is virtual time: give the same ``LoopClock`` to the
    simulator and the engine and both run on it, as fast as the CPU allows.
    """

    def __init__(self, start_ns: int, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._loop = loop or asyncio.get_running_loop()
        self._start_ns = start_ns
        self._t0 = self._loop.time()

    def time_ns(self) -> int:
        return self._start_ns + round((self._loop.time() - self._t0) * NS_PER_S)

    def monotonic(self) -> float:
        return self._loop.time() - self._t0

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))
