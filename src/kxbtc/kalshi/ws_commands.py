"""Commands and their replies: every command gets a fresh id, and the reply with that id (``ok``,
``subscribed``, ``unsubscribed``, an index list, or an ``error``) settles the caller's future. A lost
connection fails every command still waiting, so no caller waits for a reply that cannot come."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from kxbtc.errors import NetworkError
from kxbtc.kalshi.ws_core import WsContext
from kxbtc.kalshi.ws_errors import WsCommandError
from kxbtc.kalshi.ws_messages import ErrorMessage
from kxbtc.kalshi.ws_state import PendingCommand, Subscription


class WsCommands:
    """Command ids, the commands waiting for a reply, and matching replies to them."""

    def __init__(self, ctx: WsContext) -> None:
        self.ctx = ctx
        self._pending: dict[int, PendingCommand] = {}
        self._next_id = 1

    def new_id(self) -> int:
        cmd_id = self._next_id
        self._next_id += 1
        return cmd_id

    def expect(self, cmd_id: int, pending: PendingCommand) -> None:
        """Wait for the reply to ``cmd_id`` (sent by the caller itself)."""
        self._pending[cmd_id] = pending

    def waiting(self, cmd_id: int) -> PendingCommand | None:
        return self._pending.get(cmd_id)

    def done(self, cmd_id: int) -> None:
        """Stop waiting for ``cmd_id`` (answered, given up, or never sent)."""
        self._pending.pop(cmd_id, None)

    async def send(
        self,
        ws: ClientConnection,
        cmd: str,
        encoder: Callable[..., bytes],
        *args: Any,
        sub: Subscription | None = None,
        **kwargs: Any,
    ) -> Any:
        """Send one command and return its reply (WsCommandError for an ``error`` reply)."""
        cmd_id = self.new_id()
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[cmd_id] = PendingCommand(cmd, future, sub=sub)
        try:
            await ws.send(encoder(cmd_id, *args, **kwargs).decode())
        except ConnectionClosed as exc:
            self._pending.pop(cmd_id, None)
            raise NetworkError(f"{cmd}: connection closed", code="ws_disconnected") from exc
        return await future

    def resolve(self, cmd_id: int, msg: Any) -> None:
        """A reply to ``cmd_id`` arrived: the waiting caller gets it."""
        pending = self._pending.pop(cmd_id, None) if cmd_id else None
        if pending is not None and not pending.future.done():
            pending.future.set_result(msg)

    def refused(self, msg: ErrorMessage) -> tuple[WsCommandError, bool]:
        """An ``error`` frame: the error, recorded, and whether a waiting command took it."""
        pending = self._pending.pop(msg.id, None) if msg.id else None
        error = WsCommandError(msg.msg, cmd=pending.cmd if pending else "", sid=msg.sid)
        self.ctx.record(error)
        if pending is None:
            return error, False
        if not pending.future.done():
            pending.future.set_exception(error)
            pending.future.exception()  # retrieved here; the awaiting caller still gets it
        return error, True

    def fail_all(self, error: NetworkError) -> None:
        """The connection is gone: every command still waiting fails with ``error``."""
        for pending in self._pending.values():
            if not pending.future.done():
                pending.future.set_exception(error)
                pending.future.exception()  # retrieved: a caller may have given up already
        self._pending.clear()
