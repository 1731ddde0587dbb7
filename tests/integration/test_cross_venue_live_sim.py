"""Both legs of a cross-venue pair sent at once, the Polymarket one through the official SDK's signing path,
against both simulators on 127.0.0.1 and on virtual time; one leg is forced to fail and the pair must end
hedged or unwound inside the configured bound, recorded per pair.

- ``[polymarket] venue = "live"``: the desk passes the simulated geoblock check, signs in with the SDK
  (``AsyncSecureClient``: L1 key derivation, deposit wallet) and posts EIP-712 signed FOK orders the
  simulated venue checks (signature type 3, recovered owner == the API key's address).
- Polymarket fault: the venue kills the first order whatever its book holds (``kill_next = 1``). The
  Kalshi leg fills, so the policy ``hedge`` buys the Polymarket leg again, at most ``max_leg_loss`` worse.
- Kalshi fault: the pair's Kalshi FOK reaches the exchange priced where nothing fills it, and is killed
  there. The Polymarket leg filled, so it is sold back, at most ``max_leg_loss`` below the price paid.
- A geoblocked location: the desk runs read-only and says so in one line.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from engine_harness import on_virtual_time, until, virtual_engine, virtual_sim
from eth_account import Account
from polymarket._internal.environment import PRODUCTION_CONFIG
from polymarket._internal.wallet import derive_beacon_deposit_wallet_address

from kxbtc.clock import NS_PER_S, LoopClock
from kxbtc.config import Config, PolymarketConfig, RiskConfig, StrategyConfig
from kxbtc.core.commands import OutgoingOrder
from kxbtc.engine.core import Engine
from kxbtc.execution.router import SubmitResult
from kxbtc.kalshi.rest_transport import StartedWrite
from kxbtc.sim.exchange import Exchange, SimConfig
from kxbtc.sim.harness import SimHarness
from kxbtc.sim.poly_config import PolySimConfig
from kxbtc.sim.poly_orders import PolyOrderEntry
from kxbtc.store.db import SqliteStore
from kxbtc.units import PRICE_SCALE, Price

WINDOW_START = 1_780_315_200  # 2026-06-01 12:00:00 UTC
TIMEOUT_S = 300.0
KEY_ENV = "KXBTC_TEST_POLY_PRIVATE_KEY"
#: A throwaway key made up for this test (it has never held anything).
PRIVATE_KEY = "0x" + "5a" * 32
OWNER = Account.from_key(PRIVATE_KEY).address
WALLET = derive_beacon_deposit_wallet_address(OWNER, PRODUCTION_CONFIG.wallet_derivation)
MAX_LEG_LOSS = Decimal("0.05")


def config_for(sim: SimHarness, *, policy: str = "hedge") -> Config:
    url = sim.poly_http_url
    return Config(
        risk=RiskConfig(daily_loss_pct=50.0, max_drawdown_pct=50.0, per_strike_pct=50.0),
        strategies={"cross_venue": StrategyConfig()},
        polymarket=PolymarketConfig.model_validate(
            {
                "enabled": True,
                "gamma_url": url,
                "clob_url": url,
                "relayer_url": url,
                "geoblock_url": url,
                "ws_url": sim.poly_ws_url,
                "max_pair_contracts": Decimal(10),
                "venue": "live",
                "private_key_env": KEY_ENV,
                "leg_failure": policy,
                "max_leg_loss": MAX_LEG_LOSS,
                "repair_attempts": 5,
            }
        ),
    )


def orders_of(sim: SimHarness) -> PolyOrderEntry:
    assert sim.poly_server is not None and sim.poly_server.orders is not None
    return sim.poly_server.orders


def _settled(engine: Engine) -> bool:
    desk = engine.desk
    return desk is not None and bool(desk.pair_outcomes)


async def run_pair(
    tmp_path: Path,
    *,
    prepare: Callable[[SimHarness], None],
    patch_engine: Callable[[Engine], None] | None = None,
    policy: str = "hedge",
    done: Callable[[Engine], bool] = _settled,
) -> tuple[Engine, PolyOrderEntry, Path, Callable[[str], int]]:
    clock = LoopClock((WINDOW_START + 60) * NS_PER_S)
    exchange = Exchange(clock, seed=7, config=SimConfig(series=("KXBTC15M",)))
    db_path = tmp_path / "kxbtc.db"
    store = SqliteStore(db_path)
    async with virtual_sim(
        exchange, step_interval_s=0.02, polymarket=True, poly_config=PolySimConfig(mispricing=0.2)
    ) as sim:
        entry = orders_of(sim)
        entry.auth.register_wallet(OWNER, WALLET)
        prepare(sim)
        async with virtual_engine(config_for(sim, policy=policy), sim, store, clock, strategies=[]) as engine:
            if patch_engine is not None:
                patch_engine(engine)
            stop = asyncio.Event()
            running = asyncio.create_task(engine.run(stop=stop))
            desk = engine.desk
            assert desk is not None
            await until(lambda: done(engine) or running.done(), clock, timeout_s=TIMEOUT_S)
            stop.set()
            await running
        user_id = sim.user_id()
    store.flush()
    store.close()

    def held(ticker: str) -> int:  # our position on the exchange (Count; negative: NO)
        position = exchange.accounts.peek_position(user_id, 0, ticker)
        return 0 if position is None else position.position

    return engine, entry, db_path, held


def _rows(db_path: Path, sql: str) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(db_path)) as db:
        return db.execute(sql).fetchall()


def _stored_pair(db_path: Path, pair_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    [(inputs, intent)] = _rows(
        db_path, f"SELECT inputs, intent FROM decisions WHERE ticker = 'pair:{pair_id}'"
    )
    return json.loads(inputs), json.loads(intent)


def _both_legs_in_flight_together(timeline: Sequence[str]) -> bool:
    """Each leg was sent before the other one's answer came back."""
    at = {step: i for i, step in reversed(list(enumerate(timeline)))}
    return at["kalshi_sent"] < at["poly_answered"] and at["poly_sent"] < at["kalshi_answered"]


@on_virtual_time
async def test_a_killed_polymarket_leg_is_hedged_within_the_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, PRIVATE_KEY)

    def kill_first(sim: SimHarness) -> None:
        orders_of(sim).faults.kill_next = 1

    engine, entry, db_path, held = await run_pair(tmp_path, prepare=kill_first)
    desk = engine.desk
    assert desk is not None and desk.read_only is None, desk.read_only
    [record] = desk.pair_outcomes[:1]
    assert record["outcome"] == "hedged", record
    assert _both_legs_in_flight_together(record["timeline"])  # type: ignore[arg-type]

    # Every Polymarket order went through the SDK's signing: deposit wallet, type 3, our API key.
    first, *repairs = [o for o in entry.orders if o.token == record["polymarket"]["token"]]  # type: ignore[index]
    assert first.status == "killed" and repairs and repairs[-1].status == "matched"
    assert {(o.maker, o.signature_type, o.order_type) for o in entry.orders} == {(WALLET, 3, "FOK")}
    quoted = record["polymarket"]["price"]  # type: ignore[index]
    bound = int(MAX_LEG_LOSS * PRICE_SCALE)
    hedge = record["repairs"][-1]  # type: ignore[index]
    assert hedge["status"] == "filled" and quoted < hedge["price"] <= quoted + bound
    # The realized cost (the extra paid against the quote, fees included; negative if the book had
    # moved our way) stays inside the bound.
    count = record["kalshi"]["filled"]  # type: ignore[index]
    assert count > 0 and hedge["filled"] == count
    assert abs(held(record["kalshi"]["ticker"])) == count  # type: ignore[index]  # the paired Kalshi leg
    assert record["realized_cost"] <= bound * count + hedge["fee"]  # type: ignore[operator]

    inputs, intent = _stored_pair(db_path, str(record["pair_id"]))
    assert intent == {"outcome": "hedged", "realized_cost": record["realized_cost"]}
    assert inputs["kalshi"]["status"] == "executed" and inputs["policy"] == "hedge"
    assert ("pair_hedged", "info") in _rows(db_path, "SELECT kind, severity FROM risk_events")


@on_virtual_time
async def test_a_killed_kalshi_leg_unwinds_the_polymarket_leg_within_the_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, PRIVATE_KEY)

    def kill_kalshi_pairs(engine: Engine) -> None:
        """The exchange kills the pair's Kalshi FOK: it is sent priced where nothing can fill it."""
        real_submit = engine.router.submit

        def unfillable(o: OutgoingOrder) -> OutgoingOrder:
            intent = o.order.intent
            if intent.strategy != "cross_venue":
                return o
            price = Price(100 if intent.side == "bid" else PRICE_SCALE - 100)  # $0.01 bid / $0.99 ask
            return replace(o, order=replace(o.order, intent=replace(intent, price=price)))

        real_start = engine.router.start

        def start(order: OutgoingOrder) -> StartedWrite | None:  # the one-send order path
            return real_start(unfillable(order))

        async def submit(
            orders: Sequence[OutgoingOrder], started: StartedWrite | None = None
        ) -> list[SubmitResult]:
            return await real_submit([unfillable(o) for o in orders], started)

        engine.router.start = start  # type: ignore[method-assign]
        engine.router.submit = submit  # type: ignore[method-assign]

    engine, entry, db_path, held = await run_pair(
        tmp_path, prepare=lambda sim: None, patch_engine=kill_kalshi_pairs, policy="unwind"
    )
    desk = engine.desk
    assert desk is not None
    [record] = desk.pair_outcomes[:1]
    assert record["outcome"] == "unwound", record
    assert _both_legs_in_flight_together(record["timeline"])  # type: ignore[arg-type]
    bought, *later = [o for o in entry.orders if o.token == record["polymarket"]["token"]]  # type: ignore[index]
    sales = [o for o in later if o.side == "SELL"]
    assert bought.side == "BUY" and bought.status == "matched"
    assert sales and sales[-1].status == "matched" and sales[-1].count == bought.count
    paid = sum(p * n for p, n in bought.fills) // bought.count
    bound = int(MAX_LEG_LOSS * PRICE_SCALE)
    sale = record["repairs"][-1]  # type: ignore[index]
    assert sale["status"] == "filled" and paid - bound <= sale["price"] <= paid
    # The loss (buy cost and fees minus the sale's proceeds after fees) stays inside the bound plus fees.
    count = bought.count
    fees = sum(r["fee"] for r in record["repairs"]) + 2 * count * PRICE_SCALE // 100  # type: ignore[union-attr]
    assert 0 <= record["realized_cost"] <= bound * count + fees  # type: ignore[operator]
    assert desk.positions[bought.token].shares == 0  # nothing left open on Polymarket ...
    assert held(record["kalshi"]["ticker"]) == 0  # type: ignore[index]  # ... nor on Kalshi

    _, intent = _stored_pair(db_path, str(record["pair_id"]))
    assert intent["outcome"] == "unwound"
    assert ("pair_unwound", "info") in _rows(db_path, "SELECT kind, severity FROM risk_events")


@on_virtual_time
async def test_with_the_unwind_policy_a_lone_kalshi_leg_is_sold_back_within_the_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, PRIVATE_KEY)

    def kill_every_polymarket_order(sim: SimHarness) -> None:
        orders_of(sim).faults.kill_next = 1_000

    engine, _, db_path, held = await run_pair(tmp_path, prepare=kill_every_polymarket_order, policy="unwind")
    desk = engine.desk
    assert desk is not None
    [record] = desk.pair_outcomes[:1]
    assert record["outcome"] == "unwound", record
    assert _both_legs_in_flight_together(record["timeline"])  # type: ignore[arg-type]
    assert not record["repairs"]  # the unwind policy does not chase the Polymarket price
    kalshi = record["kalshi"]
    sales = record["kalshi_sales"]
    assert sales and sales[-1]["filled"] == kalshi["filled"] > 0  # type: ignore[index]
    # The Kalshi sale went through the engine (risk gate, router) and left no position on the exchange.
    bought = kalshi["price"]  # type: ignore[index]
    bound = int(MAX_LEG_LOSS * PRICE_SCALE)
    sold_at = sales[-1]["price"] if sales[-1]["side"] == "ask" else PRICE_SCALE - sales[-1]["price"]  # type: ignore[index]
    assert bought - bound <= sold_at <= bought
    assert record["realized_cost"] == (bought - sold_at) * kalshi["filled"]  # type: ignore[index]
    assert held(kalshi["ticker"]) == 0  # type: ignore[index]
    _, intent = _stored_pair(db_path, str(record["pair_id"]))
    assert intent["outcome"] == "unwound"


@on_virtual_time
async def test_a_geoblocked_location_runs_read_only_and_says_so_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, PRIVATE_KEY)

    def block(sim: SimHarness) -> None:
        faults = orders_of(sim).faults
        faults.blocked, faults.country, faults.region = True, "US", "NY"

    def books_kept(engine: Engine) -> bool:  # read-only still follows the windows and their books
        desk = engine.desk
        return desk is not None and any(desk.windows.values()) and bool(desk.ws.books)

    engine, entry, db_path, _ = await run_pair(tmp_path, prepare=block, done=books_kept)
    desk = engine.desk
    assert desk is not None and not desk.trading
    assert desk.read_only is not None and "US/NY" in desk.read_only
    assert not entry.orders and not desk.pair_outcomes
    [(detail,)] = _rows(db_path, "SELECT detail FROM risk_events WHERE kind = 'poly_read_only'")
    assert "\n" not in detail and detail.startswith("Polymarket is read-only")
