"""Reconciliation against the simulator: fills the stream missed are repaired once, unknown orders are
settled by client_order_id, and positions agree with the exchange afterwards."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kxbtc.clock import NS_PER_S, ScaledClock
from kxbtc.kalshi.discovery import open_contracts
from kxbtc.kalshi.reconcile import Reconciler
from kxbtc.kalshi.rest import KalshiRestClient, client_order_id
from kxbtc.kalshi.rest_messages import order_request
from kxbtc.portfolio import Portfolio
from kxbtc.sim.exchange import Exchange
from kxbtc.sim.harness import SimHarness
from kxbtc.store.db import SqliteStore
from kxbtc.store.records import OrderRecord
from kxbtc.units import Count, Price


async def test_reconcile_repairs_missed_fills_once_and_resolves_unknown_orders(tmp_path: Path) -> None:
    # A fixed start two minutes into a 15-minute window: near a window's end its book can be one-sided.
    clock = ScaledClock(20.0, start_ns=(1_780_315_200 + 120) * NS_PER_S)
    exchange = Exchange(clock, seed=4)
    async with SimHarness(exchange, step_interval_s=0.02) as sim:
        store = SqliteStore(tmp_path / "kxbtc.db")
        portfolio = Portfolio(store)
        async with KalshiRestClient(sim.rest_url, sim.signer(), clock) as rest:
            [window] = [s for s in await open_contracts(rest, "KXBTC15M") if s.is_open_at(clock.time_ns())]
            book = await rest.get_orderbook(window.ticker)
            best_no = max(p for p, _ in book.no_levels())
            # An order the engine sent but whose answer (and WS fill) it never saw.
            sent = client_order_id("reconcile-test", 1)
            now = clock.time_ns()
            store.record_order(
                OrderRecord(
                    sent,
                    window.ticker,
                    "bid",
                    Price(10_000 - best_no),
                    Count(200),
                    "fill_or_kill",
                    "intended",
                    now,
                    now,
                    "test",
                )
            )
            await rest.create_order(
                order_request(
                    ticker=window.ticker,
                    client_order_id=sent,
                    side="bid",
                    price=Price(10_000 - best_no),
                    count=Count(200),
                    time_in_force="fill_or_kill",
                    exchange_index=window.exchange_index,
                )
            )
            # An order recorded as intended a minute ago that never reached the exchange.
            lost = client_order_id("reconcile-test", 2)
            old = now - 60 * NS_PER_S
            store.record_order(
                OrderRecord(
                    lost,
                    window.ticker,
                    "bid",
                    Price(100),
                    Count(100),
                    "good_till_canceled",
                    "intended",
                    old,
                    old,
                    "test",
                )
            )

            reconciler = Reconciler(rest, portfolio, store, clock)
            asked: list[int | None] = []
            iter_fills = rest.iter_fills

            def spy(**filters: Any) -> Any:
                asked.append(filters.get("min_ts"))
                return iter_fills(**filters)

            rest.iter_fills = spy  # type: ignore[method-assign]
            first = await reconciler.run_once()
            second = await reconciler.run_once()
            # Another order whose fill we missed, after the first pass: the later, incremental passes
            # (only fills since the previous pass began, less a margin) still repair it.
            again = client_order_id("reconcile-test", 3)
            deepest_no = min(p for p, _ in (await rest.get_orderbook(window.ticker)).no_levels())
            await rest.create_order(
                order_request(
                    ticker=window.ticker,
                    client_order_id=again,
                    side="bid",
                    price=Price(10_000 - deepest_no),  # crosses every level: fills whatever the book
                    count=Count(100),
                    time_in_force="fill_or_kill",
                    exchange_index=window.exchange_index,
                )
            )
            third = await reconciler.run_once()

        store.flush()
        assert first.fills_added >= 1 and second.fills_added == 0 and third.fills_added >= 1
        # The first pass reads the whole history, the later ones from the previous pass's start on.
        assert asked[0] is None and all(t is not None and t <= clock.time_ns() // NS_PER_S for t in asked[1:])
        assert first.position_mismatches == [] and second.position_mismatches == []
        assert portfolio.position(window.ticker) == 300
        assert {o.client_order_id: o.status for o in store.orders()} == {sent: "executed", lost: "not_placed"}
        exchange_fills = {f.fill_id for f in exchange.accounts.fills[sim.user_id()]}
        assert {f.fill_id for f in store.fills()} == exchange_fills
        assert all(f.source == "rest" for f in store.fills())
        kinds = [e.kind for e in store.risk_events()]
        assert kinds.count("repaired_fill") == len(exchange_fills)
        store.close()
