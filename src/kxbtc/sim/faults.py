"""Seeded fault injection for the simulator's REST and WebSocket layers.

Spec string (``--faults``), comma-separated ``name=value`` pairs, all optional:

- ``drop=P``: drop each sequenced WS data message with probability P (the client sees a seq gap).
- ``disconnect_every=S``: close every WS connection after S real seconds.
- ``delay_ms=N``: delay every WS message, every REST request and every REST answer by up to N ms each
  (uniform). A network delay: each WS frame leaves at its send time plus its own delay (never before the
  frame ahead of it), so frames overlap in flight and the delay costs no throughput; a request is
  executed after its own delay and answered after another, so concurrent requests execute and are
  answered in any order, and an order's WebSocket updates can arrive before its REST answer.
- ``reorder=P``: WS frames of different subscriptions travel independently, as when Kalshi's channels
  come from different services: each frame is held back with probability P by up to
  ``max(delay_ms, 25)`` ms more, and frames of other subscriptions sent after it overtake it (a fill
  before its order update, a ticker before the book delta). A subscription's own frames keep their order
  behind it, except that rarely (P / 20 of book deltas) a delta overtakes its sid's previous one: the
  client sees a seq gap and must resync. Command replies (``subscribed``, ``ok``, errors) are never
  reordered with anything.
- ``http_429=P`` / ``http_5xx=P``: answer a REST request with 429 / 500 before executing it.
- ``retry_after=S``: injected 429s carry ``Retry-After: S`` (whole seconds). Kalshi sends none
  (kalshi-api.md §3.6); this exercises clients that honour it where a server does.
- ``lose_response=P``: execute an order-entry write, then lose its response (drop the connection, or a
  500 without a body).

Each decision draws from one ``random.Random(seed)``, so a run with the same seed and the same request
order injects the same faults.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, fields
from enum import Enum

from kxbtc.errors import ConfigError


class FaultSpecError(ConfigError):
    """The ``--faults`` string cannot be parsed."""


@dataclass(frozen=True)
class FaultSpec:
    drop: float = 0.0
    disconnect_every: float = 0.0
    delay_ms: float = 0.0
    http_429: float = 0.0
    http_5xx: float = 0.0
    lose_response: float = 0.0
    retry_after: float = 0.0
    reorder: float = 0.0

    @staticmethod
    def parse(text: str) -> FaultSpec:
        known = {f.name for f in fields(FaultSpec)}
        values: dict[str, float] = {}
        for item in (part.strip() for part in text.split(",")):
            if not item:
                continue
            name, sep, raw = item.partition("=")
            name = name.strip()
            if not sep or name not in known:
                raise FaultSpecError(
                    f"unknown fault {item!r}; expected name=value with name in {sorted(known)}"
                )
            try:
                value = float(raw)
            except ValueError:
                raise FaultSpecError(f"fault {name}: {raw!r} is not a number") from None
            if (
                not math.isfinite(value)
                or value < 0
                or (name not in ("disconnect_every", "delay_ms", "retry_after") and value > 1)
            ):
                raise FaultSpecError(f"fault {name}: {value} is out of range")
            values[name] = value
        return FaultSpec(**values)

    @property
    def active(self) -> bool:
        return any(getattr(self, f.name) for f in fields(self))


#: A held-back frame waits up to this long more (ms) when ``delay_ms`` is smaller.
REORDER_HOLD_MS = 25.0
#: The share of reordered book deltas that overtake their own sid's previous frame (a seq gap).
SID_OVERTAKE_SHARE = 0.05


class HttpFault(Enum):
    NONE = "none"
    RATE_LIMITED = "429"
    SERVER_ERROR = "5xx"


class LostResponse(Enum):
    NONE = "none"
    DROP_CONNECTION = "drop"
    EMPTY_500 = "500"


class FaultInjector:
    """Draws fault decisions from a seeded generator; a spec with all zeros never injects anything."""

    def __init__(self, spec: FaultSpec | None = None, seed: int = 0) -> None:
        self.spec = spec or FaultSpec()
        self._rng = random.Random(seed)
        #: How many of each HTTP fault were injected, for tests that count a client's retries.
        self.injected: dict[HttpFault, int] = {HttpFault.RATE_LIMITED: 0, HttpFault.SERVER_ERROR: 0}
        #: WS frames delivered after a frame that was sent later (``reorder``), over every connection.
        self.ws_reordered = 0
        #: Book deltas let go ahead of their own subscription's previous frame (each a seq gap).
        self.ws_sid_overtakes = 0

    def http_fault(self) -> HttpFault:
        fault = HttpFault.NONE
        if self.spec.http_429 and self._rng.random() < self.spec.http_429:
            fault = HttpFault.RATE_LIMITED
        elif self.spec.http_5xx and self._rng.random() < self.spec.http_5xx:
            fault = HttpFault.SERVER_ERROR
        if fault is not HttpFault.NONE:
            self.injected[fault] += 1
        return fault

    @property
    def retry_after_header(self) -> dict[str, str]:
        """The headers of an injected 429: ``Retry-After`` when the spec asks for one."""
        return {"Retry-After": str(int(self.spec.retry_after))} if self.spec.retry_after else {}

    def lost_response(self) -> LostResponse:
        if self.spec.lose_response and self._rng.random() < self.spec.lose_response:
            return LostResponse.DROP_CONNECTION if self._rng.random() < 0.5 else LostResponse.EMPTY_500
        return LostResponse.NONE

    def drop_ws_message(self) -> bool:
        return bool(self.spec.drop) and self._rng.random() < self.spec.drop

    def delay_seconds(self) -> float:
        if not self.spec.delay_ms:
            return 0.0
        return self._rng.uniform(0.0, self.spec.delay_ms) / 1000.0

    @property
    def reorders(self) -> bool:
        return bool(self.spec.reorder)

    def hold_back_seconds(self) -> float:
        """Extra delay of one frame under ``reorder``: 0 unless this frame is drawn to be held back."""
        if not self.spec.reorder or self._rng.random() >= self.spec.reorder:
            return 0.0
        return self._rng.uniform(0.0, max(self.spec.delay_ms, REORDER_HOLD_MS)) / 1000.0

    def overtakes_own_sid(self) -> bool:
        """Whether a book delta may leave ahead of its subscription's frames still in flight."""
        share = self.spec.reorder * SID_OVERTAKE_SHARE
        return bool(share) and self._rng.random() < share

    @property
    def disconnect_after_s(self) -> float | None:
        return self.spec.disconnect_every or None
