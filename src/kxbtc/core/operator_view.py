"""The heartbeat and the market board together, attached to a trading core's timer: what the live engine
and the in-process demo publish for ``kxbtc status`` and the dashboard (backtests do not)."""

from __future__ import annotations

from collections.abc import Callable

from kxbtc.clock import Clock
from kxbtc.core.heartbeat import DEFAULT_EVERY_S, Heartbeat
from kxbtc.core.market_board import MarketBoard
from kxbtc.core.trading_core import TradingCore
from kxbtc.store.writes import StoreWrites


class OperatorView:
    def __init__(
        self,
        core: TradingCore,
        store: StoreWrites,
        *,
        mode: str,
        wall_clock: Clock | None = None,
        heartbeat_every_s: float = DEFAULT_EVERY_S,
        publish_every_s: float = 1.0,
        feeds: Callable[[], dict[str, str]] | None = None,
        publish_min_wall_s: float = 0.0,
    ) -> None:
        self.core = core
        self.heartbeat = Heartbeat(
            store, core.clock, mode=mode, every_s=heartbeat_every_s, wall_clock=wall_clock
        )
        self.board = MarketBoard(
            core,
            store,
            engine_id=self.heartbeat.engine_id,
            every_s=publish_every_s,
            feeds=feeds,
            min_wall_s=publish_min_wall_s,
            wall_clock=wall_clock,
        )

    def start(self) -> None:
        self.heartbeat.start()
        self.core.timer_hooks.append(self.on_timer)

    def on_timer(self, now_ns: int) -> None:
        self.board.maybe_publish(now_ns)
        self.heartbeat.maybe_beat()

    def stop(self) -> None:
        """At a clean shutdown: the markets as they were last, then the final ``stopped`` beat."""
        if self.heartbeat.stopped or not self.heartbeat.started:
            return
        self.board.publish(self.core.clock.time_ns())
        self.heartbeat.stop()
