"""Tick-to-wire measurement: from a WebSocket frame reaching kxbtc to the order it caused, written out.

Off by default and then nearly free (one global read per frame). ``install`` a ``TickToWire`` and:

- the WebSocket read loop calls ``frame_received()`` as each frame is handed to kxbtc; the first frame of
  a batch (the frames the connection had received together, handled at once) stamps
  ``time.monotonic_ns()`` into a context variable of the reading task, and ``forget()`` clears it;
- an order caused by that batch carries the stamp with it: the engine writes it from the same task, or
  sends it from a task spawned from it (a task copies its parent's context when it is created);
- the order path calls ``order_written()`` once the request's last byte went to the transport; the
  sample is the difference from the batch's first frame (every order of a batch is sampled). A spawned
  sender calls ``forget()`` once its order is out, so an order it sends later (on the acknowledgement,
  say) is not counted against an old frame.

Orders the timer starts carry no stamp and are not sampled.
"""

from __future__ import annotations

import time
from contextvars import ContextVar
from dataclasses import dataclass, field

__all__ = [
    "TickToWire",
    "forget",
    "frame_received",
    "install",
    "installed",
    "order_written",
]

_FRAME_RX_NS: ContextVar[int] = ContextVar("kxbtc_frame_rx_ns", default=0)
#: The reading thread's CPU time at the frame's arrival (``time.thread_time_ns``).
_FRAME_CPU_NS: ContextVar[int] = ContextVar("kxbtc_frame_cpu_ns", default=0)


@dataclass(slots=True)
class TickToWire:
    """Samples in the order they were taken: (the frame's arrival, its order's write - arrival), in ns of
    ``time.monotonic_ns()``."""

    samples: list[tuple[int, int]] = field(default_factory=list)
    #: The same intervals in the loop thread's CPU time: what the code spent, without the time the
    #: process waited for a core (a busy machine) or for the loop to come back to it.
    cpu_samples: list[int] = field(default_factory=list)
    #: Frames stamped while installed (how many frames the samples were drawn from).
    frames: int = 0


_probe: TickToWire | None = None


def install(probe: TickToWire | None) -> None:
    """Start measuring into ``probe`` (None stops)."""
    global _probe
    _probe = probe


def installed() -> TickToWire | None:
    return _probe


def frame_received() -> None:
    """A WebSocket frame arrived; orders its batch causes are measured from the batch's first frame."""
    if _probe is not None:
        _probe.frames += 1
        if not _FRAME_RX_NS.get():
            _FRAME_RX_NS.set(time.monotonic_ns())
            _FRAME_CPU_NS.set(time.thread_time_ns())


def forget() -> None:
    """This task's orders from now on were not caused by the stamped frames: the read loop calls it once
    a batch is handled, a spawned sender once its order is out."""
    if _probe is not None:
        _FRAME_RX_NS.set(0)


def order_written(*, last: bool = False) -> None:
    """An order request is fully written to the socket (``last``: the task sends nothing more for the
    frame, so its stamp is cleared)."""
    if _probe is not None and (stamp := _FRAME_RX_NS.get()):
        _probe.samples.append((stamp, time.monotonic_ns() - stamp))
        _probe.cpu_samples.append(time.thread_time_ns() - _FRAME_CPU_NS.get())
        if last:
            _FRAME_RX_NS.set(0)
