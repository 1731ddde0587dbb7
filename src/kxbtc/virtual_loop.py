"""An asyncio event loop on virtual time, for running the simulator and the engine in one process.

``VirtualTimeLoop.time()`` is fake. Each turn of the loop first polls for I/O without waiting; when no
I/O is ready, no callback is ready and the next thing due is a timer, the loop's time jumps straight to
that timer instead of sleeping. Simulated hours then pass in however much CPU the work takes, and what
happens no longer depends on how fast the machine is: every component that reads time through the loop
(``kxbtc.clock.LoopClock``, ``asyncio.sleep``, library timeouts) sees the same virtual instant.

This holds when everything that can wake the loop lives on the loop, e.g. loopback sockets between a
server and a client both on this loop (the kernel delivers loopback data before ``send`` returns, and
asyncio turns Nagle off). Work finishing off the loop would race the jumps, so time stands still while
an executor job (``run_in_executor``, ``asyncio.to_thread``, ``getaddrinfo`` for a host name) is pending.

    run_virtual(main())  # like asyncio.run, on a VirtualTimeLoop
"""

from __future__ import annotations

import asyncio
import collections
import math
import selectors
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import Executor
from typing import Any, TypeVar, TypeVarTuple

T = TypeVar("T")
Ts = TypeVarTuple("Ts")

NS_PER_S = 1_000_000_000
#: Longest real wait for an executor job or outside I/O before the loop looks again (real seconds).
_REAL_POLL_S = 0.05

_Ready = list[tuple[selectors.SelectorKey, int]]


class _VirtualSelector(selectors.DefaultSelector):
    """The platform selector, asking its loop what to do whenever a select would block."""

    def __init__(self) -> None:
        super().__init__()
        self.on_idle: Callable[[float | None, Callable[[float | None], _Ready]], _Ready] | None = None

    def select(self, timeout: float | None = None) -> _Ready:
        ready = super().select(0)
        if ready or self.on_idle is None:
            return ready
        return self.on_idle(timeout, super().select)


class RealTimeoutError(TimeoutError):
    """The real-time safety net of ``run_virtual`` fired: the run went on too long in real seconds."""


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """A selector event loop whose clock jumps to the next timer whenever the loop would sleep."""

    # Set by asyncio.BaseEventLoop (not in its type stubs): the callbacks ready to run, and stop() called.
    _ready: collections.deque[asyncio.Handle]
    _stopping: bool

    def __init__(self) -> None:
        selector = _VirtualSelector()
        super().__init__(selector)
        selector.on_idle = self._idle
        # asyncio runs timers due within one clock tick of now. On a clock that only moves when the loop is
        # idle that would fire a timer without time reaching it, and code that sleeps "until enough time
        # has passed" (a token bucket short by a rounding error) would spin forever at one instant.
        # With no tolerance a timer runs once time has strictly passed it.
        self._clock_resolution = 0.0
        self._now_ns = 0
        self._executor_jobs: set[asyncio.Future[Any]] = set()
        #: ``time.monotonic()`` after which ``on_real_timeout`` is called once (the safety net).
        self.real_deadline: float | None = None
        self.on_real_timeout: Callable[[], None] | None = None
        #: How many times virtual time jumped: for reports.
        self.jumps = 0

    def time(self) -> float:
        return self._now_ns / NS_PER_S

    def run_in_executor(
        self, executor: Executor | None, func: Callable[[*Ts], T], *args: *Ts
    ) -> asyncio.Future[T]:
        future = super().run_in_executor(executor, func, *args)
        self._executor_jobs.add(future)
        future.add_done_callback(self._executor_jobs.discard)
        return future

    def _idle(self, timeout: float | None, real_select: Callable[[float | None], _Ready]) -> _Ready:
        """No I/O is ready: wait for off-loop work in real time, or jump to the next timer."""
        self._check_real_deadline()
        if timeout == 0 and (self._ready or self._stopping):
            return []  # callbacks are ready to run: time stands still
        if self._executor_jobs or timeout is None:
            # Something outside the loop must act first (an executor job, or outside I/O when no timer is
            # due): wait for it in real time, with the virtual clock standing still.
            return real_select(_REAL_POLL_S)
        # A timer is next (``timeout`` 0: due exactly now). Move past it: it runs once time has passed it.
        self._now_ns += max(1, math.ceil(timeout * NS_PER_S))
        self.jumps += 1
        return []

    def _check_real_deadline(self) -> None:
        if self.real_deadline is not None and time.monotonic() >= self.real_deadline:
            self.real_deadline = None
            if self.on_real_timeout is not None:
                self.on_real_timeout()


def run_virtual(main: Coroutine[Any, Any, T], *, real_timeout_s: float = 600.0) -> T:
    """Run ``main`` to completion on a fresh ``VirtualTimeLoop``, like ``asyncio.run``.

    ``real_timeout_s`` is a safety net in real seconds: past it the main task is cancelled and
    ``RealTimeoutError`` raised, so a run that never ends fails instead of hanging the test suite.
    """
    with asyncio.Runner(loop_factory=VirtualTimeLoop) as runner:
        loop = runner.get_loop()
        assert isinstance(loop, VirtualTimeLoop)
        task_box: list[asyncio.Task[T]] = []

        async def wrapper() -> T:
            task_box.append(asyncio.current_task())  # type: ignore[arg-type]
            return await main

        expired = False

        def expire() -> None:
            nonlocal expired
            expired = True
            for task in task_box:
                task.cancel()

        loop.real_deadline = time.monotonic() + real_timeout_s
        loop.on_real_timeout = expire
        try:
            return runner.run(wrapper())
        except asyncio.CancelledError:
            if expired:
                raise RealTimeoutError(f"still running after {real_timeout_s} real seconds") from None
            raise
