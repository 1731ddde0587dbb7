"""The WebSocket read loop hands the frames the connection received together to the handler as one
batch: ``batch_started``, each frame, ``batch_ended``, and only then does it wait for the next frame. So
the engine evaluates each changed market once per batch, and writes its order before reading on."""

from __future__ import annotations

import asyncio
import random
from collections import deque
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from websockets.exceptions import ConnectionClosedOK

from kxbtc.clock import ManualClock
from kxbtc.kalshi.ws_connection import WsConnection, message_buffered
from kxbtc.kalshi.ws_core import WsContext, WsSettings
from kxbtc.kalshi.ws_handlers import WsHandler


@dataclass
class _Frame:
    data: str
    fin: bool = True


class _Socket:
    """Stands in for a websockets connection: ``bursts`` arrive one at a time, each whole in the
    library's frame queue (as the frames of one read are)."""

    def __init__(self, bursts: list[list[str]], log: list[str]) -> None:
        self.bursts = deque(bursts)
        self.queue: deque[_Frame] = deque()
        self.recv_messages = SimpleNamespace(frames=SimpleNamespace(queue=self.queue))
        self.log = log

    async def recv(self) -> str:
        if not self.queue:
            if not self.bursts:
                raise ConnectionClosedOK(None, None)
            self.log.append("wait")  # the loop goes back to the network
            await asyncio.sleep(0)
            self.queue.extend(_Frame(f) for f in self.bursts.popleft())
        return self.queue.popleft().data


class _Hooks:
    def __init__(self, log: list[str]) -> None:
        self.log = log

    def connection_opened(self, ws: Any) -> None: ...

    def frame_received(self, frame: str | bytes) -> None:
        self.log.append(str(frame))

    def connection_lost(self, closing: bool) -> None: ...

    def watchdog_tick(self, now: float) -> None: ...

    def batch_started(self) -> None:
        self.log.append("[")

    def batch_ended(self) -> None:
        self.log.append("]")


def _read(bursts: list[list[str]]) -> list[str]:
    log: list[str] = []
    ctx = WsContext(ManualClock(0), WsHandler(), WsSettings(), random.Random(0), False)
    conn = WsConnection(ctx, "ws://127.0.0.1:1", "/ws", None, _Hooks(log))  # type: ignore[arg-type]
    asyncio.run(conn._read_loop(_Socket(bursts, log)))  # type: ignore[arg-type]
    return log


def test_frames_received_together_are_one_batch_closed_before_the_next_wait() -> None:
    log = _read([["a1", "a2", "b1"], ["c1"], ["a3", "a4"]])
    assert log == ["wait", "[", "a1", "a2", "b1", "]", "wait", "[", "c1", "]", "wait", "[", "a3", "a4", "]"]


def test_a_message_still_arriving_is_not_waited_for_inside_a_batch() -> None:
    ws = SimpleNamespace(
        recv_messages=SimpleNamespace(frames=SimpleNamespace(queue=deque([_Frame("x", fin=False)])))
    )
    assert not message_buffered(ws)  # type: ignore[arg-type]
    ws.recv_messages.frames.queue.append(_Frame("y"))
    assert message_buffered(ws)  # type: ignore[arg-type]
    assert not message_buffered(SimpleNamespace())  # type: ignore[arg-type]  # another library layout
