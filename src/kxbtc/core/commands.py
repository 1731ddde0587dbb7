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
class Reconcile:
    """Compare with the venue soon: an answer was lost, a market settled, the stream reconnected."""

    reason: str


@dataclass(frozen=True, slots=True)
class RefreshMarkets:
    """Look for new markets soon (a lifecycle event announced one)."""

    reason: str


Command = PlaceOrders | CancelAll | Reconcile | RefreshMarkets
