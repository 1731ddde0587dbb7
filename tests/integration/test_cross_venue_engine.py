"""The cross-venue pair end to end: the engine against the in-process Kalshi simulator and the Polymarket
stub on 127.0.0.1, with ``[polymarket] enabled`` and ``[strategies.cross_venue]`` on.

The stub lists ``btc-updown-15m-<start>`` for the simulator's current KXBTC15M window, with a Down ask
cheap enough that Kalshi YES + Polymarket Down has a wide edge after both fees (the simulator's YES ask
sits near 0.40 at the fixed start: about 0.40 + 0.10 + fees against $1 per pair). The Kalshi leg must go
through the engine's risk gate and reach the exchange; the Polymarket leg must follow only for what
Kalshi filled; a Polymarket leg that is killed must leave an ``unhedged_leg`` risk event. Everything runs
on virtual time (``engine_harness``), so the Kalshi book cannot move between a decision and its order just
because the machine is slow.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from engine_harness import until, virtual_engine, virtual_sim
from poly_stub import PolyStub, StubBook

from kxbtc.clock import NS_PER_S, LoopClock, now_ms
from kxbtc.config import Config, PolymarketConfig, RiskConfig, StrategyConfig
from kxbtc.engine.core import Engine
from kxbtc.polymarket.venue import PaperPolymarketVenue, PolyOrderResult
from kxbtc.sim.exchange import Exchange, SimConfig
from kxbtc.store.db import SqliteStore
from kxbtc.units import Count, Price
from kxbtc.virtual_loop import run_virtual

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "polymarket"
WINDOW_START = 1_780_315_200  # 2026-06-01 12:00:00 UTC, a quarter-hour boundary
SLUG = f"btc-updown-15m-{WINDOW_START}"
UP = "71321045679252212594626385532706912750332728571942532289631379312455583992563"
DOWN = "52114319501245915516055106046884209969926127482827954674443846427813813222426"
DOWN_ASK = 1_000  # $0.10
DOWN_ASK_SIZE = 1_000  # 10 shares
#: Simulated seconds the engine gets to reach the outcome (it takes a few).
TIMEOUT_S = 200.0


def _iso(unix_s: int) -> str:
    return datetime.fromtimestamp(unix_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def window_event() -> dict[str, Any]:
    """The fixture's Gamma event moved to the simulator's window."""
    event: dict[str, Any] = json.loads((FIXTURES / "gamma_event_btc15m.json").read_text())[0]
    end = _iso(WINDOW_START + 900)
    event.update(slug=SLUG, ticker=SLUG, endDate=end)
    event["markets"][0].update(slug=SLUG, endDate=end, eventStartTime=_iso(WINDOW_START))
    return event


def config_for(stub: PolyStub, *, max_leg_loss: Decimal = Decimal("0.03")) -> Config:
    return Config(
        # Limits far from binding: this is about the pairing, not the gate's edges.
        risk=RiskConfig(daily_loss_pct=50.0, max_drawdown_pct=50.0, per_strike_pct=50.0),
        strategies={"cross_venue": StrategyConfig()},
        polymarket=PolymarketConfig(
            enabled=True,
            gamma_url=stub.http_url,
            clob_url=stub.http_url,
            ws_url=stub.ws_url,
            max_pair_contracts=Decimal(10),
            # The stub's books change only when the test says so; their age must not stop the pair.
            max_book_age_s=600.0,
            max_leg_loss=max_leg_loss,
        ),
    )


class EmptyingVenue(PaperPolymarketVenue):
    """The paper venue, but the Polymarket ask is taken by someone else just before our leg arrives:
    the stub removes the level and publishes it, and the order waits until the local book shows that."""

    def __init__(self, base: PaperPolymarketVenue, stub: PolyStub) -> None:
        super().__init__(base.books, fee_rates=base.fee_rates)
        self.stub = stub

    async def place_fok(self, token: str, side: str, price: Price, size: Count) -> PolyOrderResult:
        for level in sorted(self.stub.books[token].asks):
            await self.stub.price_change(token, "SELL", level, 0)
        for _ in range(1_000):
            book = self.books.get(token)
            if book is not None and book.best_ask() is None:
                break
            await asyncio.sleep(0.005)
        return await super().place_fok(token, side, price, size)


@dataclass(slots=True)
class PairRun:
    engine: Engine
    exchange: Exchange
    user_id: str
    db_path: Path
    venue: PaperPolymarketVenue


def run_until(tmp_path: Path, done: Callable[[Engine], bool], *, emptying: bool = False) -> PairRun:
    """Run the engine on virtual time until ``done`` holds, then shut it down cleanly."""
    return run_virtual(_run_until(tmp_path, done, emptying))


async def _run_until(tmp_path: Path, done: Callable[[Engine], bool], emptying: bool) -> PairRun:
    clock = LoopClock((WINDOW_START + 30) * NS_PER_S)
    stub = PolyStub(lambda: now_ms(clock))
    stub.events[SLUG] = window_event()
    stub.books[UP] = StubBook(bids={9_400: 5_000}, asks={9_500: 5_000})
    stub.books[DOWN] = StubBook(bids={500: 5_000}, asks={DOWN_ASK: DOWN_ASK_SIZE})
    exchange = Exchange(clock, seed=7, config=SimConfig(series=("KXBTC15M",)))
    db_path = tmp_path / "kxbtc.db"
    store = SqliteStore(db_path)
    await stub.start()
    try:
        async with (
            virtual_sim(exchange, step_interval_s=0.02) as sim,
            # Emptying: no room to repair (a zero bound), so a failed leg stays unhedged.
            virtual_engine(
                config_for(stub, max_leg_loss=Decimal(0) if emptying else Decimal("0.03")),
                sim,
                store,
                clock,
                strategies=[],
            ) as engine,
        ):
            desk = engine.desk
            assert desk is not None and desk.trading
            assert isinstance(desk.venue, PaperPolymarketVenue)
            if emptying:
                desk.venue = EmptyingVenue(desk.venue, stub)
            venue = desk.venue
            stop = asyncio.Event()
            running = asyncio.create_task(engine.run(stop=stop))
            await until(lambda: done(engine) or running.done(), clock, timeout_s=TIMEOUT_S)
            stop.set()
            await running
            user_id = sim.user_id()
    finally:
        await stub.stop()
    store.flush()
    store.close()
    return PairRun(engine, exchange, user_id, db_path, venue)


def _rows(db_path: Path, sql: str) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(db_path)) as db:
        return db.execute(sql).fetchall()


def kalshi_fills_by_order(run: PairRun) -> dict[str, int]:
    """Our fills as the exchange recorded them: order id -> contracts filled (Count)."""
    out: dict[str, int] = {}
    for fill in run.exchange.accounts.fills.get(run.user_id, []):
        out[fill.order_id] = out.get(fill.order_id, 0) + fill.count
    return out


def _filled_pair(engine: Engine) -> bool:
    desk = engine.desk
    return desk is not None and any(leg.status == "filled" for leg in desk.legs)


def _unhedged(engine: Engine) -> bool:
    return any(e.kind == "unhedged_leg" for e in engine.stats.risk_events)


def test_the_kalshi_leg_fills_through_the_gate_and_the_polymarket_leg_hedges_what_filled(
    tmp_path: Path,
) -> None:
    run = run_until(tmp_path, _filled_pair)
    desk = run.engine.desk
    assert desk is not None
    assert desk.windows.get(WINDOW_START) is not None, "the Polymarket window was not discovered"
    legs = desk.legs
    filled_legs = [leg for leg in legs if leg.status == "filled"]
    assert filled_legs, f"no pair was hedged: {legs}"

    # The Kalshi leg went through the risk gate (recorded as approved) ...
    decisions = _rows(
        run.db_path, "SELECT ticker, inputs, intent FROM decisions WHERE strategy='cross_venue'"
    )
    kalshi_rows = [
        (t, json.loads(i), json.loads(x))
        for t, i, x in decisions
        if not t.startswith(("polymarket:", "pair:"))
    ]
    assert kalshi_rows and all(x["outcome"].startswith("approved") for _, _, x in kalshi_rows)
    assert all(x["tif"] == "fill_or_kill" and x["side"] == "bid" for _, _, x in kalshi_rows)
    assert {i["pairing"] for _, i, _ in kalshi_rows} == {"kalshi_yes+poly_down"}
    # ... and reached the exchange: each hedged Kalshi order has our fills there, of the hedged size.
    on_exchange = kalshi_fills_by_order(run)
    for leg in filled_legs:
        assert leg.kalshi_order_id is not None
        assert on_exchange.get(leg.kalshi_order_id) == leg.kalshi_filled == leg.size
        assert (leg.token, leg.outcome, leg.price) == (DOWN, "Down", DOWN_ASK)
    # The Polymarket legs were sent only for Kalshi orders that filled, each for exactly the filled count.
    assert [(r.token_id, r.side, r.size) for r in run.venue.results] == [
        (DOWN, "BUY", leg.kalshi_filled) for leg in legs
    ]
    filled_orders = _rows(
        run.db_path,
        "SELECT order_id, fill_count FROM orders WHERE strategy='cross_venue' AND fill_count > 0",
    )
    assert sorted(order_id for order_id, _ in filled_orders) == sorted(
        str(leg.kalshi_order_id) for leg in legs
    )
    # The pair cap (10 contracts per market) held on both venues.
    assert sum(leg.size for leg in filled_legs) <= 1_000

    # Both legs are in the store: the Kalshi order and fills, the Polymarket leg placed and filled.
    poly_rows = [(t, json.loads(i), json.loads(x)) for t, i, x in decisions if t.startswith("polymarket:")]
    assert [x["outcome"] for _, _, x in poly_rows] == ["placed", "filled"] * len(filled_legs)
    assert {t for t, _, _ in poly_rows} == {f"polymarket:{SLUG}:Down"}
    kalshi_pair_ids = {i["pair_id"] for _, i, _ in kalshi_rows}
    assert {i["pair_id"] for _, i, _ in poly_rows} <= kalshi_pair_ids
    stored_fills = _rows(run.db_path, "SELECT order_id FROM fills")
    assert {leg.kalshi_order_id for leg in filled_legs} <= {order_id for (order_id,) in stored_fills}
    events = _rows(run.db_path, "SELECT kind, severity FROM risk_events")
    assert ("poly_leg_filled", "info") in events and not [e for e in events if e[0] == "unhedged_leg"]
    assert ("paper_hedge", "warning") in events  # the operator is told the Polymarket leg is paper

    summary = desk.summary()
    assert summary.poly_filled == len(filled_legs) and summary.unhedged == 0 and summary.paper
    assert summary.open_cost == sum(leg.notional + leg.fee for leg in filled_legs) > 0


def test_a_killed_polymarket_leg_leaves_the_kalshi_position_and_an_unhedged_leg_event(
    tmp_path: Path,
) -> None:
    run = run_until(tmp_path, _unhedged, emptying=True)
    desk = run.engine.desk
    assert desk is not None
    [leg] = desk.legs  # one attempt, then no more pairs on that market: nothing chases the price
    assert leg.status == "killed" and leg.size == leg.kalshi_filled > 0
    assert run.venue.results[0].status == "killed"

    [(severity, detail)] = _rows(
        run.db_path, "SELECT severity, detail FROM risk_events WHERE kind='unhedged_leg'"
    )
    assert severity == "warning"
    assert leg.kalshi_ticker in detail and SLUG in detail and "Polymarket BUY Down" in detail
    # The Kalshi position is still held on the exchange: the one sale allowed by a zero bound (at the
    # price paid) could not fill, so nothing else was sold.
    position = run.exchange.accounts.peek_position(run.user_id, 0, leg.kalshi_ticker)
    assert position is not None and position.position == leg.kalshi_filled
    assert kalshi_fills_by_order(run) == {leg.kalshi_order_id: leg.kalshi_filled}
    outcomes = [
        json.loads(x)["outcome"]
        for (x,) in _rows(run.db_path, "SELECT intent FROM decisions WHERE ticker LIKE 'polymarket:%'")
    ]
    assert outcomes == ["placed", "killed"]
    assert desk.summary().unhedged == 1
    [record] = desk.pair_outcomes
    assert record["outcome"] == "unhedged" and not record["repairs"]
    [sale] = record["kalshi_sales"]  # type: ignore[misc]
    assert sale["filled"] == 0 and sale["status"] != "executed"
