"""The order path's kept-alive connection and its signatures prepared ahead.

An order is written in full, in one write, before ``try_send`` returns (the loop never gets to read
another frame first); the answer comes back as the general client's response type; a connection the
server closes is replaced; a prepared signature is used only while fresh by our clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import h11
import pytest

from kxbtc.clock import NS_PER_MS, ManualClock
from kxbtc.errors import NetworkError
from kxbtc.kalshi.auth import PRESIGN_MAX_AGE_MS, Signer, load_public_key, verify_signature
from kxbtc.kalshi.order_wire import OrderWire, format_request
from kxbtc.kalshi.rest_transport import RestTransport
from kxbtc.sim.harness import generate_key_pair

Answer = Callable[[bytes], bytes]


def fixed(body: bytes, *, close: bool = False) -> Answer:
    extra = b"Connection: close\r\n" if close else b""
    return lambda _request: (
        b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n%sContent-Length: %d\r\n\r\n%s"
        % (extra, len(body), body)
    )


class Server:
    """A loopback HTTP/1.1 server answering each request with ``answer(request bytes)``."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.requests: list[bytes] = []
        self.connections = 0
        self.server: asyncio.Server | None = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                )
                request = head + await reader.readexactly(length)
                self.requests.append(request)
                reply = self.answer(request)
                writer.write(reply)
                await writer.drain()
                if b"Connection: close" in reply:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    @property
    def url(self) -> str:
        assert self.server is not None
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/trade-api/v2"


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    srv = Server(fixed(b'{"ok":true}'))
    srv.server = await asyncio.start_server(srv._serve, "127.0.0.1", 0)
    yield srv
    srv.server.close()


async def ready(wire: OrderWire) -> None:
    wire.replenish()
    for _ in range(200):
        if wire.ready():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("no connection opened")


async def test_the_request_is_on_the_wire_before_try_send_returns(server: Server) -> None:
    wire = OrderWire(server.url, size=1)
    await ready(wire)
    future = wire.try_send("POST", "/trade-api/v2/portfolio/events/orders", b'{"a":1}', {"X-Test": "1"})
    assert future is not None and wire.sent == 1
    response = await wire.answer(future)
    assert response.status_code == 201 and response.json() == {"ok": True}
    [request] = server.requests
    assert request.startswith(b"POST /trade-api/v2/portfolio/events/orders HTTP/1.1\r\n")
    assert request.endswith(b'\r\n\r\n{"a":1}') and b"x-test: 1" in request.lower()
    # Kept alive: the next order goes out on the same connection.
    response = await wire.answer(wire.try_send("POST", "/p", b"{}", {}) or pytest.fail("not sent"))
    assert server.connections == 1 and len(server.requests) == 2
    await wire.aclose()


def test_the_request_bytes_are_the_ones_h11_writes() -> None:
    # The fast path formats the request itself (h11's checks cost ~35 us an order) and tells h11 after.
    headers = [
        (b"Host", b"127.0.0.1:8080"),
        (b"Content-Length", b"9"),
        (b"Content-Type", b"application/json"),
        (b"KALSHI-ACCESS-KEY", b"k-1"),
        (b"KALSHI-ACCESS-SIGNATURE", b"c2lnbmF0dXJl+/="),
    ]
    body = b'{"a": 12}'
    conn = h11.Connection(h11.CLIENT)
    expected = conn.send(h11.Request(method="POST", target="/trade-api/v2/portfolio/orders", headers=headers))
    expected = (expected or b"") + (conn.send(h11.Data(data=body)) or b"")
    assert format_request("POST", "/trade-api/v2/portfolio/orders", headers, body) == expected


def test_a_line_break_in_a_header_is_refused() -> None:
    with pytest.raises(ValueError, match="line break"):
        format_request("POST", "/p", [(b"X-Evil", b"1\r\nX-Injected: 2")], b"")
    with pytest.raises(ValueError, match="line break"):
        format_request("POST", "/p\nGET /", [], b"")


async def test_a_busy_or_missing_connection_means_the_usual_path(server: Server) -> None:
    wire = OrderWire(server.url, size=1)
    assert wire.try_send("POST", "/p", b"{}", {}) is None  # none open yet
    await ready(wire)
    first = wire.try_send("POST", "/p", b"{}", {})
    assert first is not None
    assert wire.try_send("POST", "/p", b"{}", {}) is None  # one in flight per connection
    await wire.answer(first)
    await wire.aclose()


async def test_connection_close_and_chunked_answers(server: Server) -> None:
    server.answer = lambda _r: (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        b'5\r\n{"a":\r\n2\r\n1}\r\n0\r\n\r\n'
    )
    wire = OrderWire(server.url, size=1)
    await ready(wire)
    response = await wire.answer(wire.try_send("POST", "/p", b"{}", {}) or pytest.fail("not sent"))
    assert response.json() == {"a": 1}
    await ready(wire)  # the closed connection was replaced
    assert wire.opened == 2
    await wire.aclose()


async def test_a_connection_lost_before_the_answer_is_a_network_error(server: Server) -> None:
    server.answer = lambda _r: b"HTTP/1.1 201 Created\r\nContent-Length: 50\r\nConnection: close\r\n\r\n{"
    wire = OrderWire(server.url, size=1)
    await ready(wire)
    with pytest.raises(NetworkError):
        await wire.answer(wire.try_send("POST", "/p", b"{}", {}) or pytest.fail("not sent"))
    await wire.aclose()


class SteppedClock(ManualClock):
    """A wall clock that can be stepped backwards (an NTP correction)."""

    def step_ns(self, delta_ns: int) -> None:
        self._now_ns += delta_ns


def test_a_prepared_signature_is_used_only_while_fresh() -> None:
    key = generate_key_pair("ed25519")
    clock = SteppedClock(1_781_159_000_000 * NS_PER_MS)
    signer = Signer(key.key_id, key.private_key_pem, clock)
    path = "/trade-api/v2/portfolio/events/orders"
    assert signer.presigned_headers("POST", path) is None
    signer.presign("POST", path)
    headers = signer.presigned_headers("POST", path)
    assert headers is not None
    assert verify_signature(
        load_public_key(key.public_key_pem),
        headers["KALSHI-ACCESS-TIMESTAMP"],
        "POST",
        path,
        headers["KALSHI-ACCESS-SIGNATURE"],
    )
    clock.advance((PRESIGN_MAX_AGE_MS + 1) / 1000)
    assert signer.presigned_headers("POST", path) is None  # too old: signed afresh by the caller
    signer.presign("POST", path)
    assert signer.presigned_headers("POST", path) is not None
    clock.step_ns(-10 * NS_PER_MS)  # our clock stepped back below the timestamp
    assert signer.presigned_headers("POST", path) is None


async def test_the_transport_writes_an_order_at_once_only_with_a_prepared_signature(server: Server) -> None:
    key = generate_key_pair("ed25519")
    clock = ManualClock(1_781_159_000_000 * NS_PER_MS)
    transport = RestTransport(server.url, Signer(key.key_id, key.private_key_pem, clock), clock)
    assert transport.start_write("/portfolio/events/orders", b"{}") is None  # nothing prepared yet
    transport.presign_orders("/portfolio/events/orders")
    assert transport._order_wire is not None
    await ready(transport._order_wire)
    started = transport.start_write("/portfolio/events/orders", b'{"x":1}')
    assert started is not None and len(server.requests) == 0  # written; the server has not read it yet
    body = await transport._request("POST", "/portfolio/events/orders", body=b'{"x":1}', started=started)
    assert body == b'{"ok":true}'
    [request] = server.requests
    assert b"kalshi-access-signature" in request.lower()
    await transport.aclose()
