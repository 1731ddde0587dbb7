"""Typed errors of the Kalshi WebSocket client."""

from __future__ import annotations

from kxbtc.errors import ExchangeError, ProtocolError
from kxbtc.kalshi.ws_messages import TERMINAL_ERROR_CODES, ErrorBody


class WsCommandError(ExchangeError):
    """The server answered a command (or a subscription) with an ``error`` frame.

    ``code`` is the exchange's numeric code as a string (``ws_code`` as an int); ``terminal`` codes
    (10, 17, 25) mean the subscription is dead.
    """

    def __init__(self, body: ErrorBody, *, cmd: str = "", sid: int | None = None) -> None:
        where = f"sid {sid}" if sid is not None else ""
        super().__init__(body.msg, code=str(body.code), details=where, method="WS", path=cmd)
        self.ws_code = body.code
        self.sid = sid
        self.market_ticker = body.market_ticker
        self.terminal = body.code in TERMINAL_ERROR_CODES


class SeqGapError(ProtocolError):
    """A frame arrived on a sid with a ``seq`` other than the expected one: messages were lost."""

    def __init__(self, sid: int, channel: str, expected: int, got: int) -> None:
        super().__init__(f"seq gap on sid {sid} ({channel}): expected {expected}, got {got}")
        self.sid = sid
        self.channel = channel
        self.expected = expected
        self.got = got


class UnknownMessageTypeError(ProtocolError):
    """A frame with a ``type`` this client does not handle (skipped)."""

    def __init__(self, kind: str) -> None:
        super().__init__(f"unknown message type {kind!r}")
        self.kind = kind
