"""Execution router: approved orders to the exchange, and nothing else.

- Only ``OutgoingOrder`` (an order the risk gate approved, with the deterministic ``client_order_id`` the
  trading core gave it and recorded as ``intended`` before the send) can be submitted, so a crash
  between send and answer is resolved on restart by looking the id up instead of sending it again.
- Several orders go out as one batched call (the REST client splits at 20).
- The create response is recorded as the exchange's acknowledgement, never as a fill: positions move only
  on fills (WS ``fill`` and REST reconciliation).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from kxbtc.clock import Clock
from kxbtc.core.commands import OrderRef, OutgoingOrder
from kxbtc.domain.orders import OrderAck
from kxbtc.errors import ExchangeError
from kxbtc.kalshi.rest import KalshiRestClient
from kxbtc.kalshi.rest_messages import CancelRequestItem, CreateOrderRequest, order_request
from kxbtc.kalshi.rest_orders import batch_item_error
from kxbtc.kalshi.rest_transport import StartedWrite
from kxbtc.store.db import SqliteStore
from kxbtc.units import Count, parse_count

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SubmitResult:
    client_order_id: str
    ticker: str
    order_id: str | None
    status: str  # resting | executed | canceled | rejected | unknown
    fill_count: Count
    remaining_count: Count
    error: ExchangeError | None = None


def ack_status(fill_count: int, remaining_count: int) -> str:
    """Order status implied by a create acknowledgement (IOC/FOK remainders are canceled at once)."""
    if remaining_count > 0:
        return "resting"
    return "executed" if fill_count > 0 else "canceled"


def ack_of(order: OutgoingOrder, result: SubmitResult | None) -> OrderAck:
    """The core's view of an answer; an order the router never answered is ``unknown``."""
    if result is None:
        return OrderAck(order.client_order_id, order.order.intent.ticker, None, "unknown", Count(0), Count(0))
    return OrderAck(
        result.client_order_id,
        result.ticker,
        result.order_id,
        result.status,
        result.fill_count,
        result.remaining_count,
        result.error.code if result.error is not None else "",
    )


class ExecutionRouter:
    def __init__(
        self,
        rest: KalshiRestClient,
        store: SqliteStore,
        clock: Clock,
        *,
        exchange_index_for: Callable[[str], int | None],
        self_trade_prevention: str = "taker_at_cross",
    ) -> None:
        self.rest = rest
        self.store = store
        self.clock = clock
        self._exchange_index_for = exchange_index_for
        self._stp = self_trade_prevention
        self.sent = 0
        self.rejected = 0

    def _request(self, out: OutgoingOrder) -> CreateOrderRequest:
        intent = out.order.intent
        return order_request(
            ticker=intent.ticker,
            client_order_id=out.client_order_id,
            side=intent.side,  # type: ignore[arg-type]  # "bid" | "ask", checked by OrderIntent's producers
            price=intent.price,
            count=out.order.count,
            time_in_force=intent.time_in_force,  # type: ignore[arg-type]
            self_trade_prevention_type=self._stp,  # type: ignore[arg-type]
            exchange_index=out.exchange_index,
        )

    def _record_ack(
        self, request: CreateOrderRequest, order_id: str, fill: str, remaining: str
    ) -> SubmitResult:
        fill_count, remaining_count = parse_count(fill), parse_count(remaining)
        status = ack_status(fill_count, remaining_count)
        self.store.update_order(
            request.client_order_id,
            ts_ns=self.clock.time_ns(),
            kind="ack",
            status=status,
            order_id=order_id,
            fill_count=fill_count,
            remaining_count=remaining_count,
        )
        return SubmitResult(
            request.client_order_id, request.ticker, order_id, status, fill_count, remaining_count
        )

    def _record_error(self, request: CreateOrderRequest, error: ExchangeError) -> SubmitResult:
        # A retryable error that survived the client's retries leaves the outcome unknown: the order may
        # have executed. Reconciliation settles it by client_order_id; it is never re-sent blindly.
        status = "unknown" if error.retryable else "rejected"
        self.rejected += status == "rejected"
        self.store.update_order(
            request.client_order_id,
            ts_ns=self.clock.time_ns(),
            kind="error",
            status=status,
            detail=f"{error.status} {error.code}: {error.message}",
        )
        log.warning("order %s on %s %s: %s", request.client_order_id, request.ticker, status, error)
        return SubmitResult(request.client_order_id, request.ticker, None, status, Count(0), Count(0), error)

    def start(self, order: OutgoingOrder) -> StartedWrite | None:
        """Put one order on the wire now, before returning (no await: the loop does not go back to
        reading frames first); pass the result to ``submit``. None: ``submit`` sends it the usual way
        (no idle kept-alive connection or fresh signature at hand)."""
        return self.rest.start_create(self._request(order))

    async def submit(
        self, orders: Sequence[OutgoingOrder], started: StartedWrite | None = None
    ) -> list[SubmitResult]:
        """Send orders the core approved and recorded as intended; their acknowledgements, in order.
        ``started``: what ``start`` wrote for them."""
        if not orders:
            return []
        requests = [self._request(o) for o in orders]
        self.sent += len(requests)
        if len(requests) == 1:
            [request] = requests
            try:
                ack = await self.rest.create_order(request, started=started, send_by_ns=_send_by(orders))
            except ExchangeError as exc:
                return [self._record_error(request, exc)]
            return [self._record_ack(request, ack.order_id, ack.fill_count, ack.remaining_count)]
        try:
            items = await self.rest.batch_create_orders(requests, send_by_ns=_send_by(orders))
        except ExchangeError as exc:
            return [self._record_error(r, exc) for r in requests]
        results: list[SubmitResult] = []
        for request, item in zip(requests, items, strict=True):
            error = batch_item_error(item)
            if error is not None or item.order_id is None:
                results.append(
                    self._record_error(request, error or ExchangeError("no order id", code="missing"))
                )
            else:
                results.append(
                    self._record_ack(
                        request, item.order_id, item.fill_count or "0.00", item.remaining_count or "0.00"
                    )
                )
        return results

    async def cancel(self, orders: Sequence[OrderRef], reason: str) -> int:
        """Cancel these orders by id (one batched call, each routed by its market); each one's new status
        goes to the store. An order gone already (filled, cancelled) is a per-item not-found: its own
        update says what became of it. Returns how many were canceled."""
        if not orders:
            return 0
        items = await self.rest.batch_cancel_orders(
            [
                CancelRequestItem(
                    order_id=o.order_id,
                    market_ticker=o.ticker,
                    exchange_index=self._exchange_index_for(o.ticker),
                )
                for o in orders
            ],
            not_found_ok=True,
        )
        canceled = 0
        now = self.clock.time_ns()
        for order, item in zip(orders, items, strict=True):
            error = batch_item_error(item)
            canceled += error is None
            status, detail = ("canceled", reason) if error is None else (None, f"cancel failed: {error}")
            self.store.update_order(
                order.client_order_id,
                ts_ns=now,
                kind="cancel",
                status=status,
                order_id=order.order_id,
                detail=detail,
            )
        log.info("canceled %d of %d orders: %s", canceled, len(orders), reason)
        return canceled

    async def cancel_all(self, reason: str) -> int:
        """Cancel every order the exchange shows resting for us; returns how many were canceled."""
        resting = [o async for o in self.rest.iter_orders(status="resting")]
        if not resting:
            return 0
        cancels = [
            CancelRequestItem(
                order_id=o.order_id,
                market_ticker=o.ticker,
                exchange_index=o.exchange_index
                if o.exchange_index is not None
                else self._exchange_index_for(o.ticker),
            )
            for o in resting
        ]
        items = await self.rest.batch_cancel_orders(cancels)
        canceled = 0
        now = self.clock.time_ns()
        for order, item in zip(resting, items, strict=True):
            error = batch_item_error(item)
            if error is None:
                canceled += 1
            if order.client_order_id:
                status, detail = ("canceled", reason) if error is None else (None, f"cancel failed: {error}")
                self.store.update_order(
                    order.client_order_id, ts_ns=now, kind="cancel_all", status=status, detail=detail
                )
        log.warning("canceled %d resting orders: %s", canceled, reason)
        return canceled


def _send_by(orders: Sequence[OutgoingOrder]) -> int | None:
    """The earliest of the orders' send deadlines (``ApprovedOrder.send_by_ns``), None if none has one."""
    deadlines = [o.order.send_by_ns for o in orders if o.order.send_by_ns is not None]
    return min(deadlines) if deadlines else None
