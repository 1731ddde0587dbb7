"""Regression tests for the simulator's input handling found by attacking it (issue 15): every hostile
input gets Kalshi's error shape, and the server keeps serving the user afterwards."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import aiohttp
import pytest
from test_sim_server import API, Client, next_frame, open_market, order, quiet_exchange

from kxbtc.clock import now_ms
from kxbtc.sim.faults import FaultSpec, FaultSpecError
from kxbtc.sim.harness import SimHarness
from kxbtc.sim.server import ServerConfig
from kxbtc.virtual_loop import run_virtual

POST = "/portfolio/events/orders"


@pytest.fixture
async def sim() -> AsyncIterator[SimHarness]:
    async with SimHarness(quiet_exchange(), config=ServerConfig(heartbeat_s=5)) as harness:
        yield harness


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def test_expiration_in_milliseconds_or_huge_is_refused_and_orders_stay_listable(
    sim: SimHarness, session: aiohttp.ClientSession
) -> None:
    client = Client(sim, session)
    ticker = open_market(sim)
    millis = {**order(ticker, "bid", "0.0100"), "expiration_time": now_ms(sim.exchange.clock) + 60_000}
    status, body = await client.request("POST", POST, body=millis)
    assert (status, body["error"]["code"]) == (400, "invalid_parameters")
    status, body = await client.request("POST", POST, body={**millis, "expiration_time": 10**30})
    assert (status, body["code"]) == (400, "bad_request")
    assert "of type int64" in body["details"]
    seconds = {**millis, "expiration_time": now_ms(sim.exchange.clock) // 1000 + 3600}
    assert (await client.request("POST", POST, body=seconds))[0] == 201
    status, body = await client.request("GET", "/portfolio/orders")
    assert status == 200 and len(body["orders"]) == 1


async def test_numbers_beyond_pythons_digit_limit_get_400_and_401(
    sim: SimHarness, session: aiohttp.ClientSession
) -> None:
    client = Client(sim, session)
    huge = b'{"ticker":"X","count":' + b"9" * 5000 + b"}"
    status, body = await client.request("POST", POST, data=huge, headers={"Content-Type": "application/json"})
    assert (status, body["code"]) == (400, "bad_request")
    headers = {**client.headers("GET", API + "/portfolio/balance"), "KALSHI-ACCESS-TIMESTAMP": "7" * 5000}
    async with session.get(sim.rest_url + "/portfolio/balance", headers=headers) as response:
        assert response.status == 401
        assert (await response.json())["error"]["code"] == "header_timestamp_expired"
    assert (await client.request("GET", "/portfolio/balance"))[0] == 200


async def test_double_slash_path_does_not_redirect_to_another_host(sim: SimHarness) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", sim.port)
    writer.write(b"GET //evil.com/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    await writer.drain()
    answer = (await reader.read()).decode("latin-1")
    writer.close()
    location = next((line for line in answer.split("\r\n") if line.lower().startswith("location:")), "")
    assert not location.split(":", 1)[-1].strip().startswith("//"), answer


async def test_ws_huge_id_and_mistyped_index_ids_get_error_frames(
    sim: SimHarness, session: aiohttp.ClientSession
) -> None:
    ws = await Client(sim, session).ws()
    await ws.send_str('{"id":' + "1" * 5000 + ',"cmd":"list_subscriptions"}')
    assert (await next_frame(ws))["msg"]["code"] == 1
    await ws.send_json({"id": 10**30, "cmd": "list_subscriptions"})
    assert (await next_frame(ws))["msg"]["code"] == 1
    command = {"channels": ["cfbenchmarks_value"], "index_ids": 5}
    await ws.send_json({"id": 2, "cmd": "subscribe", "params": command})
    assert (await next_frame(ws))["msg"] == {"code": 11, "msg": "Invalid parameter"}
    await ws.send_json({"id": 3, "cmd": "list_subscriptions"})
    assert await next_frame(ws) == {"id": 3, "type": "ok", "msg": []}
    await ws.close()


async def test_repeated_subscriptions_share_one_sid_and_rest_stays_fast(
    sim: SimHarness, session: aiohttp.ClientSession
) -> None:
    client = Client(sim, session)
    ws = await client.ws()
    for i in range(1000):
        await ws.send_json({"id": i + 1, "cmd": "subscribe", "params": {"channels": ["ticker"]}})
    sids = {(await next_frame(ws, "subscribed"))["msg"]["sid"] for _ in range(1000)}
    assert sids == {1}
    await ws.send_json({"id": 5000, "cmd": "list_subscriptions"})
    assert (await next_frame(ws, "ok"))["msg"] == [{"channel": "ticker", "sid": 1}]
    await ws.close()


async def test_unmasked_client_frames_close_the_connection(sim: SimHarness) -> None:
    path = "/trade-api/ws/v2"
    signed = sim.signer().headers("GET", path)
    sock = socket.create_connection(("127.0.0.1", sim.port), timeout=5)
    try:
        key = "dGhlIHNhbXBsZSBub25jZQ=="
        lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", "Upgrade: websocket", "Connection: Upgrade"]
        lines += [f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
        lines += [f"{name}: {value}" for name, value in signed.items()]
        await asyncio.to_thread(sock.sendall, ("\r\n".join(lines) + "\r\n\r\n").encode())
        handshake = await asyncio.to_thread(sock.recv, 4096)
        assert handshake.startswith(b"HTTP/1.1 101")
        payload = b'{"id":1,"cmd":"list_subscriptions"}'
        await asyncio.to_thread(sock.sendall, bytes([0x81, len(payload)]) + payload)  # no mask bit
        received = b""
        while True:
            chunk = await asyncio.to_thread(sock.recv, 4096)
            if not chunk:
                break
            received += chunk
    finally:
        sock.close()
    # A close frame with 1002 (protocol error) and no answer to the command.
    assert b'"type":"ok"' not in received
    assert bytes([0x88]) in received and (1002).to_bytes(2) in received


def test_faults_refuse_nan_and_infinity() -> None:
    for spec in ("delay_ms=nan", "delay_ms=inf", "drop=nan", "disconnect_every=inf"):
        with pytest.raises(FaultSpecError):
            FaultSpec.parse(spec)


def test_ws_delay_is_a_network_delay_not_a_throughput_cap() -> None:
    # Up to 50 ms per frame in series would take about 2.5 s for 100 frames; a network delay takes at
    # most about 50 ms. Measured on virtual time (the loop's clock moves only by the waits), so the
    # figure is the same on any machine.
    async def main() -> float:
        config = ServerConfig(faults=FaultSpec(delay_ms=50), heartbeat_s=5)
        loop = asyncio.get_running_loop()
        async with aiohttp.ClientSession() as session, SimHarness(quiet_exchange(), config=config) as sim:
            ws = await Client(sim, session).ws()
            started = loop.time()
            for i in range(100):
                await ws.send_json({"id": i + 1, "cmd": "list_subscriptions"})
            ids = [(await next_frame(ws))["id"] for _ in range(100)]
            elapsed = loop.time() - started
            assert ids == list(range(1, 101))  # order kept
            await ws.close()
            return elapsed

    elapsed = run_virtual(main(), real_timeout_s=120)
    assert elapsed < 0.5, elapsed


async def test_a_redirect_never_puts_decoded_control_characters_in_its_location(sim: SimHarness) -> None:
    # Found by tests/fuzz/test_fuzz_sim.py: the decoded path went into Location and aiohttp dropped the
    # connection (header injection refused) instead of answering.
    reader, writer = await asyncio.open_connection("127.0.0.1", sim.port)
    writer.write(
        b"GET /trade-api/v2/markets/%0aSet-Cookie:%20x/?a=%0d HTTP/1.1\r\n"
        b"Host: h\r\nConnection: close\r\n\r\n"
    )
    await writer.drain()
    answer = (await reader.read()).decode("latin-1")
    writer.close()
    assert answer.startswith("HTTP/1.1 301")
    assert "Location: /trade-api/v2/markets/%0aSet-Cookie:%20x?a=%0d\r\n" in answer
