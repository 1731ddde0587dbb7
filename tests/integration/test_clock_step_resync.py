"""After the local clock steps, a 401 ``header_timestamp_expired`` re-syncs the clock at once and the
request is repeated once (issue 15): orders and cancels keep working without waiting for the scheduled
re-sync, and without the hook the exchange's refusal reaches the caller typed."""

from __future__ import annotations

import httpx2
import pytest

from kxbtc.clock import NS_PER_S, OffsetClock, SystemClock
from kxbtc.errors import AuthError
from kxbtc.kalshi.auth import Signer
from kxbtc.kalshi.rest import KalshiRestClient
from kxbtc.kalshi.rest_messages import order_request
from kxbtc.kalshi.ws import KalshiWsClient
from kxbtc.sim.exchange import Exchange, SimConfig
from kxbtc.sim.harness import SimHarness
from kxbtc.timesync import ClockSync, SkewGuard
from kxbtc.units import Count, Price


def _open_market(sim: SimHarness) -> tuple[str, int]:
    markets = [m for m in sim.exchange.markets.values() if m.is_trading]
    market = max(markets, key=lambda m: m.close_ns)
    return market.ticker, market.exchange_index


async def _synced_signer(sim: SimHarness) -> tuple[OffsetClock, ClockSync, Signer, list[str]]:
    """The machine's clock (which the test steps), synced to the exchange's ``Date`` header (no NTP), a
    signer on the synced clock, and the ``Date`` headers fetched so far (one per sync)."""
    dates: list[str] = []

    async def fetch_date() -> str:
        async with httpx2.AsyncClient() as http:
            dates.append((await http.get(sim.rest_url + "/exchange/status")).headers["date"])
        return dates[-1]

    local = OffsetClock(SystemClock())
    sync = ClockSync(local, ntp_servers=(), fetch_date=fetch_date, guard=SkewGuard(2_000, clock=local))
    await sync.sync()
    return local, sync, Signer(sim.key.key_id, sim.key.private_key_pem, sync.clock, sync.guard), dates


async def test_a_stepped_clock_is_resynced_on_the_first_refusal_and_the_order_goes_through() -> None:
    exchange = Exchange(SystemClock(), seed=3, config=SimConfig(counterparties=False))
    async with SimHarness(exchange) as sim:
        local, sync, signer, dates = await _synced_signer(sim)
        ticker, shard = _open_market(sim)
        local.offset_ns -= 45 * NS_PER_S  # the local clock steps back 45 s
        async with KalshiRestClient(sim.rest_url, signer, SystemClock()) as plain:
            with pytest.raises(AuthError) as refused:
                await plain.get_balance()
            assert refused.value.code == "header_timestamp_expired"
        async with KalshiRestClient(
            sim.rest_url, signer, SystemClock(), on_clock_rejected=sync.resync
        ) as rest:
            order = order_request(
                ticker=ticker,
                client_order_id="after-step",
                side="bid",
                price=Price(100),
                count=Count(100),
                time_in_force="good_till_canceled",
                exchange_index=shard,
            )
            created = await rest.create_order(order)
            assert len(dates) == 2  # the start-up sync and one re-sync
            local.offset_ns -= 60 * NS_PER_S  # another step: the cancel (as at shutdown) re-syncs too
            await rest.cancel_order(created.order_id, market_ticker=ticker, exchange_index=shard)
            assert len(dates) == 3
        resting = sim.exchange.orders_page(sim.user_id(), status="resting", limit=10).items
        assert resting == []


async def test_a_websocket_handshake_refused_for_its_timestamp_resyncs_and_connects() -> None:
    exchange = Exchange(SystemClock(), seed=3, config=SimConfig(counterparties=False))
    async with SimHarness(exchange) as sim:
        local, sync, signer, dates = await _synced_signer(sim)
        local.offset_ns -= 45 * NS_PER_S
        client = KalshiWsClient(
            sim.ws_url,
            signer,
            SystemClock(),
            backoff_initial=0.01,
            backoff_max=0.05,
            on_clock_rejected=sync.resync,
        )
        client.start()
        try:
            await client.wait_connected(timeout_s=10)
        finally:
            await client.close()
        assert client.stats.connect_failures == 1 and len(dates) == 2
