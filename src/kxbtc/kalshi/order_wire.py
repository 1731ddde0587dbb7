"""Kept-alive HTTP/1.1 connections for order creates: the request written in one send, synchronously.

The general client (httpx2) awaits its connection pool, its lock and the transport's send, and each await
lets the loop read and evaluate further frames while the order waits (the 2026 latency profile: about
1.9 ms of client path against 0.4 ms for one pre-formatted write, and several frames evaluated between
the decision and the send). Here ``try_send`` writes the whole request (head and body) with a single
``transport.write`` before it returns, from the very handler that decided the order; only the answer is
awaited. It needs an idle connection: with none (all busy, or all being re-opened), it returns None and
the caller sends through the general client as before.

Responses are parsed with h11 (status, headers, fixed-length or chunked bodies, keep-alive), and handed
back as ``httpx2.Response`` so the caller's error mapping and retry policy are the same for both paths.
A connection that the server closes, that answers with ``Connection: close`` or that breaks mid-answer is
dropped; ``replenish`` opens new ones in the background.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Mapping
from typing import NamedTuple
from urllib.parse import urlsplit

import h11
import httpx2

from kxbtc import latency
from kxbtc.errors import NetworkError

log = logging.getLogger(__name__)

#: Connections kept open: one order in flight per connection (HTTP/1.1 has no multiplexing).
DEFAULT_CONNECTIONS = 16


Headers = list[tuple[bytes, bytes]]


class Unsent(NamedTuple):
    """A request written to the socket that h11 has not been told about yet."""

    method: str
    target: str
    headers: Headers
    body: bytes


def format_request(method: str, target: str, headers: Headers, body: bytes) -> bytes:
    """The request as HTTP/1.1 bytes, as h11 writes them for a fixed-length body (the tests compare).
    A CR or LF inside any part would split the request: refused."""
    head = b"".join(
        [f"{method} {target} HTTP/1.1\r\n".encode(), *(b"%s: %s\r\n" % field for field in headers), b"\r\n"]
    )
    lines = len(headers) + 2
    if head.count(b"\n") != lines or head.count(b"\r") != lines:
        raise ValueError("a request line or header holds a line break")
    return head + body


class _Connection(asyncio.Protocol):
    """One kept-alive connection; at most one request in flight."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.h11 = h11.Connection(h11.CLIENT)
        self.waiter: asyncio.Future[httpx2.Response] | None = None
        self.closed = False
        self._status = 0
        self._headers: list[tuple[bytes, bytes]] = []
        self._body = bytearray()
        #: The request written but not yet passed through h11 (``send``).
        self._unsent: Unsent | None = None

    @property
    def idle(self) -> bool:
        return (
            self.transport is not None
            and not self.closed
            and self.waiter is None
            and self.h11.our_state is h11.IDLE
            and self.h11.their_state is h11.IDLE
        )

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def send(self, request: Unsent) -> asyncio.Future[httpx2.Response]:
        """Write ``request`` now (``format_request``), in one ``transport.write``; the future answers it.
        h11 is told about the request only when the answer arrives (``_catch_up``): its event checks cost
        about 35 us per order, which the next order of the same batch would otherwise wait for."""
        assert self.transport is not None
        data = format_request(*request)
        self.waiter = asyncio.get_running_loop().create_future()
        self._status, self._headers, self._body = 0, [], bytearray()
        self._unsent = request
        self.transport.write(data)
        return self.waiter

    def _catch_up(self) -> None:
        """Pass the written request through h11's state machine (its own bytes, equal to what was written,
        are dropped), so h11 can read the answer."""
        if self._unsent is not None:
            sent, self._unsent = self._unsent, None
            self.h11.send(h11.Request(method=sent.method, target=sent.target, headers=sent.headers))
            self.h11.send(h11.Data(data=sent.body))
            self.h11.send(h11.EndOfMessage())

    def data_received(self, data: bytes) -> None:
        try:
            self._catch_up()
            self.h11.receive_data(data)
            self._pump()
        except h11.ProtocolError as exc:
            self._fail(NetworkError(f"malformed HTTP answer: {exc}", code="order_wire_protocol"))

    def _pump(self) -> None:
        while True:
            event = self.h11.next_event()
            if event is h11.NEED_DATA or event is h11.PAUSED:
                return
            if isinstance(event, h11.Response):
                self._status, self._headers = event.status_code, list(event.headers)
            elif isinstance(event, h11.Data):
                self._body += event.data
            elif isinstance(event, h11.EndOfMessage):
                self._answer()
                return
            elif isinstance(event, h11.ConnectionClosed):
                self._fail(NetworkError("connection closed before the answer", code="order_wire_closed"))
                return

    def _answer(self) -> None:
        waiter, self.waiter = self.waiter, None
        response = httpx2.Response(self._status, headers=self._headers, content=bytes(self._body))
        if self.h11.our_state is h11.DONE and self.h11.their_state is h11.DONE:
            self.h11.start_next_cycle()
        else:  # the server will close it (Connection: close): not reusable
            self.close()
        if waiter is not None and not waiter.done():
            waiter.set_result(response)

    def _fail(self, error: NetworkError) -> None:
        waiter, self.waiter = self.waiter, None
        self.close()
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(NetworkError(f"connection lost: {exc!r}", code="order_wire_lost"))

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class OrderWire:
    """Up to ``size`` kept-alive connections to the REST host, for writes that must leave at once."""

    def __init__(self, base_url: str, *, size: int = DEFAULT_CONNECTIONS, timeout_s: float = 10.0) -> None:
        parts = urlsplit(base_url)
        self.host = parts.hostname or ""
        self.tls = parts.scheme == "https"
        self.port = parts.port or (443 if self.tls else 80)
        self._host_header = parts.netloc.encode()
        self.size = size
        self.timeout_s = timeout_s
        self._connections: list[_Connection] = []
        self._opening = 0
        self._closed = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._ssl: ssl.SSLContext | None = ssl.create_default_context() if self.tls else None
        #: Requests written on this path, and connections opened (for tests and the bench).
        self.sent = 0
        self.opened = 0

    def _idle(self) -> _Connection | None:
        # A plain loop, pruning closed connections only when one is seen (this runs twice per order).
        for conn in self._connections:
            if conn.idle:
                return conn
            if conn.closed:
                self._connections = [c for c in self._connections if not c.closed]
                return self._idle()
        return None

    def ready(self) -> bool:
        """An idle connection is there: ``try_send`` would write now."""
        return self._idle() is not None

    def try_send(
        self, method: str, target: str, body: bytes, headers: Mapping[str, str]
    ) -> asyncio.Future[httpx2.Response] | None:
        """Write the request on an idle connection before returning, or None when there is none."""
        conn = self._idle()
        if conn is None:
            self.replenish()
            return None
        fields = [
            (b"Host", self._host_header),
            (b"Content-Length", str(len(body)).encode()),
            *((k.encode(), v.encode()) for k, v in headers.items()),
        ]
        # Formatted without h11's checks (our own method, path and headers); h11 sees it after the write.
        future = conn.send(Unsent(method, target, fields, body))
        latency.order_written()
        self.sent += 1
        return future

    async def answer(self, future: asyncio.Future[httpx2.Response]) -> httpx2.Response:
        """The answer to a ``try_send``; a connection that does not answer in time is dropped."""
        try:
            return await asyncio.wait_for(asyncio.shield(future), self.timeout_s)
        except TimeoutError:
            for conn in self._connections:
                if conn.waiter is future:
                    conn.close()
            raise NetworkError("no answer on the order connection", code="order_wire_timeout") from None
        finally:
            self.replenish()

    def replenish(self) -> None:
        """Open connections in the background until ``size`` are open or opening."""
        if self._closed:
            return
        alive = sum(not c.closed for c in self._connections)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        for _ in range(self.size - alive - self._opening):
            self._opening += 1
            task = loop.create_task(self._open())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _open(self) -> None:
        try:
            loop = asyncio.get_running_loop()
            _, conn = await asyncio.wait_for(
                loop.create_connection(
                    _Connection,
                    self.host,
                    self.port,
                    ssl=self._ssl,
                    server_hostname=self.host if self.tls else None,
                ),
                self.timeout_s,
            )
        except (OSError, TimeoutError) as exc:  # the general client still works; try again on next use
            log.info("order connection to %s:%d failed: %r", self.host, self.port, exc)
        else:
            if self._closed:
                conn.close()
            else:
                self._connections.append(conn)
                self.opened += 1
        finally:
            self._opening -= 1

    async def aclose(self) -> None:
        self._closed = True
        for task in list(self._tasks):
            task.cancel()
        for conn in self._connections:
            conn.close()
        self._connections.clear()
