"""The engine's heartbeat in its database, so ``kxbtc status`` and the dashboard can tell a running engine
from a database whose engine finished (or died).

A beat is written when the engine starts, then every ``every_s`` seconds of the engine's own clock (the
market's time: simulated time in the demo), and a final one with state ``stopped`` at a clean shutdown.
Each beat carries the wall-clock time too: liveness is judged by wall time (an engine that died stops
beating), while the dashboard shows the market's time. Writes go through the store's writer thread.
"""

from __future__ import annotations

import os
import uuid

from kxbtc.clock import NS_PER_S, Clock, SystemClock
from kxbtc.store.live_view import RUNNING, STOPPED, HeartbeatRecord
from kxbtc.store.writes import StoreWrites

#: Seconds of the engine's clock between beats.
DEFAULT_EVERY_S = 5.0


class Heartbeat:
    def __init__(
        self,
        store: StoreWrites,
        clock: Clock,
        *,
        mode: str,
        every_s: float = DEFAULT_EVERY_S,
        wall_clock: Clock | None = None,
        engine_id: str | None = None,
    ) -> None:
        if every_s <= 0:
            raise ValueError(f"every_s must be positive, got {every_s}")
        self.store = store
        self.clock = clock
        self.wall = wall_clock or SystemClock()
        self.mode = mode
        self.every_ns = int(every_s * NS_PER_S)
        self.engine_id = engine_id or uuid.uuid4().hex
        self._started: tuple[int, int] | None = None  # (wall, market)
        self._last_ns = 0
        self.stopped = False

    @property
    def started(self) -> bool:
        return self._started is not None

    def start(self) -> None:
        self._started = (self.wall.time_ns(), self.clock.time_ns())
        self._write(RUNNING)

    def maybe_beat(self) -> None:
        """Beat if ``every_s`` of the engine's clock has passed since the last one (call on the timer)."""
        due = self.clock.time_ns() - self._last_ns >= self.every_ns
        if self._started is not None and not self.stopped and due:
            self._write(RUNNING)

    def stop(self) -> None:
        """The final beat of a clean shutdown: the database now says its engine stopped."""
        if self._started is not None and not self.stopped:
            self._write(STOPPED)
            self.stopped = True

    def _write(self, state: str) -> None:
        assert self._started is not None
        market = self.clock.time_ns()
        self._last_ns = market
        self.store.record_heartbeat(
            HeartbeatRecord(
                engine_id=self.engine_id,
                pid=os.getpid(),
                mode=self.mode,
                state=state,
                interval_s=self.every_ns / NS_PER_S,
                started_wall_ns=self._started[0],
                started_market_ns=self._started[1],
                beat_wall_ns=self.wall.time_ns(),
                beat_market_ns=market,
            )
        )
