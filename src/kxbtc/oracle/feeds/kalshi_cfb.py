"""Kalshi's ``cfbenchmarks_value`` channel: the real BRTI, the series Kalshi settles on.

It arrives through the Kalshi WebSocket client (authenticated, shared connection), so this module
only turns one decoded message into an ``IndexObservation``; ``CfbHandler`` is the callback to
register with that client. Shape (AsyncAPI 2026-08-22, ``cfbenchmarksValuePayload``)::

    {"type": "cfbenchmarks_value", "sid": 1, "seq": 42, "msg": {
        "index_id": "BRTI", "received_at": <ms>,
        "data": "{\"type\":\"value\",\"id\":\"BRTI\",\"time\":<ms>,\"value\":\"68000.12\"}",
        "avg_60s_data": {"value": "8 dp", "window_size": n, "window_start_ts_ms": ..,
                         "window_end_ts_exclusive": ..},
        "last_60s_windowed_average_15min": {...same, only in the final minute before :00/:15/:30/:45}}}

``data`` is the raw upstream frame as a JSON string, so it is decoded twice. The index value is kept
exactly, as integer cents (the BRTI is published to $0.01), because settlement ties go to YES.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

import msgspec

from kxbtc.errors import ProtocolError

CHANNEL = "cfbenchmarks_value"


def subscribe_command(command_id: int, index_ids: tuple[str, ...] = ("BRTI",)) -> dict[str, Any]:
    """The subscribe command; without ``index_ids`` Kalshi creates a subscription on which nothing flows."""
    return {
        "id": command_id,
        "cmd": "subscribe",
        "params": {"channels": [CHANNEL], "index_ids": list(index_ids)},
    }


class _AvgData(msgspec.Struct, frozen=True):
    value: str
    window_size: int
    window_start_ts_ms: int
    window_end_ts_exclusive: int


class _Body(msgspec.Struct, frozen=True):
    index_id: str
    received_at: int
    data: str
    avg_60s_data: _AvgData
    last_60s_windowed_average_15min: _AvgData | None = None


class _Frame(msgspec.Struct, frozen=True):
    type: str
    msg: _Body
    sid: int = 0
    seq: int = 0


class _Upstream(msgspec.Struct, frozen=True):
    id: str
    time: int
    value: str
    type: str = "value"


_frame_decoder = msgspec.json.Decoder(_Frame)
_upstream_decoder = msgspec.json.Decoder(_Upstream)


@dataclass(frozen=True, slots=True)
class WindowAverage:
    """One of Kalshi's running averages. ``value * window_size`` is the sum of the ticks counted."""

    value: float
    window_size: int
    window_start_ts_ms: int
    window_end_ts_exclusive_ms: int

    @property
    def total(self) -> float:
        return self.value * self.window_size


@dataclass(frozen=True, slots=True)
class IndexObservation:
    index_id: str
    time_ms: int  # CF Benchmarks' calculation time of the value
    cents: int  # the published value in integer cents
    received_at_ms: int  # when Kalshi received it upstream
    avg_60s: WindowAverage
    #: Running settlement average, only in the final minute before a quarter-hour close.
    final_minute: WindowAverage | None
    seq: int = 0

    @property
    def value(self) -> float:
        return self.cents / 100.0

    @property
    def second(self) -> int:
        """The whole second this is the index print for: a tick at 16:00:00.123 is the 16:00:00 print."""
        return self.time_ms // 1000


def value_to_cents(text: str) -> int:
    try:
        return int((Decimal(text) * 100).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))
    except InvalidOperation:
        raise ProtocolError(f"cfbenchmarks_value: bad value {text!r}") from None


def _window(avg: _AvgData) -> WindowAverage:
    try:
        value = float(avg.value)
    except ValueError:
        raise ProtocolError(f"cfbenchmarks_value: bad average {avg.value!r}") from None
    return WindowAverage(value, avg.window_size, avg.window_start_ts_ms, avg.window_end_ts_exclusive)


#: What the handler accepts: the raw frame, a decoded dict, or the WS client's typed message struct
#: (``kxbtc.kalshi.ws_messages.CfbenchmarksValue``, taken structurally so the two modules stay apart).
CfbMessage = bytes | str | Mapping[str, Any] | msgspec.Struct


def parse_cfbenchmarks_value(message: CfbMessage) -> IndexObservation:
    """A ``cfbenchmarks_value`` frame -> observation. Raises ``ProtocolError`` for a wrong type or
    missing fields."""
    try:
        if isinstance(message, (bytes, str)):
            frame = _frame_decoder.decode(message)
        else:
            as_dict = msgspec.to_builtins(message) if isinstance(message, msgspec.Struct) else message
            frame = msgspec.convert(as_dict, _Frame)
        if frame.type != CHANNEL:
            raise ProtocolError(f"not a {CHANNEL} frame: {frame.type!r}")
        upstream = _upstream_decoder.decode(frame.msg.data)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise ProtocolError(f"{CHANNEL}: {exc}") from None
    body = frame.msg
    return IndexObservation(
        index_id=body.index_id,
        time_ms=upstream.time,
        cents=value_to_cents(upstream.value),
        received_at_ms=body.received_at,
        avg_60s=_window(body.avg_60s_data),
        final_minute=None
        if body.last_60s_windowed_average_15min is None
        else _window(body.last_60s_windowed_average_15min),
        seq=frame.seq,
    )


class CfbHandler:
    """Callback for the Kalshi WS client: parses each frame and hands ``index_id`` observations on.

    Ticks that repeat or go back in time are dropped (Kalshi says it ignores them upstream too) and
    counted, so a replayed or reordered frame cannot enter a settlement average twice.
    """

    def __init__(self, on_observation: Callable[[IndexObservation], None], index_id: str = "BRTI") -> None:
        self.on_observation = on_observation
        self.index_id = index_id
        self.last: IndexObservation | None = None
        self.received = 0
        self.dropped_out_of_order = 0

    def __call__(self, message: CfbMessage) -> IndexObservation | None:
        obs = parse_cfbenchmarks_value(message)
        if obs.index_id != self.index_id:
            return None
        self.received += 1
        if self.last is not None and obs.time_ms <= self.last.time_ms:
            self.dropped_out_of_order += 1
            return None
        self.last = obs
        self.on_observation(obs)
        return obs
