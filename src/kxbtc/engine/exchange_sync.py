"""Keeping the core's account equal to the exchange's, which is always the truth: reconciliation of
fills, orders and settlements through REST, the resting-order list, and the balance check."""

from __future__ import annotations

from collections.abc import Callable

from kxbtc.clock import Clock
from kxbtc.core.order_tracker import resting_order
from kxbtc.core.trading_core import TradingCore
from kxbtc.execution.router import ExecutionRouter
from kxbtc.kalshi.reconcile import Reconciler
from kxbtc.kalshi.rest import KalshiRestClient
from kxbtc.store.records import RiskEventRecord
from kxbtc.units import Money, format_usd, parse_count, parse_price

#: A gap between the ledger and the exchange's balance under this (one cent) is rounding, not a fault.
ANCHOR_TOLERANCE = 10_000


class ExchangeSync:
    def __init__(
        self,
        core: TradingCore,
        rest: KalshiRestClient,
        router: ExecutionRouter,
        reconciler: Reconciler,
        clock: Clock,
        on_all_booked: Callable[[], None] | None = None,
    ) -> None:
        self.core = core
        self.rest = rest
        self.router = router
        self.reconciler = reconciler
        self.clock = clock
        self._last_anchor_gap = 0
        self._on_all_booked = on_all_booked

    async def reconcile(self) -> None:
        core = self.core
        sent_before = self.router.sent
        quiet_before = core.orders.quiet()
        report = await self.reconciler.run_once()
        core.stats.fills_repaired += report.fills_added
        core.stats.settlements = len(core.portfolio.settled)
        # An order sent while the exchange was being read, or still in flight when the read began, may
        # have fills the read did not see (it executed after the fills were read).
        if quiet_before and core.orders.quiet() and self.router.sent == sent_before:
            # Every fill the exchange has is now in the ledger: nothing is pending any more.
            core.orders.all_booked()
            if self._on_all_booked is not None:
                self._on_all_booked()
            if report.balance is not None:
                self.check_anchor(report.balance)
            await self.sync_resting(sent_before)

    async def sync_resting(self, sent_before: int) -> None:
        """Replace the resting-order book with the exchange's list (repairs dropped ``user_orders``)."""
        listed = [o async for o in self.rest.iter_orders(status="resting")]
        if not self.core.orders.quiet() or self.router.sent != sent_before:
            return  # an order went out while listing: the list may miss it; the next pass will do
        self.core.orders.resting.replace(
            resting_order(
                o.order_id,
                o.ticker,
                o.book_side,
                parse_price(o.yes_price_dollars),
                parse_count(o.remaining_count_fp),
                self.core.fees_for(o.ticker),
            )
            for o in listed
        )

    async def cancel_leftovers(self) -> None:
        """Cancel the orders an earlier run left resting (the safe default after a crash)."""
        cancelled = await self.router.cancel_all("restart: cancel orders from an earlier run")
        if cancelled:
            detail = f"cancelled {cancelled} resting orders found at start"
            self.core.note(RiskEventRecord(self.clock.time_ns(), "restart_cancel", "info", detail))

    def check_anchor(self, balance: Money) -> None:
        """Equity comes from the ledger (exact to the micro-dollar), anchored once to the balance at
        start. Each quiet reconciliation re-derives the anchor from the exchange's balance; a fill or
        settlement racing the read can disturb one pass, so only a gap seen twice running is reported."""
        account = self.core.account
        gap = account.implied_anchor(balance) - account.anchor
        if abs(gap) > ANCHOR_TOLERANCE and abs(self._last_anchor_gap) > ANCHOR_TOLERANCE:
            self.core.note(
                RiskEventRecord(
                    self.clock.time_ns(),
                    "balance_mismatch",
                    "warning",
                    f"the exchange balance differs from the ledger by {format_usd(gap)}",
                )
            )
        self._last_anchor_gap = gap
