"""Refuse unmasked client frames, as RFC 6455 §5.1 requires of a server.

aiohttp's frame reader unmasks a masked frame but accepts an unmasked one too. ``MaskCheckingResponse``
puts a small frame-header tracker in front of it: it follows each frame's header and skips its payload,
and on the first header without the mask bit it fails the connection with close code 1002 (protocol
error) before the frame reaches the application.
"""

from __future__ import annotations

from typing import Any, Protocol

from aiohttp import WSCloseCode, web
from aiohttp.http_websocket import WebSocketError


class _FrameParser(Protocol):
    def feed_data(self, data: bytes) -> tuple[bool, bytes]: ...

    def feed_eof(self) -> None: ...


class MaskGuard:
    """Wraps aiohttp's frame parser; passes data through while every frame header has the mask bit."""

    def __init__(self, inner: _FrameParser, on_error: Any) -> None:
        self._inner = inner
        self._on_error = on_error
        self._header = bytearray()
        self._skip = 0  # payload bytes of the current frame still to pass
        self.failed = False

    def feed_eof(self) -> None:
        self._inner.feed_eof()

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        if self.failed:
            return True, b""
        if not self._all_masked(bytes(data)):
            self.failed = True
            self._on_error(WebSocketError(WSCloseCode.PROTOCOL_ERROR, "unmasked frame from client"))
            return True, b""
        return self._inner.feed_data(data)

    def _all_masked(self, data: bytes) -> bool:
        """Walk the frame headers in ``data`` (continuing across calls); False at an unmasked one."""
        i = 0
        while i < len(data):
            if self._skip:
                step = min(self._skip, len(data) - i)
                self._skip -= step
                i += step
                continue
            self._header.append(data[i])
            i += 1
            if len(self._header) < 2:
                continue
            if not self._header[1] & 0x80:
                return False
            short = self._header[1] & 0x7F
            extended = 2 if short == 126 else 8 if short == 127 else 0
            if len(self._header) < 2 + extended + 4:
                continue
            length = int.from_bytes(self._header[2 : 2 + extended]) if extended else short
            self._header.clear()
            self._skip = length
        return True


class MaskCheckingResponse(web.WebSocketResponse):
    """A ``WebSocketResponse`` whose connection fails on the first unmasked client frame."""

    def _post_start(self, request: web.BaseRequest, protocol: str | None, writer: Any) -> None:
        super()._post_start(request, protocol, writer)
        reader = self._reader
        assert reader is not None and request.protocol is not None
        inner = request.protocol._payload_parser
        assert inner is not None
        request.protocol._payload_parser = MaskGuard(inner, reader.set_exception)
