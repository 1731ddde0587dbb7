"""Clock offset measurement against real NTP and HTTP servers on 127.0.0.1, and the skew guard."""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import struct
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from email.utils import formatdate
from typing import cast

import httpx2
import pytest

from kxbtc.clock import NS_PER_MS, NS_PER_S, ManualClock, SystemClock, now_ms
from kxbtc.errors import ClockSkewError
from kxbtc.kalshi.auth import TIMESTAMP_HEADER, Signer
from kxbtc.keys import generate_keypair
from kxbtc.timesync import (
    ClockSync,
    OffsetMeasurement,
    SkewGuard,
    TimeSyncError,
    measure_http_date,
    measure_ntp,
    offset_from_date_header,
    parse_http_date_ns,
)

NTP_EPOCH_DELTA_S = 2_208_988_800  # 1900-01-01 to 1970-01-01
NTP_PACKET = struct.Struct("!B B B b 11I")
FAST_TIMEOUT_S = 0.3


def _ntp_ts(unix_s: float) -> tuple[int, int]:
    t = unix_s + NTP_EPOCH_DELTA_S
    return int(t), int((t - int(t)) * 2**32) & 0xFFFFFFFF


class ShiftedNtpServer(asyncio.DatagramProtocol):
    """Answers NTP client packets (mode 3) as a stratum-1 server (mode 4) off by ``shift_s`` seconds."""

    def __init__(self, shift_s: float) -> None:
        self.shift_s = shift_s
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        if len(data) < NTP_PACKET.size or self.transport is None:
            return
        fields = NTP_PACKET.unpack(data[: NTP_PACKET.size])
        version, mode = (fields[0] >> 3) & 0x7, fields[0] & 0x7
        if mode != 3 or version not in (3, 4):
            return
        client_tx = fields[13:15]  # echoed as the originate timestamp
        now = time.time() + self.shift_s
        reply = NTP_PACKET.pack(
            (0 << 6) | (version << 3) | 4, 1, fields[2], -20, 0, 0, int.from_bytes(b"LOCL", "big"),
            *_ntp_ts(now - 1), *client_tx, *_ntp_ts(now), *_ntp_ts(time.time() + self.shift_s),
        )  # fmt: skip
        self.transport.sendto(reply, addr)


@asynccontextmanager
async def ntp_server(shift_s: float) -> AsyncIterator[int]:
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: ShiftedNtpServer(shift_s), local_addr=("127.0.0.1", 0)
    )
    try:
        yield transport.get_extra_info("sockname")[1]
    finally:
        transport.close()


@pytest.fixture
def silent_udp_port() -> AsyncIterator[int] | object:
    """A bound UDP port that never answers: an NTP server that times out."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    yield sock.getsockname()[1]
    sock.close()


@asynccontextmanager
async def http_date_server(shift_s: float) -> AsyncIterator[str]:
    """A minimal HTTP/1.1 server whose Date header is ``shift_s`` off the machine's clock."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        date = formatdate(time.time() + shift_s, usegmt=True)
        body = b'{"exchange_active":true,"trading_active":true}'
        writer.write(
            b"HTTP/1.1 200 OK\r\nDate: " + date.encode() + b"\r\nContent-Type: application/json\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/trade-api/v2/exchange/status"
    finally:
        server.close()
        await server.wait_closed()


def date_fetcher(client: httpx2.AsyncClient, url: str) -> Callable[[], Awaitable[str]]:
    async def fetch() -> str:
        return (await client.get(url)).headers["date"]

    return fetch


# --- NTP ----------------------------------------------------------------------------------------------------


async def test_ntp_offset_matches_the_servers_shift() -> None:
    async with ntp_server(3.25) as port:
        m = await measure_ntp(["127.0.0.1"], port=port, timeout_s=2.0)
    assert m.source == "ntp"
    assert abs(m.offset_ns - 3_250_000_000) < 50 * NS_PER_MS
    assert m.uncertainty_ns < 50 * NS_PER_MS
    assert "1/1 servers answered" in m.detail


@pytest.mark.parametrize("version", [3, 4])
async def test_ntp_median_of_the_servers_that_answered(version: int, silent_udp_port: int) -> None:
    # ntplib talks to one port per call, so each "server" is a distinct loopback address.
    async with ntp_server(-2.0) as port:
        loop = asyncio.get_running_loop()
        transports = []
        for host, shift in (("127.0.0.2", -1.0), ("127.0.0.3", 10.0)):
            t, _ = await loop.create_datagram_endpoint(
                lambda s=shift: ShiftedNtpServer(s), local_addr=(host, port)
            )
            transports.append(t)
        try:
            m = await measure_ntp(
                ["127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"], port=port, timeout_s=FAST_TIMEOUT_S,
                version=version,
            )  # fmt: skip
        finally:
            for t in transports:
                t.close()
    assert abs(m.offset_ns - (-1_000_000_000)) < 50 * NS_PER_MS  # median of -2, -1, +10; .4 never answers
    assert "3/4 servers answered" in m.detail
    assert m.uncertainty_ns >= 6 * NS_PER_S  # the servers disagree by 12 s


async def test_ntp_offset_is_expressed_against_the_clock_being_corrected() -> None:
    local = ManualClock()  # far behind the machine's clock
    async with ntp_server(0.5) as port:
        m = await measure_ntp(["127.0.0.1"], local=local, port=port)
    expected_ns = time.time_ns() - local.time_ns() + 500_000_000
    assert abs(m.offset_ns - expected_ns) < 100 * NS_PER_MS


async def test_no_ntp_answer_is_a_typed_error_naming_each_server(silent_udp_port: int) -> None:
    with pytest.raises(TimeSyncError) as info:
        await measure_ntp(["127.0.0.1"], port=silent_udp_port, timeout_s=FAST_TIMEOUT_S)
    assert f"127.0.0.1:{silent_udp_port}" in str(info.value)
    assert len(info.value.reasons) == 1


# --- HTTP Date fallback -------------------------------------------------------------------------------------


def test_parse_http_date() -> None:
    assert parse_http_date_ns("Wed, 25 Nov 2026 15:00:00 GMT") == 1_795_618_800 * NS_PER_S
    with pytest.raises(TimeSyncError, match="unparseable"):
        parse_http_date_ns("yesterday")


def test_date_offset_is_centred_in_the_header_second() -> None:
    # Date 15:00:00 means 15:00:00.0-.999; sent at 14:59:59.900 and received at 15:00:00.100 local.
    date_ns = 1_795_618_800 * NS_PER_S
    m = offset_from_date_header(
        "Wed, 25 Nov 2026 15:00:00 GMT", date_ns - 100 * NS_PER_MS, date_ns + 100 * NS_PER_MS
    )
    assert m.offset_ns == 500 * NS_PER_MS
    assert m.uncertainty_ns == 600 * NS_PER_MS
    with pytest.raises(TimeSyncError, match="no Date header"):
        offset_from_date_header("", 0, 0)


async def test_date_header_offset_within_its_resolution() -> None:
    async with http_date_server(-7.0) as url, httpx2.AsyncClient() as client:
        m = await measure_http_date(date_fetcher(client, url))
    assert m.source == "http-date"
    assert m.uncertainty_ns >= 500 * NS_PER_MS
    assert abs(m.offset_ns - (-7 * NS_PER_S)) <= m.uncertainty_ns + 20 * NS_PER_MS
    assert "resolution ±0.5 s" in m.detail


async def test_sync_falls_back_to_the_date_header_when_ntp_times_out(silent_udp_port: int) -> None:
    async with http_date_server(4.0) as url, httpx2.AsyncClient() as client:
        sync = ClockSync(
            ntp_servers=["127.0.0.1"], ntp_port=silent_udp_port, ntp_timeout_s=FAST_TIMEOUT_S,
            fetch_date=date_fetcher(client, url), guard=SkewGuard(max_offset_ms=1000),
        )  # fmt: skip
        m = await sync.sync()
    assert m.source == "http-date"
    assert abs(m.offset_ns - 4 * NS_PER_S) <= m.uncertainty_ns + 20 * NS_PER_MS
    assert sync.clock.offset_ns == m.offset_ns
    # The corrected clock now reads the server's time, to within the Date header's resolution.
    assert abs(sync.clock.time_ns() - (time.time_ns() + 4 * NS_PER_S)) <= m.uncertainty_ns + 20 * NS_PER_MS
    assert sync.guard.signing_allowed()


async def test_sync_error_lists_every_source_when_all_fail(silent_udp_port: int) -> None:
    def no_date() -> str:
        raise ConnectionRefusedError("exchange unreachable")

    sync = ClockSync(
        ntp_servers=["127.0.0.1"], ntp_port=silent_udp_port, ntp_timeout_s=FAST_TIMEOUT_S, fetch_date=no_date
    )
    with pytest.raises(TimeSyncError) as info:
        await sync.sync()
    assert len(info.value.reasons) == 2
    assert "ntp 127.0.0.1" in info.value.reasons[0] and "exchange unreachable" in info.value.reasons[1]
    assert sync.guard.last is None and not sync.guard.signing_allowed()


# --- the guard and the signer -------------------------------------------------------------------------------


async def test_signer_uses_the_corrected_clock(tmp_path: object) -> None:
    key_id, private_path, _ = generate_keypair(str(tmp_path), "ed25519")
    async with ntp_server(2.5) as port:
        sync = ClockSync(ntp_servers=["127.0.0.1"], ntp_port=port)
        signer = Signer(key_id, private_path.read_bytes(), clock=sync.clock, skew_guard=sync.guard)
        with pytest.raises(ClockSkewError, match="not measured yet"):
            signer.headers("GET", "/trade-api/v2/portfolio/balance")
        await sync.sync()
    ts_ms = int(signer.headers("GET", "/trade-api/v2/portfolio/balance")[TIMESTAMP_HEADER])
    assert abs(ts_ms - (time.time_ns() // NS_PER_MS + 2500)) < 100


async def test_guard_refuses_to_sign_beyond_the_bound_when_not_correcting(tmp_path: object) -> None:
    key_id, private_path, _ = generate_keypair(str(tmp_path), "ed25519")
    async with ntp_server(-3.0) as port:
        sync = ClockSync(ntp_servers=["127.0.0.1"], ntp_port=port, guard=SkewGuard(1000), correct=False)
        await sync.sync()
    signer = Signer(key_id, private_path.read_bytes(), clock=sync.clock, skew_guard=sync.guard)
    with pytest.raises(ClockSkewError) as info:
        signer.headers("GET", "/trade-api/v2/portfolio/balance")
    message = str(info.value)
    assert re.search(r"clock offset -(2\.9[5-9]|3\.0[0-5])\d s", message), message
    assert "measured by ntp" in message and "1.000 s bound" in message
    assert "NOT applied" in message


def test_guard_refuses_a_stale_measurement() -> None:
    clock = ManualClock()
    guard = SkewGuard(500, max_age_s=600, clock=clock)
    guard.update(OffsetMeasurement(0, 10 * NS_PER_MS, "ntp", "1/1"), corrected=True)
    assert guard.signing_allowed()
    clock.advance(601)
    reason = guard.refusal()
    assert reason is not None and "older than the 600 s limit" in reason
    with pytest.raises(ClockSkewError, match="resync"):
        guard.check()


def test_guard_refuses_an_imprecise_measurement_even_when_corrected() -> None:
    guard = SkewGuard(500, clock=ManualClock())
    guard.update(OffsetMeasurement(0, 700 * NS_PER_MS, "http-date", "Date header"), corrected=True)
    assert guard.error_bound_ns() == 700 * NS_PER_MS
    assert not guard.signing_allowed()


async def test_run_survives_a_failed_round_and_recovers(
    silent_udp_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    clock = ManualClock()
    async with ntp_server(0.0) as port:
        sync = ClockSync(
            clock, ntp_servers=["127.0.0.1"], ntp_port=silent_udp_port, ntp_timeout_s=FAST_TIMEOUT_S
        )
        task = asyncio.create_task(sync.run(interval_s=60))
        try:
            with caplog.at_level(logging.ERROR, logger="kxbtc.timesync"):
                await _until(lambda: "clock sync failed" in caplog.text)
            assert sync.guard.last is None
            sync.ntp_port = port  # the network comes back
            clock.advance(60)
            await _until(lambda: sync.guard.last is not None)
        finally:
            task.cancel()
    assert sync.guard.signing_allowed()
    expected_ns = time.time_ns() - clock.time_ns()  # the ManualClock is far behind the machine's clock
    assert abs(sync.clock.offset_ns - expected_ns) < 100 * NS_PER_MS
    assert abs(now_ms(sync.clock) - now_ms(SystemClock())) < 100


async def _until(condition: Callable[[], bool], limit_s: float = 10.0) -> None:
    # Waits on real threads (ntplib), so it polls real time; the limit only guards against a hang.
    deadline = time.monotonic() + limit_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.01)
