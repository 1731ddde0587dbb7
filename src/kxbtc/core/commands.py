"""What the trading core asks its driver to do. The driver (live engine, in-process simulator, replay)
carries each command to the venue and feeds the answers back as events."""

from __future__ import annotations

from dataclasses import dataclass

from kxbtc.risk.limits import ApprovedOrder


@dataclass(frozen=True, slots=True)
class OutgoingOrder:
    """An approved order with the identity the core gave it (deterministic, so a crash between send and
    answer is resolved by looking the id up, never by sending again)."""

    client_order_id: str
    order: ApprovedOrder
    exchange_index: int | None = None


@dataclass(frozen=True, slots=True)
class PlaceOrders:
    orders: tuple[OutgoingOrder, ...]
    ts_ns: int


@dataclass(frozen=True, slots=True)
class CancelAll:
    reason: str


@dataclass(frozen=True, slots=True)
class OrderRef:
    """One resting order as a venue needs it to cancel it: Kalshi routes a cancel by its market, and the
    store keys its orders by the id we gave them."""

    order_id: str
    ticker: str
    client_order_id: str


@dataclass(frozen=True, slots=True)
class CancelOrders:
    """Cancel these orders (a quote the strategy no longer wants at its price). The venue's answer comes
    back as each order's update (canceled, or executed if it filled first)."""

    orders: tuple[OrderRef, ...]
    reason: str

    @property
    def order_ids(self) -> tuple[str, ...]:
        return tuple(o.order_id for o in self.orders)


@dataclass(frozen=True, slots=True)
class Reconcile:
    """Compare with the venue soon: an answer was lost, a market settled, the stream reconnected."""

    reason: str


@dataclass(frozen=True, slots=True)
class RefreshMarkets:
    """Look for new markets soon (a lifecycle event announced one)."""

    reason: str


Command = PlaceOrders | CancelOrders | CancelAll | Reconcile | RefreshMarkets
