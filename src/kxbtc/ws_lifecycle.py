"""Start, close and ``async with`` for a streaming client whose ``run()`` reconnects until closed.

The Kalshi and Polymarket WebSocket clients share this: ``start`` runs ``run()`` as one background task,
``close`` sets ``_closing`` (which ``run()`` checks), closes the live socket so a blocked read returns,
and waits for the task to end.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Self

from websockets.asyncio.client import ClientConnection


class SocketLifecycle:
    #: The background task's name (shows in asyncio debugging and task dumps).
    task_name = "ws"
    # Set by the client's constructor.
    _ws: ClientConnection | None
    _closing: bool
    _run_task: asyncio.Task[None] | None

    async def run(self) -> None:
        raise NotImplementedError

    def start(self) -> asyncio.Task[None]:
        if self._run_task is None or self._run_task.done():
            self._closing = False
            self._run_task = asyncio.create_task(self.run(), name=self.task_name)
        return self._run_task

    async def close(self) -> None:
        self._closing = True
        ws = self._ws
        if ws is not None:
            with contextlib.suppress(Exception):
                await ws.close()
        if self._run_task is not None:
            self._run_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._run_task
            self._run_task = None

    async def __aenter__(self) -> Self:
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
