"""``SimSession`` carries the core's ``CancelOrders`` to the simulator's exchange, and the order's update
comes back to the core across the modelled network."""

from __future__ import annotations

from pathlib import Path

from kxbtc.clock import NS_PER_S
from kxbtc.config import Config
from kxbtc.core.commands import CancelOrders, OrderRef
from kxbtc.domain.orders import OrderIntent
from kxbtc.risk.limits import ApprovedOrder
from kxbtc.session.runner import SimSession
from kxbtc.store.db import SqliteStore
from kxbtc.units import Count, Money, Price


def test_a_cancel_by_order_id_reaches_the_exchange_and_its_update_the_core(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "session.db")
    session = SimSession(Config(strategies={}), store=store, seed=3)
    start = session.clock.time_ns()
    session.run_until(start + 3 * NS_PER_S)  # markets are listed
    ticker = sorted(session.core.instruments)[0]
    core = session.core
    # A bid far below the market, good till canceled: it rests.
    intent = OrderIntent(ticker, "bid", Price(100), Count(500), "test", "rest", "good_till_canceled")
    core.send([ApprovedOrder(intent, Count(500), Money(5_000_000))], session.clock.time_ns())
    [place] = core.take_commands()
    session._to_venue(place, session.clock.time_ns())
    session.run_until(session.clock.time_ns() + NS_PER_S)  # sent, acknowledged
    [order] = [o for o in session.exchange.orders.values() if o.user_id == session.user_id and o.is_live]
    assert len(core.orders.resting) == 1 and order.client_order_id is not None
    cancel = CancelOrders((OrderRef(order.order_id, ticker, order.client_order_id),), "test")
    session._to_venue(cancel, session.clock.time_ns())
    session.run_until(session.clock.time_ns() + NS_PER_S)
    assert session.counts.cancels == 1 and not order.is_live
    assert len(core.orders.resting) == 0  # the canceled update came back to the core
    session._to_venue(cancel, session.clock.time_ns())  # a second cancel of the same order: nothing
    session.run_until(session.clock.time_ns() + NS_PER_S)
    assert session.counts.cancels == 1
    store.close()
