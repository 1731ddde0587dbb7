"""Live Polymarket order entry through the official SDK against the simulated venue on 127.0.0.1.

The orders, the sign-in and the answers are the SDK's own (``AsyncSecureClient`` builds, signs and posts
them; ``SignedOrder`` and ``OrderResponse`` are its models): nothing here is a hand-written payload.
The simulated venue checks them the way the exchange does (``kxbtc.sim.poly_auth``): a tampered order,
an order signed by a key that does not own the wallet, an EOA order from a deposit-wallet account and a
bad HMAC are refused with Polymarket's ``{"error": ...}`` answers.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx2
import pytest
from eth_account import Account
from polymarket import AsyncSecureClient
from polymarket._internal.environment import PRODUCTION_CONFIG
from polymarket._internal.wallet import derive_beacon_deposit_wallet_address
from polymarket.errors import RequestRejectedError
from polymarket.models.clob.order_response import AcceptedOrder

from kxbtc.clock import NS_PER_S, ManualClock, SystemClock
from kxbtc.config import PolymarketConfig
from kxbtc.errors import RejectedError
from kxbtc.polymarket.cli import account_record
from kxbtc.polymarket.sdk_venue import LiveVenueSettings, SdkPolymarketVenue, sdk_environment
from kxbtc.sim.exchange import Exchange, SimConfig
from kxbtc.sim.harness import SimHarness
from kxbtc.sim.poly_orders import PolyOrderEntry
from kxbtc.sim.poly_windows import PolyWindow
from kxbtc.units import Price

START_S = 1_780_315_260  # a minute into a quarter hour
#: Throwaway keys made up for these tests.
OWNER_KEY = "0x" + "1b" * 32
OTHER_KEY = "0x" + "2c" * 32
OWNER = Account.from_key(OWNER_KEY).address
WALLET = derive_beacon_deposit_wallet_address(OWNER, PRODUCTION_CONFIG.wallet_derivation)


@dataclass
class Venue:
    sim: SimHarness
    clock: ManualClock
    entry: PolyOrderEntry
    window: PolyWindow

    def settings(self, key: str = OWNER_KEY, wallet: str | None = None) -> LiveVenueSettings:
        url = self.sim.poly_http_url
        return LiveVenueSettings(key, clob_url=url, gamma_url=url, relayer_url=url, wallet=wallet)

    def best_ask(self, token: str) -> Price:
        book = self.sim.poly.book(token) if self.sim.poly is not None else None
        assert book is not None and book.best_ask() is not None
        ask = book.best_ask()
        assert ask is not None
        return ask


@pytest.fixture
async def venue() -> AsyncIterator[Venue]:
    clock = ManualClock(START_S * NS_PER_S)
    exchange = Exchange(clock, seed=5, config=SimConfig(series=("KXBTC15M",)))
    async with SimHarness(exchange, polymarket=True, step_interval_s=0) as sim:
        assert sim.poly is not None and sim.poly_server is not None and sim.poly_server.orders is not None
        clock.advance(2.0)  # two simulated seconds: the makers have quoted
        sim.poly.step()
        entry = sim.poly_server.orders
        entry.auth.register_wallet(OWNER, WALLET)
        window = next(w for w in sim.poly.windows.values() if w.start_s <= START_S < w.end_s)
        yield Venue(sim, clock, entry, window)


async def test_an_sdk_signed_fok_buy_fills_from_the_deposit_wallet(venue: Venue) -> None:
    live = await SdkPolymarketVenue.connect(venue.settings())
    try:
        token = venue.window.up_token
        ask = venue.best_ask(token)
        result = await live.place_fok(token, "BUY", ask, 500)
    finally:
        await live.aclose()
    assert live.wallet == WALLET
    assert result.status == "filled" and result.filled == 500 and result.order_id
    assert result.notional == ask * 500 and result.fee > 0
    [order] = venue.entry.orders
    assert (order.maker, order.signature_type, order.order_type, order.status) == (
        WALLET,
        3,
        "FOK",
        "matched",
    )


async def test_a_fok_the_venue_kills_comes_back_killed_with_the_exchange_reason(venue: Venue) -> None:
    venue.entry.faults.kill_next = 1
    live = await SdkPolymarketVenue.connect(venue.settings())
    try:
        token = venue.window.down_token
        result = await live.place_fok(token, "BUY", venue.best_ask(token), 500)
    finally:
        await live.aclose()
    assert result.status == "killed" and result.filled == 0
    assert result.reason.startswith("fok_not_filled")


async def test_a_tampered_order_is_refused_as_an_invalid_signature(venue: Venue) -> None:
    client = await AsyncSecureClient.create(
        private_key=OWNER_KEY, environment=sdk_environment(venue.settings())
    )
    try:
        token = venue.window.up_token
        signed = await client.create_limit_order(
            token_id=token, price=str(venue.best_ask(token) / 10_000), size=5, side="BUY"
        )
        ok = await client.post_order(dataclasses.replace(signed, order_type="FOK"))
        assert isinstance(ok, AcceptedOrder)
        # Twice the shares for the same signature: what an attacker or a bug would send.
        tampered = dataclasses.replace(signed, taker_amount=signed.taker_amount * 2, order_type="FOK")
        with pytest.raises(RequestRejectedError) as caught:
            await client.post_order(tampered)
    finally:
        await client.close()
    assert caught.value.status == 400 and "invalid signature" in str(caught.value)
    assert [o.status for o in venue.entry.orders] == ["matched"]  # the tampered one never reached the book


async def test_a_key_that_does_not_own_the_wallet_cannot_sign_for_it(venue: Venue) -> None:
    other = await SdkPolymarketVenue.connect(venue.settings(OTHER_KEY, wallet=WALLET))
    try:
        token = venue.window.up_token
        with pytest.raises(RejectedError) as caught:
            await other.place_fok(token, "BUY", venue.best_ask(token), 500)
    finally:
        await other.aclose()
    assert caught.value.status == 400
    assert "has to be the address of the API KEY" in caught.value.message
    assert not venue.entry.orders


async def test_a_deposit_wallet_account_cannot_post_eoa_orders(venue: Venue) -> None:
    eoa = await SdkPolymarketVenue.connect(venue.settings(wallet=OWNER))
    try:
        token = venue.window.up_token
        with pytest.raises(RejectedError, match="please use the deposit wallet flow"):
            await eoa.place_fok(token, "BUY", venue.best_ask(token), 500)
    finally:
        await eoa.aclose()


async def test_a_bad_hmac_is_refused_and_close_only_is_reported(venue: Venue) -> None:
    live = await SdkPolymarketVenue.connect(venue.settings())
    try:
        assert await live.closed_only() is False
        venue.entry.faults.closed_only = True
        assert await live.closed_only() is True
    finally:
        await live.aclose()
    [creds] = venue.entry.auth.keys.values()
    headers = {
        "POLY_ADDRESS": creds.address,
        "POLY_API_KEY": creds.key,
        "POLY_PASSPHRASE": creds.passphrase,
        "POLY_TIMESTAMP": "1",
        "POLY_SIGNATURE": "bm90LWEtc2lnbmF0dXJl",
    }
    async with httpx2.AsyncClient(base_url=venue.sim.poly_http_url) as http:
        answer = await http.get("/auth/api-keys", headers=headers)
    assert answer.status_code == 401 and "error" in answer.json()


async def test_poly_account_reports_the_wallet_or_why_orders_are_off(venue: Venue) -> None:
    url = venue.sim.poly_http_url
    cfg = PolymarketConfig(clob_url=url, gamma_url=url, relayer_url=url, geoblock_url=url)
    clock = SystemClock()
    allowed = await account_record(cfg, clock, {cfg.private_key_env: OWNER_KEY})
    assert allowed["orders_allowed"] and allowed["wallet"] == WALLET and allowed["read_only"] is None
    no_key = await account_record(cfg, clock, {})
    assert not no_key["orders_allowed"] and cfg.private_key_env in no_key["read_only"]
    venue.entry.faults.blocked, venue.entry.faults.country = True, "FR"
    blocked = await account_record(cfg, clock, {cfg.private_key_env: OWNER_KEY})
    assert blocked["geoblock"]["blocked"] and "FR" in blocked["read_only"]


async def test_a_delayed_order_is_read_back_until_it_is_matched(venue: Venue) -> None:
    venue.entry.faults.delay_next = 1
    live = await SdkPolymarketVenue.connect(venue.settings())
    live.delayed_poll_s = 0.0  # the reads need no wait against the simulator
    try:
        token = venue.window.up_token
        ask = venue.best_ask(token)
        result = await live.place_fok(token, "BUY", ask, 500)
    finally:
        await live.aclose()
    assert result.status == "filled" and result.filled == 500 and result.notional == ask * 500
    [order] = venue.entry.orders
    assert order.status == "matched" and result.order_id == order.order_id
