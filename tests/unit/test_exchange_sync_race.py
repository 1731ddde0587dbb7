"""A reconciliation may declare every fill booked only if no order of ours was in flight while it read
the exchange: an order still unanswered when the read began can execute after the fills were read, and
clearing its unbooked fill would unblock its market with a stale position (an order meant to close could
then open a position inside the final-minute freeze; seen once in a soak)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from kxbtc.core.commands import OutgoingOrder
from kxbtc.core.order_tracker import OrderTracker
from kxbtc.domain.orders import OrderAck, OrderIntent
from kxbtc.engine.exchange_sync import ExchangeSync
from kxbtc.pricing.fees import BTC_DEFAULT_FEES
from kxbtc.risk.limits import ApprovedOrder
from kxbtc.units import Count, Money, Price

TICKER = "KXBTC15M-26JUN110015-15"


def _sync(orders: OrderTracker, during_read: Any) -> ExchangeSync:
    async def run_once() -> Any:
        during_read()
        return SimpleNamespace(fills_added=0, balance=None)

    async def no_orders(**_: Any) -> Any:
        return
        yield

    core = SimpleNamespace(
        orders=orders,
        stats=SimpleNamespace(fills_repaired=0, settlements=0),
        portfolio=SimpleNamespace(settled=[]),
    )
    rest = SimpleNamespace(iter_orders=no_orders)
    router = SimpleNamespace(sent=orders.sent)
    reconciler = SimpleNamespace(run_once=run_once)
    return ExchangeSync(core, rest, router, reconciler, clock=None)  # type: ignore[arg-type]


async def test_an_order_in_flight_when_the_read_began_keeps_its_fill_pending() -> None:
    orders = OrderTracker("run")
    intent = OrderIntent(TICKER, "ask", Price(4000), Count(200), "fair_value", "close")
    out = OutgoingOrder("cid-1", ApprovedOrder(intent, Count(200), Money(1_000_000)))
    orders.sending([out])

    def answered_with_a_fill() -> None:  # executed after the fills were read; its WS fill not yet here
        orders.acknowledged(
            OrderAck("cid-1", TICKER, "oid-1", "executed", Count(200), Count(0)), BTC_DEFAULT_FEES
        )

    await _sync(orders, answered_with_a_fill).reconcile()
    assert orders.blocked(TICKER)  # still waiting for that fill: no new order on this market yet
    orders.fill_booked("oid-1", 200)
    assert not orders.blocked(TICKER)


async def test_a_read_with_nothing_in_flight_books_everything() -> None:
    orders = OrderTracker("run")
    intent = OrderIntent(TICKER, "ask", Price(4000), Count(200), "fair_value", "close")
    orders.sending([OutgoingOrder("cid-1", ApprovedOrder(intent, Count(200), Money(1_000_000)))])
    orders.acknowledged(
        OrderAck("cid-1", TICKER, "oid-1", "executed", Count(200), Count(0)), BTC_DEFAULT_FEES
    )
    assert orders.blocked(TICKER)
    await _sync(orders, lambda: None).reconcile()
    assert not orders.blocked(TICKER) and orders.pending_risk == 0


async def test_an_order_of_unknown_outcome_holds_its_market_until_a_reconciliation_books_everything() -> None:
    """Its answer lost, the order may have executed: a closing order decided on the old position could
    open one at the exchange. The market waits, and the order's worst case still counts, until a quiet
    reconciliation has booked every fill the exchange has."""
    orders = OrderTracker("run")
    intent = OrderIntent(TICKER, "ask", Price(4000), Count(200), "fair_value", "close")
    orders.sending([OutgoingOrder("cid-1", ApprovedOrder(intent, Count(200), Money(1_000_000)))])
    orders.acknowledged(OrderAck("cid-1", TICKER, None, "unknown", Count(0), Count(0)), BTC_DEFAULT_FEES)
    assert orders.quiet()  # nothing in flight: a reconciliation can settle it
    assert orders.blocked(TICKER) and orders.pending_risk == 1_000_000
    assert not orders.blocked("KXBTC15M-26JUN110030-30")  # other markets trade on
    await _sync(orders, lambda: None).reconcile()
    assert not orders.blocked(TICKER) and orders.pending_risk == 0
