"""The simulator's ``delay_ms`` delays a REST answer after the request executed, as a network does: an
order's WebSocket update can reach the client before the answer to the request that placed it, a race
every client of the real exchange must handle."""

from __future__ import annotations

import asyncio
import json

import aiohttp
from test_sim_server import Client, open_market, order

from kxbtc.bench.soak import START_NS
from kxbtc.clock import LoopClock
from kxbtc.sim.exchange import Exchange
from kxbtc.sim.faults import FaultSpec
from kxbtc.sim.harness import SimHarness
from kxbtc.sim.server import ServerConfig
from kxbtc.virtual_loop import run_virtual


def _update_before_answer(faults: FaultSpec, orders: int) -> int:
    """Of ``orders`` resting orders placed one after another, how many had their ``user_order`` frame
    arrive before their REST answer (on simulated time: the same on any machine)."""

    async def main() -> int:
        clock = LoopClock(START_NS)
        config = ServerConfig(faults=faults, fault_seed=4, heartbeat_s=60)
        async with (
            aiohttp.ClientSession() as session,
            SimHarness(Exchange(clock, seed=2), config=config, real_clock=clock, step_interval_s=0.25) as sim,
        ):
            client = Client(sim, session)
            ticker = open_market(sim)
            ws = await client.ws()
            await ws.send_json({"id": 1, "cmd": "subscribe", "params": {"channels": ["user_orders"]}})
            seen: set[str] = set()

            async def read() -> None:
                async for message in ws:
                    if message.type == aiohttp.WSMsgType.TEXT:
                        frame = json.loads(message.data)
                        if frame.get("type") == "user_order":
                            seen.add(frame["msg"].get("client_order_id") or "")

            reader = asyncio.ensure_future(read())
            await asyncio.sleep(1.0)  # subscribed
            first = 0
            for i in range(orders):
                coid = f"race-{i}"
                body = {**order(ticker, "bid", "0.0100"), "client_order_id": coid}
                status, _ = await client.request("POST", "/portfolio/events/orders", body=body)
                assert status == 201
                first += coid in seen
                await asyncio.sleep(0.5)  # every update arrived before the next order
            assert len(seen) == orders
            reader.cancel()
            await ws.close()
            return first

    return run_virtual(main())


def test_an_orders_update_can_arrive_before_its_answer() -> None:
    assert _update_before_answer(FaultSpec(delay_ms=100.0), 16) >= 4
    assert _update_before_answer(FaultSpec(), 4) == 0  # no delay: the answer is written first
