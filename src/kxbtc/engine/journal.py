"""An engine journal: everything the live engine's trading core was given, in order, as a recording.

A kxbtc recording (``kxbtc.backtest.recording``) with the engine's own inputs: every WebSocket frame as
received (``ws``), every market the engine listed (``market``, when it listed it), every timer run
(``timer``), the exchange's answer to every order (``ack``) and the bounds of each batch of frames the
engine evaluated at once (``batch``). Replayed with recorded execution
(``kxbtc.replay.journal_replay``) it drives a fresh core through the same inputs at the same instants:
the same decisions must come out (the parity test, tests/integration/test_parity.py). It is also the
record a trader can replay to ask "why did it do that?".
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from kxbtc.backtest.recorder import RecordingWriter
from kxbtc.backtest.recording import Header, spec_to_json
from kxbtc.clock import Clock
from kxbtc.domain.orders import OrderAck
from kxbtc.kalshi.discovery import ContractSpec


class EngineJournal:
    def __init__(self, path: Path, clock: Clock) -> None:
        self.clock = clock
        self.writer = RecordingWriter(path)

    def start(self, series: Sequence[str], run_id: str, *, use_yes_price: bool) -> None:
        self.writer.start(Header(self.clock.time_ns(), tuple(series), "", "", use_yes_price, run_id))

    def frame(self, frame: str | bytes) -> None:
        self.writer.put_frame(self.clock.time_ns(), frame)

    def market(self, spec: ContractSpec) -> None:
        self.writer.put(spec_to_json(spec, self.clock.time_ns()))

    def batch(self, *, end: bool) -> None:
        """The frames between a begin and an end were received together and evaluated once, at the end."""
        self.writer.put({"t": self.clock.time_ns(), "k": "batch", "end": end})

    def timer(self) -> None:
        self.writer.put({"t": self.clock.time_ns(), "k": "timer"})

    def acks(self, acks: Sequence[OrderAck]) -> None:
        self.writer.put(
            {
                "t": self.clock.time_ns(),
                "k": "ack",
                "acks": [
                    [a.client_order_id, a.ticker, a.order_id, a.status, a.fill_count, a.remaining_count]
                    for a in acks
                ],
            }
        )

    def booked(self) -> None:
        self.writer.put({"t": self.clock.time_ns(), "k": "booked"})

    def stopping(self) -> None:
        """The engine stopped trading (shutdown began): frames journaled after this decide nothing."""
        self.writer.put({"t": self.clock.time_ns(), "k": "end"})

    def close(self) -> None:
        self.writer.close()
