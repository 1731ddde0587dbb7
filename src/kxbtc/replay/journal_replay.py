"""Replay an engine journal (``kxbtc.engine.journal``) with recorded execution: a fresh trading core is
given exactly what the live engine's core was given, at the same instants and in the same order, and
every order it decides is collected.

Books come from the recorded frames through ``KalshiStream`` and ``BookSet`` (not the live client's own
books), fills and order updates from the recorded frames, the exchange's answers from the recorded
``ack`` lines, the timer from the recorded ``timer`` lines, markets from the recorded ``market`` lines.
Nothing is simulated, so the orders out must equal the live engine's: that is the parity between the
live path and the backtest path (tests/integration/test_parity.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from kxbtc.backtest.recording import Recording, RecordingError, spec_from_json
from kxbtc.clock import ManualClock
from kxbtc.config import Config
from kxbtc.core.books import BookSet
from kxbtc.core.commands import Command, OutgoingOrder, PlaceOrders
from kxbtc.core.trading_core import TradingCore
from kxbtc.domain.events import AckEvent, CoreEvent, Timer
from kxbtc.domain.orders import OrderAck
from kxbtc.errors import ProtocolError
from kxbtc.kalshi.stream import KalshiStream
from kxbtc.kalshi.ws_messages import decode_frame
from kxbtc.store.db import SqliteStore
from kxbtc.strategy.base import Strategy
from kxbtc.units import Count, Money


class JournalReplay:
    def __init__(
        self,
        config: Config,
        path: Path,
        store: SqliteStore,
        *,
        start_cash: Money,
        strategies: Sequence[Strategy] | None = None,
    ) -> None:
        self.recording = Recording(path)
        header = self.recording.header
        if not header.run_id:
            raise RecordingError(path, 1, "not an engine journal (its header names no run_id)")
        self.clock = ManualClock(header.start_ns)
        self.core = TradingCore(
            config,
            clock=self.clock,
            store=store,
            run_id=header.run_id,
            books=BookSet(),
            strategies=strategies,
        )
        self.core.account.anchor = start_cash
        self.stream = KalshiStream(use_yes_price=header.use_yes_price)
        self.placed: list[OutgoingOrder] = []

    def run(self) -> list[OutgoingOrder]:
        self.core.update_equity()
        for line in self.recording.lines():
            if line.t > self.clock.time_ns():
                self.clock.set_ns(line.t)
            if line.kind == "ws" and line.frame is not None:
                try:
                    msg = decode_frame(line.frame)
                except ProtocolError as exc:
                    self._handle(self.stream.bad_frame(line.t, str(exc)))
                    continue
                self._handle(self.stream.on_message(msg, line.t))
            elif line.kind == "market":
                self.core.list_market(spec_from_json(line.body).instrument())
            elif line.kind == "timer":
                self._handle([Timer(line.t)])
            elif line.kind == "ack":
                self._handle([AckEvent(tuple(_ack(a) for a in line.body["acks"]), line.t)])
            elif line.kind == "batch":  # frames received together: evaluated once, at the end
                if line.body.get("end"):
                    self._handle_commands(self.core.end_batch())
                else:
                    self.core.begin_batch()
            elif line.kind == "booked":
                self.core.orders.all_booked()
            elif line.kind == "end":
                self.core.stopping = True  # the engine's shutdown began: it decided nothing after
            elif line.kind == "connection" and not line.body.get("up"):
                self._handle(self.stream.disconnected(line.t))
        return self.placed

    def _handle(self, events: Sequence[CoreEvent]) -> None:
        for event in events:
            self._handle_commands(self.core.handle(event))

    def _handle_commands(self, commands: Sequence[Command]) -> None:
        for command in commands:
            if isinstance(command, PlaceOrders):
                self.placed += command.orders


def _ack(item: list[object]) -> OrderAck:
    coid, ticker, order_id, status, fill, remaining = item
    return OrderAck(
        str(coid),
        str(ticker),
        None if order_id is None else str(order_id),
        str(status),
        Count(int(str(fill))),
        Count(int(str(remaining))),
    )
