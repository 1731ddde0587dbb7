"""The simulator's server over real sockets on 127.0.0.1: bad input, WebSocket protocol, faults, auth
variants, legacy endpoints and ``kxbtc sim serve`` as a subprocess."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import httpx2 as httpx
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kxbtc.clock import ManualClock, SystemClock, now_ms
from kxbtc.kalshi.auth import Signer, presign_text
from kxbtc.sim.exchange import Exchange, SimConfig
from kxbtc.sim.faults import FaultSpec
from kxbtc.sim.harness import KeyPair, SimHarness, ThreadedSimHarness, generate_key_pair
from kxbtc.sim.server import ServerConfig

API = "/trade-api/v2"
WS = "/trade-api/ws/v2"


def quiet_exchange() -> Exchange:
    """No synthetic counterparties: the book holds only what a test puts there."""
    return Exchange(SystemClock(), seed=3, config=SimConfig(counterparties=False))


class Client:
    """A signed Kalshi client for one key, as a third-party client would build it."""

    def __init__(self, sim: SimHarness, session: aiohttp.ClientSession, key: KeyPair | None = None) -> None:
        self.sim = sim
        self.session = session
        self.signer = sim.signer(key)

    def headers(self, method: str, path: str) -> dict[str, str]:
        return self.signer.headers(method, path.split("?")[0])

    async def request(self, method: str, path: str, body: Any = None, **kwargs: Any) -> tuple[int, Any]:
        headers = {**self.headers(method, API + path), **kwargs.pop("headers", {})}
        data = json.dumps(body) if body is not None else kwargs.pop("data", None)
        if body is not None:
            headers.setdefault("Content-Type", "application/json")
        async with self.session.request(
            method,
            self.sim.base_url + API + path,
            data=data,
            headers=headers,
            allow_redirects=False,
            **kwargs,
        ) as response:
            text = await response.text()
            return response.status, (json.loads(text) if text else None)

    async def ws(self) -> aiohttp.ClientWebSocketResponse:
        return await self.session.ws_connect(self.sim.ws_url, headers=self.headers("GET", WS), autoping=False)


def open_market(sim: SimHarness) -> str:
    markets = [
        m for m in sim.exchange.markets.values() if m.is_trading and m.price_level_structure == "linear_cent"
    ]
    return max(markets, key=lambda m: m.close_ns).ticker


def order(
    ticker: str, side: str, price: str, count: str = "1.00", tif: str = "good_till_canceled"
) -> dict[str, Any]:
    return {
        "ticker": ticker,
        "side": side,
        "price": price,
        "count": count,
        "time_in_force": tif,
        "self_trade_prevention_type": "taker_at_cross",
    }


async def next_frame(ws: aiohttp.ClientWebSocketResponse, kind: str | None = None) -> dict[str, Any]:
    """The next JSON frame (of type ``kind``), answering pings on the way; at most 5 s."""
    async with asyncio.timeout(5):
        return await _next_frame(ws, kind)


async def frames_until(ws: aiohttp.ClientWebSocketResponse, kinds: set[str]) -> dict[str, dict[str, Any]]:
    """The first frame of each type in ``kinds``, in whatever order they come."""
    seen: dict[str, dict[str, Any]] = {}
    while not kinds <= seen.keys():
        frame = await next_frame(ws)
        seen.setdefault(frame["type"], frame)
    return seen


async def _next_frame(ws: aiohttp.ClientWebSocketResponse, kind: str | None) -> dict[str, Any]:
    while True:
        message = await ws.receive()
        if message.type == aiohttp.WSMsgType.PING:
            await ws.pong(message.data)
            continue
        assert message.type == aiohttp.WSMsgType.TEXT, message
        frame: dict[str, Any] = json.loads(message.data)
        if kind is None or frame["type"] == kind:
            return frame


@pytest.fixture
async def sim() -> AsyncIterator[SimHarness]:
    async with SimHarness(quiet_exchange(), config=ServerConfig(heartbeat_s=0.2)) as harness:
        yield harness


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


# ---------------------------------------------------------------------------------------------
# Bad input


async def test_bad_input_gets_kalshi_errors_while_a_well_behaved_client_keeps_being_served(
    sim: SimHarness, session: aiohttp.ClientSession
) -> None:
    client = Client(sim, session)
    ticker = open_market(sim)
    good_answers: list[int] = []
    stop = asyncio.Event()

    async def well_behaved() -> None:
        ws = await client.ws()
        await ws.send_json({"id": 1, "cmd": "subscribe", "params": {"channels": ["ticker"]}})
        assert (await next_frame(ws, "subscribed"))["msg"]["channel"] == "ticker"
        while not stop.is_set():
            status, _ = await client.request("GET", "/portfolio/balance")
            good_answers.append(status)
            await asyncio.sleep(0.01)
        await ws.send_json({"id": 2, "cmd": "list_subscriptions"})
        assert (await next_frame(ws, "ok"))["msg"] == [{"channel": "ticker", "sid": 1}]
        await ws.close()

    task = asyncio.create_task(well_behaved())
    post = "/portfolio/events/orders"
    status, body = await client.request(
        "POST", post, data=b'{"ticker": ', headers={"Content-Type": "application/json"}
    )
    assert status == 400 and body == {
        "code": "bad_request",
        "message": "bad request",
        "details": body["details"],
    }
    assert body["details"] == "unexpected end of JSON input"
    status, body = await client.request("POST", post, body={**order(ticker, "bid", "0.0100"), "count": 1})
    assert status == 400
    assert body["details"] == (
        "json: cannot unmarshal number into Go struct field CreateOrderV2Request.count of type string"
    )
    status, body = await client.request(
        "POST", post, data=b"[1, 2]", headers={"Content-Type": "application/json"}
    )
    assert (status, body["code"]) == (400, "bad_request")
    status, body = await client.request(
        "POST", post, data=b"ticker=X", headers={"Content-Type": "text/plain"}
    )
    assert (status, body["error"]["code"]) == (415, "unsupported_media_type")
    status, body = await client.request("GET", "/no/such/endpoint")
    assert (status, body) == (404, {"error": {"code": "not_found", "message": "not found"}})
    status, body = await client.request("PATCH", "/markets")
    assert (status, body["error"]["code"]) == (405, "method_not_allowed")
    status, body = await client.request(
        "POST", post, data=b"x" * (10 << 20), headers={"Content-Type": "application/json"}
    )
    assert (status, body["error"]["code"]) == (413, "request_entity_too_large")
    status, body = await client.request("GET", "/markets?limit=abc")
    assert status == 400 and set(body) == {"msg"}
    status, body = await client.request("POST", post, body={**order(ticker, "bid", "0.0100"), "side": "up"})
    assert (status, body["error"]["code"]) == (400, "invalid_parameters")

    ws = await client.ws()
    await ws.send_str("this is not json")
    assert await next_frame(ws) == {
        "id": 0,
        "type": "error",
        "msg": {"code": 1, "msg": "Unable to process message"},
    }
    await ws.send_json({"id": 7, "cmd": "teleport", "params": {}})
    assert await next_frame(ws) == {"id": 7, "type": "error", "msg": {"code": 5, "msg": "Unknown command"}}
    await ws.send_json({"id": 8, "cmd": "subscribe", "params": {"channels": ["nonsense"]}})
    assert (await next_frame(ws))["msg"]["code"] == 8
    await ws.send_json({"id": 9, "cmd": "subscribe", "params": {"channels": ["orderbook_delta"]}})
    assert (await next_frame(ws))["msg"]["code"] == 14
    await ws.send_json({"id": 10, "cmd": "subscribe", "params": {"channels": ["trade"]}})
    assert (await next_frame(ws))["type"] == "subscribed"  # the connection is still up
    await ws.close()

    stop.set()
    await task
    assert good_answers and set(good_answers) == {200}


async def test_trailing_slash_redirects_to_the_slashless_path(
    sim: SimHarness, session: aiohttp.ClientSession
) -> None:
    status, _ = await Client(sim, session).request("GET", "/markets/?limit=5")
    assert status == 301
    async with session.get(sim.base_url + API + "/markets/?limit=5", allow_redirects=False) as response:
        assert response.headers["Location"] == API + "/markets?limit=5"


# ---------------------------------------------------------------------------------------------
# Auth


async def test_unsigned_private_call_and_handshake_are_refused_with_kalshis_401(
    sim: SimHarness, session: aiohttp.ClientSession
) -> None:
    missing = {
        "error": {"code": "signature_is_missing_from_headers", "message": "signature is missing from headers"}
    }
    async with session.get(sim.rest_url + "/portfolio/balance") as response:
        assert (response.status, await response.json()) == (401, missing)
    async with session.get(sim.ws_url.replace("ws://", "http://")) as response:
        assert response.status == 401
    async with session.get(sim.rest_url + "/exchange/status") as response:  # public: no signature needed
        assert response.status == 200


async def test_ed25519_keys_max_length_pss_salt_and_unsigned_query_are_accepted(
    session: aiohttp.ClientSession,
) -> None:
    rsa_key, ed_key = generate_key_pair("rsa"), generate_key_pair("ed25519")
    async with SimHarness(quiet_exchange(), keys=[rsa_key, ed_key]) as sim:
        status, _ = await Client(sim, session, ed_key).request("GET", "/portfolio/fills?limit=5")
        assert status == 200
        ts = str(now_ms(SystemClock()))
        private = load_pem_private_key(rsa_key.private_key_pem, None)
        assert isinstance(private, rsa.RSAPrivateKey)
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.MAX_LENGTH)
        signature = private.sign(presign_text(ts, "GET", API + "/portfolio/balance"), pss, hashes.SHA256())
        headers = {
            "KALSHI-ACCESS-KEY": rsa_key.key_id,
            "KALSHI-ACCESS-TIMESTAMP": ts,
            "KALSHI-ACCESS-SIGNATURE": base64.b64encode(signature).decode(),
        }
        async with session.get(sim.rest_url + "/portfolio/balance?subaccount=0", headers=headers) as response:
            assert response.status == 200
        # Signing the query string is the classic client bug: Kalshi answers INCORRECT_API_KEY_SIGNATURE.
        client = Client(sim, session, rsa_key)
        bad = client.signer.sign(ts, "GET", "/x")  # any other text
        headers["KALSHI-ACCESS-SIGNATURE"] = bad
        async with session.get(sim.rest_url + "/portfolio/balance", headers=headers) as response:
            body = await response.json()
            assert (response.status, body["error"]["details"]) == (401, "INCORRECT_API_KEY_SIGNATURE")


# ---------------------------------------------------------------------------------------------
# WebSocket


async def test_orderbook_channel_snapshot_deltas_prices_and_commands(
    sim: SimHarness, session: aiohttp.ClientSession
) -> None:
    maker_key = generate_key_pair("ed25519")
    sim.server.trust(maker_key.key_id, maker_key.public_key_pem)
    client, maker = Client(sim, session), Client(sim, session, maker_key)
    ticker = open_market(sim)
    for body in (order(ticker, "bid", "0.4700", "3.00"), order(ticker, "ask", "0.5200", "3.00")):
        assert (await maker.request("POST", "/portfolio/events/orders", body=body))[0] == 201

    yes_ws, no_ws = await client.ws(), await client.ws()
    for ws, flag in ((yes_ws, True), (no_ws, False)):
        params = {"channels": ["orderbook_delta", "trade"], "market_tickers": [ticker], "use_yes_price": flag}
        await ws.send_json({"id": 1, "cmd": "subscribe", "params": params})
        acks = [await next_frame(ws), await next_frame(ws, "subscribed")]
        assert [(a["id"], a["msg"]["sid"]) for a in acks] == [(1, 1), (1, 2)]
    yes_snap, no_snap = (
        await next_frame(yes_ws, "orderbook_snapshot"),
        await next_frame(no_ws, "orderbook_snapshot"),
    )
    assert yes_snap["seq"] == no_snap["seq"] == 1
    assert yes_snap["msg"]["no_dollars_fp"] == [["0.5200", "3.00"]]  # NO bid 0.48 shown as the YES ask
    assert no_snap["msg"]["no_dollars_fp"] == [["0.4800", "3.00"]]
    assert yes_snap["msg"]["yes_dollars_fp"] == [["0.4700", "3.00"]]

    status, _ = await client.request(
        "POST", "/portfolio/events/orders", body=order(ticker, "bid", "0.9900", tif="immediate_or_cancel")
    )
    assert status == 201
    yes_delta, no_delta = (
        await next_frame(yes_ws, "orderbook_delta"),
        await next_frame(no_ws, "orderbook_delta"),
    )
    assert (yes_delta["seq"], yes_delta["msg"]["price_dollars"], yes_delta["msg"]["delta_fp"]) == (
        2,
        "0.5200",
        "-1.00",
    )
    assert (no_delta["msg"]["side"], no_delta["msg"]["price_dollars"]) == ("no", "0.4800")
    trade = await next_frame(yes_ws, "trade")
    assert (trade["sid"], trade["seq"], trade["msg"]["yes_price_dollars"]) == (2, 1, "0.5200")

    await yes_ws.send_json(
        {
            "id": 2,
            "cmd": "update_subscription",
            "params": {"sids": [1], "market_tickers": [ticker], "action": "get_snapshot"},
        }
    )
    again = await next_frame(yes_ws, "orderbook_snapshot")
    assert (again["sid"], again["seq"], again["msg"]["no_dollars_fp"]) == (1, 3, [["0.5200", "2.00"]])
    await yes_ws.send_json(
        {
            "id": 3,
            "cmd": "update_subscription",
            "params": {"sid": 1, "market_tickers": [ticker], "action": "delete_markets"},
        }
    )
    assert await next_frame(yes_ws, "ok") == {
        "id": 3,
        "sid": 1,
        "seq": 4,
        "type": "ok",
        "msg": {"market_tickers": []},
    }
    await yes_ws.send_json(
        {"id": 4, "cmd": "update_subscription", "params": {"sids": [1, 2], "action": "add_markets"}}
    )
    assert (await next_frame(yes_ws, "error"))["msg"]["code"] == 12
    await yes_ws.send_json({"id": 5, "cmd": "unsubscribe", "params": {"sids": [2]}})
    assert await next_frame(yes_ws, "unsubscribed") == {"id": 5, "sid": 2, "seq": 2, "type": "unsubscribed"}
    await yes_ws.send_json({"id": 6, "cmd": "unsubscribe", "params": {"sids": [42]}})
    assert (await next_frame(yes_ws, "error"))["msg"]["code"] == 7
    await yes_ws.close()
    await no_ws.close()


async def test_private_channels_see_only_their_owners_activity(
    sim: SimHarness, session: aiohttp.ClientSession
) -> None:
    other_key = generate_key_pair("ed25519")
    sim.server.trust(other_key.key_id, other_key.public_key_pem)
    me, other = Client(sim, session), Client(sim, session, other_key)
    ticker = open_market(sim)
    assert (
        await other.request("POST", "/portfolio/events/orders", body=order(ticker, "ask", "0.6000", "2.00"))
    )[0] == 201
    mine, theirs = await me.ws(), await other.ws()
    for ws in (mine, theirs):
        params = {"channels": ["fill", "user_orders", "market_positions", "ticker"]}
        await ws.send_json({"id": 1, "cmd": "subscribe", "params": params})
    body = {**order(ticker, "bid", "0.6000", "1.00", "immediate_or_cancel"), "client_order_id": "mine-1"}
    status, created = await me.request("POST", "/portfolio/events/orders", body=body)
    assert status == 201 and created["fill_count"] == "1.00"
    frames = await frames_until(mine, {"fill", "user_order", "market_position", "ticker"})
    fill = frames["fill"]
    assert (fill["msg"]["order_id"], fill["msg"]["is_taker"], fill["msg"]["client_order_id"]) == (
        created["order_id"],
        True,
        "mine-1",
    )
    assert "seq" not in fill
    assert frames["user_order"]["msg"]["order_id"] == created["order_id"]
    assert frames["market_position"]["msg"]["position_fp"] == "1.00"
    assert frames["ticker"]["msg"]["market_ticker"] == ticker
    their_fill = (await frames_until(theirs, {"fill"}))["fill"]
    assert their_fill["msg"]["is_taker"] is False and their_fill["msg"]["order_id"] != created["order_id"]
    await mine.close()
    await theirs.close()


async def test_server_pings_with_the_heartbeat_payload(
    sim: SimHarness, session: aiohttp.ClientSession
) -> None:
    ws = await Client(sim, session).ws()
    message = await ws.receive(timeout=5)
    assert (message.type, message.data) == (aiohttp.WSMsgType.PING, b"heartbeat")
    await ws.close()


async def test_cfbenchmarks_channel_streams_the_index_when_asked(session: aiohttp.ClientSession) -> None:
    clock = ManualClock()  # index seconds pass only when the test says so
    exchange = Exchange(clock, seed=3, config=SimConfig(counterparties=False))
    async with SimHarness(exchange, step_interval_s=0.5) as sim:
        ws = await Client(sim, session).ws()
        await ws.send_json({"id": 1, "cmd": "subscribe", "params": {"channels": ["cfbenchmarks_value"]}})
        sid = (await next_frame(ws, "subscribed"))["msg"]["sid"]
        await ws.send_json(
            {"id": 2, "cmd": "update_subscription", "params": {"sid": sid, "action": "indexlist"}}
        )
        listing = await next_frame(ws, "cfbenchmarks_value_indexlist")
        assert listing["msg"] == {"index_ids": ["BRTI"]} and listing["seq"] == 1
        await ws.send_json(
            {"id": 3, "cmd": "update_subscription", "params": {"sid": sid, "action": "subscribe_indices"}}
        )
        error = await next_frame(ws, "error")
        assert (error["msg"]["code"], error["sid"], error["seq"]) == (24, sid, 2)
        params = {"sid": sid, "action": "subscribe_indices", "index_ids": ["BRTI"]}
        await ws.send_json({"id": 4, "cmd": "update_subscription", "params": params})
        assert (await next_frame(ws, "ok"))["seq"] == 3
        await clock.run_for(1.0)
        tick = await next_frame(ws, "cfbenchmarks_value")
        assert tick["seq"] == 4 and tick["msg"]["index_id"] == "BRTI"
        await ws.close()


# ---------------------------------------------------------------------------------------------
# Faults and rate limits


async def test_dropped_ws_messages_leave_seq_gaps(session: aiohttp.ClientSession) -> None:
    config = ServerConfig(faults=FaultSpec(drop=0.5), fault_seed=11)
    async with SimHarness(quiet_exchange(), config=config) as sim:
        client = Client(sim, session)
        ticker = open_market(sim)
        ws = await client.ws()
        await ws.send_json(
            {
                "id": 1,
                "cmd": "subscribe",
                "params": {"channels": ["orderbook_delta"], "market_tickers": [ticker]},
            }
        )
        for i in range(20):
            await client.request(
                "POST", "/portfolio/events/orders", body=order(ticker, "bid", f"0.{10 + i:02d}00")
            )
        seqs: list[int] = []
        while len(seqs) < 5:
            frame = await next_frame(ws)
            if "seq" in frame:
                seqs.append(frame["seq"])
        assert seqs == sorted(seqs)
        assert any(b - a > 1 for a, b in itertools.pairwise(seqs)) or seqs[0] > 1
        await ws.close()


async def test_injected_http_faults_happen_before_execution(session: aiohttp.ClientSession) -> None:
    config = ServerConfig(faults=FaultSpec(http_429=0.3, http_5xx=0.3), fault_seed=5)
    async with SimHarness(quiet_exchange(), config=config) as sim:
        client = Client(sim, session)
        ticker = open_market(sim)
        statuses = []
        for i in range(30):
            body = {**order(ticker, "bid", "0.0100"), "client_order_id": f"c-{i}"}
            status, answer = await client.request("POST", "/portfolio/events/orders", body=body)
            statuses.append(status)
            if status == 429:
                assert answer == {"error": "too many requests"}
        assert {201, 429, 500} <= set(statuses)
        resting = sim.exchange.orders_page(sim.user_id(), status="resting", limit=1000).items
        assert len(resting) == statuses.count(201)  # a refused request never executed


async def test_lost_responses_still_execute_the_order(session: aiohttp.ClientSession) -> None:
    config = ServerConfig(faults=FaultSpec(lose_response=1.0), fault_seed=2)
    async with SimHarness(quiet_exchange(), config=config) as sim:
        client = Client(sim, session)
        ticker = open_market(sim)
        outcomes = []
        for i in range(6):
            body = {**order(ticker, "bid", "0.0100"), "client_order_id": f"lost-{i}"}
            try:
                status, _ = await client.request("POST", "/portfolio/events/orders", body=body)
                outcomes.append(status)
            except aiohttp.ClientError:
                outcomes.append(-1)
        assert 201 not in outcomes and {-1, 500} <= set(outcomes)
        resting = sim.exchange.orders_page(sim.user_id(), status="resting", limit=1000).items
        assert sorted(o.client_order_id or "" for o in resting) == [f"lost-{i}" for i in range(6)]
        # The retry with the same client_order_id tells the client the order exists.
        async with aiohttp.ClientSession() as fresh:
            status, body = await Client(sim, fresh).request("GET", "/portfolio/orders?limit=100")
            assert status == 200 and len(body["orders"]) == 6


async def test_token_buckets_answer_429_without_executing(session: aiohttp.ClientSession) -> None:
    config = ServerConfig(rate_limit=True, read_rate=30, write_rate=20)
    async with SimHarness(quiet_exchange(), config=config) as sim:
        client = Client(sim, session)
        statuses = [(await client.request("GET", "/portfolio/balance"))[0] for _ in range(6)]
        assert statuses[:3] == [200, 200, 200] and statuses[-1] == 429
        status, body = await client.request("GET", "/portfolio/balance")
        assert (status, body) == (429, {"error": "too many requests"})
        ticker = open_market(sim)
        batch = {"orders": [order(ticker, "bid", "0.0100") for _ in range(3)]}  # 3 x 10 tokens > 20
        status, body = await client.request("POST", "/portfolio/events/orders/batched", body=batch)
        assert (status, body) == (429, {"error": "too many requests"})
        assert sim.exchange.orders_page(sim.user_id(), limit=100).items == []
        batch["orders"] = batch["orders"][:2]
        assert (await client.request("POST", "/portfolio/events/orders/batched", body=batch))[0] == 201


async def test_disconnect_fault_closes_websockets_periodically(session: aiohttp.ClientSession) -> None:
    config = ServerConfig(faults=FaultSpec(disconnect_every=0.3))
    async with SimHarness(quiet_exchange(), config=config) as sim:
        ws = await Client(sim, session).ws()
        while True:
            message = await ws.receive(timeout=5)
            if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING):
                break
        assert ws.closed or message.type != aiohttp.WSMsgType.TEXT


# ---------------------------------------------------------------------------------------------
# Legacy endpoints and reads


async def test_legacy_order_endpoints_translate_to_the_yes_leg(
    sim: SimHarness, session: aiohttp.ClientSession
) -> None:
    client = Client(sim, session)
    ticker = open_market(sim)
    legacy = {
        "ticker": ticker,
        "side": "no",
        "action": "buy",
        "count": 2,
        "no_price": 40,
        "client_order_id": "L1",
    }
    status, body = await client.request("POST", "/portfolio/orders", body=legacy)
    assert status == 201
    placed = body["order"]
    assert (placed["book_side"], placed["outcome_side"], placed["yes_price_dollars"]) == (
        "ask",
        "no",
        "0.6000",
    )
    assert "self_trade_prevention_type" not in placed
    order_id = placed["order_id"]
    amend = {"ticker": ticker, "side": "no", "action": "buy", "count": 3, "no_price_dollars": "0.3900"}
    status, body = await client.request("POST", f"/portfolio/orders/{order_id}/amend", body=amend)
    assert status == 200 and body["old_order"]["yes_price_dollars"] == "0.6000"
    assert body["order"]["yes_price_dollars"] == "0.6100"
    status, body = await client.request(
        "POST", f"/portfolio/orders/{order_id}/decrease", body={"reduce_by": 1}
    )
    assert status == 200 and body["order"]["remaining_count_fp"] == "2.00"
    status, body = await client.request("DELETE", f"/portfolio/orders/{order_id}")
    assert (status, body["reduced_by_fp"], body["order"]["status"]) == (200, "2.00", "canceled")
    status, body = await client.request("DELETE", f"/portfolio/orders/{order_id}")
    assert (status, body["error"]["code"]) == (404, "not_found")


async def test_v2_batch_amend_decrease_and_transfer(sim: SimHarness, session: aiohttp.ClientSession) -> None:
    client = Client(sim, session)
    ticker = open_market(sim)
    batch = {
        "orders": [
            order(ticker, "bid", "0.1000"),
            order(ticker, "bid", "0.1050"),
            order(ticker, "ask", "0.9000"),
        ]
    }
    status, body = await client.request("POST", "/portfolio/events/orders/batched", body=batch)
    assert status == 201
    first, bad, third = body["orders"]
    assert bad["error"]["code"] == "invalid_price" and "ts_ms" not in bad
    q = f"?market_ticker={ticker}"
    status, body = await client.request(
        "POST",
        f"/portfolio/events/orders/{first['order_id']}/amend",
        body={"ticker": ticker, "side": "bid", "price": "0.1100", "count": "4.00"},
    )
    assert (status, body["remaining_count"]) == (200, "4.00")
    status, body = await client.request(
        "POST",
        f"/portfolio/events/orders/{first['order_id']}/decrease",
        body={"reduce_to": "1.00", "market_ticker": ticker},
    )
    assert (status, body["remaining_count"]) == (200, "1.00")
    cancel = {
        "orders": [
            {"order_id": first["order_id"], "market_ticker": ticker},
            {"order_id": "nope", "market_ticker": ticker},
        ]
    }
    status, body = await client.request("DELETE", "/portfolio/events/orders/batched", body=cancel)
    assert status == 200
    assert body["orders"][0]["reduced_by"] == "1.00" and body["orders"][1]["error"]["code"] == "not_found"
    status, body = await client.request("DELETE", f"/portfolio/events/orders/{third['order_id']}{q}")
    assert (status, body["reduced_by"]) == (200, "1.00")
    transfer = {"source": "event_contract", "destination": "event_contract", "source_exchange_shard": 2}
    transfer |= {"destination_exchange_shard": 0, "amount": 1_000_000}  # centicents: $100
    status, body = await client.request("POST", "/portfolio/intra_exchange_instance_transfer", body=transfer)
    assert status == 200 and "transfer_id" in body
    status, body = await client.request("GET", "/portfolio/balance?exchange_index=0")
    assert body["balance_dollars"] == "100.0000"
    status, body = await client.request("GET", "/portfolio/intra_exchange_instance_transfers")
    assert body["transfers"][0]["amount"] == "100.0000"


async def test_market_lists_paginate_and_validate_limits(
    sim: SimHarness, session: aiohttp.ClientSession
) -> None:
    client = Client(sim, session)
    seen: list[str] = []
    cursor = ""
    for _ in range(100):
        status, body = await client.request("GET", f"/markets?limit=7&cursor={cursor}")
        assert status == 200
        seen += [m["ticker"] for m in body["markets"]]
        cursor = body["cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == len(sim.exchange.markets)
    status, body = await client.request("GET", "/portfolio/orders?limit=5000")
    assert (status, body) == (
        400,
        {
            "msg": "Parameter validation failed for GetOrders: Key: 'GetOrdersParams.Limit' "
            "Error:Field validation for 'Limit' failed on the 'max' tag"
        },
    )
    status, body = await client.request("GET", f"/markets/{seen[0]}/orderbook?depth=101")
    assert status == 400 and "'max' tag" in body["msg"]
    ticker = open_market(sim)
    status, body = await client.request("GET", f"/markets/orderbooks?tickers={ticker}&tickers={seen[0]}")
    assert status == 200 and [b["ticker"] for b in body["orderbooks"]] == [ticker, seen[0]]


# ---------------------------------------------------------------------------------------------
# kxbtc sim serve


def test_sim_serve_prints_urls_serves_and_exits_cleanly_on_sigterm(tmp_path: Path) -> None:
    key = generate_key_pair("ed25519")
    public = tmp_path / "public.pem"
    public.write_bytes(key.public_key_pem)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    command = [
        sys.executable,
        "-m",
        "kxbtc",
        "sim",
        "serve",
        "--port",
        "0",
        "--seed",
        "4",
        "--no-counterparties",
    ]
    command += ["--trust", f"{key.key_id}={public}", "--balance", "250", "--write-rate", "2500"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert process.stdout is not None
        rest, ws = process.stdout.readline().split(), process.stdout.readline().split()
        assert (
            rest[0] == "REST"
            and rest[1].startswith("http://127.0.0.1:")
            and rest[1].endswith("/trade-api/v2")
        )
        port = rest[1].split(":")[2].split("/")[0]
        assert ws == ["WS", f"ws://127.0.0.1:{port}/trade-api/ws/v2"] and port != "0"

        async def talk() -> tuple[Any, Any, Any]:
            signer = Signer(key.key_id, key.private_key_pem)
            async with aiohttp.ClientSession() as s:
                async with s.get(rest[1] + "/exchange/status") as response:
                    status = await response.json()
                async with s.get(
                    rest[1] + "/portfolio/balance",
                    headers=signer.headers("GET", "/trade-api/v2/portfolio/balance"),
                ) as response:
                    balance = await response.json()
                async with s.get(
                    rest[1] + "/account/limits", headers=signer.headers("GET", "/trade-api/v2/account/limits")
                ) as response:
                    return status, balance, await response.json()

        status, balance, limits = asyncio.run(talk())
        assert status == {"exchange_active": True, "trading_active": True}
        assert balance["balance_dollars"] == "250.0000"
        # --write-rate is what the account limits report (the tick-to-wire bench raises it).
        assert limits["write"] == {"bucket_capacity": 2500, "refill_rate": 2500}
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


async def test_public_reads_series_events_trades_and_candles(
    sim: SimHarness, session: aiohttp.ClientSession
) -> None:
    anonymous = session
    maker_key = generate_key_pair("ed25519")
    sim.server.trust(maker_key.key_id, maker_key.public_key_pem)
    ticker = open_market(sim)
    maker, taker = Client(sim, session, maker_key), Client(sim, session)
    await maker.request("POST", "/portfolio/events/orders", body=order(ticker, "ask", "0.4500", "5.00"))
    await taker.request(
        "POST", "/portfolio/events/orders", body=order(ticker, "bid", "0.4500", "2.00", "fill_or_kill")
    )
    market = sim.exchange.markets[ticker]

    async def get(path: str) -> Any:
        async with anonymous.get(sim.rest_url + path) as response:
            assert response.status == 200, await response.text()
            return await response.json()

    series = await get(f"/series/{market.series_ticker}")
    assert series["series"]["ticker"] == market.series_ticker
    event = await get(f"/events/{market.event_ticker}?with_nested_markets=true")
    assert ticker in [m["ticker"] for m in event["event"]["markets"]]
    trades = await get(f"/markets/trades?ticker={ticker}")
    assert [(t["count_fp"], t["yes_price_dollars"]) for t in trades["trades"]] == [("2.00", "0.4500")]
    candles = await get(f"/series/{market.series_ticker}/markets/{ticker}/candlesticks?period_interval=1")
    assert candles["candlesticks"][0]["price"]["close_dollars"] == "0.4500"
    assert candles["candlesticks"][0]["volume_fp"] == "2.00"
    events = await get(f"/events?series_ticker={market.series_ticker}&status=open")
    assert market.event_ticker in [e["event_ticker"] for e in events["events"]]


async def test_snapshot_plus_deltas_rebuild_the_book_exactly_under_live_trading(
    session: aiohttp.ClientSession,
) -> None:
    async with SimHarness(Exchange(SystemClock(), seed=9), step_interval_s=0.02) as sim:
        ticker = open_market(sim)
        ws = await Client(sim, session).ws()
        params = {"channels": ["orderbook_delta"], "market_tickers": [ticker], "use_yes_price": True}
        await ws.send_json({"id": 1, "cmd": "subscribe", "params": params})
        book: dict[tuple[str, str], int] = {}
        last_seq = 0
        deltas = 0

        def load(snapshot: dict[str, Any]) -> None:
            book.clear()
            for side in ("yes", "no"):
                for price, size in snapshot.get(f"{side}_dollars_fp", []):
                    book[(side, price)] = round(float(size) * 100)

        load((await next_frame(ws, "orderbook_snapshot"))["msg"])
        last_seq = 1

        async def drive() -> None:  # our own orders on both sides, some crossing the makers' quotes
            trader = Client(sim, session)
            for i in range(40):
                side = "bid" if i % 2 else "ask"
                price = f"0.{(30 + 3 * i) % 90 + 5:02d}00"
                tif = "immediate_or_cancel" if i % 5 == 0 else "good_till_canceled"
                await trader.request(
                    "POST", "/portfolio/events/orders", body=order(ticker, side, price, "2.00", tif)
                )

        driver = asyncio.create_task(drive())
        while not driver.done() or deltas == 0:
            try:
                async with asyncio.timeout(0.5):
                    frame = await next_frame(ws, "orderbook_delta")
            except TimeoutError:
                continue
            assert frame["seq"] == last_seq + 1
            last_seq = frame["seq"]
            msg = frame["msg"]
            key = (msg["side"], msg["price_dollars"])
            book[key] = book.get(key, 0) + round(float(msg["delta_fp"]) * 100)
            assert book[key] >= 0
            if book[key] == 0:
                del book[key]
            deltas += 1
        await driver
        command = {"sids": [1], "market_tickers": [ticker], "action": "get_snapshot"}
        await ws.send_json({"id": 2, "cmd": "update_subscription", "params": command})
        while True:
            frame = await next_frame(ws)
            assert frame["seq"] == last_seq + 1
            last_seq = frame["seq"]
            if frame["type"] == "orderbook_snapshot":
                break
            msg = frame["msg"]
            key = (msg["side"], msg["price_dollars"])
            book[key] = book.get(key, 0) + round(float(msg["delta_fp"]) * 100)
            if book[key] == 0:
                del book[key]
        rebuilt = dict(book)
        load(frame["msg"])
        assert rebuilt == book and deltas > 0
        await ws.close()


async def test_a_slow_reader_loses_its_subscriptions_with_error_25(session: aiohttp.ClientSession) -> None:
    async with SimHarness(quiet_exchange(), config=ServerConfig(ws_buffer_frames=3)) as sim:
        maker_key = generate_key_pair("ed25519")
        sim.server.trust(maker_key.key_id, maker_key.public_key_pem)
        maker, taker = Client(sim, session, maker_key), Client(sim, session)
        ticker = open_market(sim)
        for price in ("0.4000", "0.4100", "0.4200", "0.4300"):
            await maker.request("POST", "/portfolio/events/orders", body=order(ticker, "ask", price))
        ws = await taker.ws()
        params = {"channels": ["orderbook_delta", "trade"], "market_tickers": [ticker]}
        await ws.send_json({"id": 1, "cmd": "subscribe", "params": params})
        await frames_until(ws, {"subscribed", "orderbook_snapshot"})
        sweep = order(ticker, "bid", "0.4300", "4.00", "immediate_or_cancel")  # 4 levels, 4 trades at once
        assert (await taker.request("POST", "/portfolio/events/orders", body=sweep))[0] == 201
        errors = [await next_frame(ws, "error"), await next_frame(ws, "error")]
        assert sorted((e["sid"], e["msg"]["code"]) for e in errors) == [(1, 25), (2, 25)]
        await ws.send_json({"id": 2, "cmd": "list_subscriptions"})
        assert (await next_frame(ws, "ok"))["msg"] == []
        await ws.close()


@pytest.mark.parametrize(
    ("side", "action", "price_field", "book_side", "yes_price"),
    [
        ("yes", "buy", {"yes_price": 30}, "bid", "0.3000"),
        ("yes", "sell", {"yes_price_dollars": "0.7000"}, "ask", "0.7000"),
        ("no", "buy", {"no_price": 40}, "ask", "0.6000"),
        ("no", "sell", {"no_price_dollars": "0.8000"}, "bid", "0.2000"),
    ],
)
async def test_legacy_direction_table_maps_to_v2(
    sim: SimHarness,
    session: aiohttp.ClientSession,
    side: str,
    action: str,
    price_field: dict[str, Any],
    book_side: str,
    yes_price: str,
) -> None:
    body = {"ticker": open_market(sim), "side": side, "action": action, "count_fp": "1.00", **price_field}
    status, answer = await Client(sim, session).request("POST", "/portfolio/orders", body=body)
    assert status == 201, answer
    assert (answer["order"]["book_side"], answer["order"]["yes_price_dollars"]) == (book_side, yes_price)


# ---------------------------------------------------------------------------------------------
# Fuzzed bodies never produce a 500


JSON_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**12), 10**12), st.floats(allow_nan=False), st.text(max_size=12)
)
ORDER_FIELDS = ["ticker", "side", "action", "count", "count_fp", "price", "yes_price", "no_price_dollars"]
ORDER_FIELDS += [
    "time_in_force",
    "self_trade_prevention_type",
    "client_order_id",
    "post_only",
    "expiration_time",
]
ORDER_FIELDS += ["reduce_by", "reduce_to", "orders", "ids", "subaccount", "exchange_index", "amount"]
BODIES = st.one_of(
    st.dictionaries(
        st.sampled_from(ORDER_FIELDS), JSON_SCALARS | st.lists(JSON_SCALARS, max_size=3), max_size=8
    ),
    st.lists(JSON_SCALARS, max_size=3),
    JSON_SCALARS,
)
WRITE_PATHS = [
    "/portfolio/events/orders",
    "/portfolio/events/orders/batched",
    "/portfolio/events/orders/x/amend",
    "/portfolio/events/orders/x/decrease",
    "/portfolio/orders",
    "/portfolio/orders/batched",
    "/portfolio/orders/x/amend",
    "/portfolio/orders/x/decrease",
    "/portfolio/intra_exchange_instance_transfer",
]


@pytest.fixture(scope="module")
def threaded_sim() -> Iterator[tuple[SimHarness, httpx.Client, Signer, str]]:
    with ThreadedSimHarness(exchange=quiet_exchange()) as harness, httpx.Client(timeout=10) as client:
        yield harness, client, harness.signer(), open_market(harness)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(WRITE_PATHS), body=BODIES, ticker_valid=st.booleans())
def test_fuzzed_order_bodies_get_4xx_never_5xx(
    threaded_sim: tuple[SimHarness, httpx.Client, Signer, str], path: str, body: Any, ticker_valid: bool
) -> None:
    sim, client, signer, ticker = threaded_sim
    if ticker_valid and isinstance(body, dict) and "ticker" in body:
        body["ticker"] = ticker
    headers = {**signer.headers("POST", API + path), "Content-Type": "application/json"}
    response = client.post(sim.rest_url + path, content=json.dumps(body).encode(), headers=headers)
    assert response.status_code < 500, response.text
    assert isinstance(response.json(), dict)
