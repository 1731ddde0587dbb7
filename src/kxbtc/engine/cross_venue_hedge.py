"""The cross-venue desk's hedging: once the Kalshi leg's result is back, the Polymarket leg for exactly
what Kalshi filled, or an ``unhedged_leg`` risk event when it cannot be placed or is killed."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Sequence

from kxbtc.engine.cross_venue_ledger import DeskLedger, ProposedPair
from kxbtc.errors import KxbtcError
from kxbtc.execution.router import SubmitResult
from kxbtc.polymarket.venue import FILLED, PolyOrderResult
from kxbtc.risk.limits import ApprovedOrder, OrderIntent
from kxbtc.units import Count, Money, format_contracts, format_price_usd, format_usd

# The records keep the logger name they had when this code lived in ``kxbtc.engine.cross_venue``.
log = logging.getLogger("kxbtc.engine.cross_venue")


class DeskHedging(DeskLedger):
    """The hedging side of ``CrossVenueDesk``."""

    # Set by the desk's constructor.
    _claimed: dict[OrderIntent, ProposedPair]
    _busy: set[str]
    _stopped: set[str]
    _paired: dict[str, int]
    _hedging: int
    _quiet: asyncio.Event

    def hedge(self, approved: Sequence[ApprovedOrder], results: Sequence[SubmitResult]) -> Awaitable[None]:
        """The Polymarket legs for the Kalshi legs among ``results`` (run it as a task)."""
        legs: list[tuple[ProposedPair, SubmitResult]] = []
        for order, result in zip(approved, results, strict=True):
            pair = self._claimed.pop(order.intent, None)
            if pair is not None:
                self._counters.sent[pair.pair_id] = order.count
                legs.append((pair, result))
        self._hedging += 1  # counted now, so ``close`` waits for a task not started yet
        self._quiet.clear()
        return self._hedge_all(legs)

    async def _hedge_all(self, legs: list[tuple[ProposedPair, SubmitResult]]) -> None:
        try:
            for pair, result in legs:
                await self._hedge(pair, result)
        finally:
            for pair, _ in legs:
                self._busy.discard(pair.ticker)
            self._hedging -= 1
            if not self._hedging:
                self._quiet.set()

    async def _hedge(self, pair: ProposedPair, result: SubmitResult) -> None:
        if result.status == "unknown":
            self._unhedged(
                pair, result, None, "the Kalshi leg's outcome is unknown (reconciliation settles it)"
            )
            return
        filled = Count(result.fill_count)
        if filled <= 0:
            return  # the Kalshi FOK was killed or refused: nothing is open, nothing to hedge
        self._counters.kalshi_filled += 1
        self._paired[pair.ticker] = self._paired.get(pair.ticker, 0) + filled
        minimum = pair.market.min_order_size
        if minimum is not None and filled < minimum:
            reason = (
                f"Kalshi filled {format_contracts(filled)}, below Polymarket's minimum"
                f" {format_contracts(minimum)}"
            )
            self._unhedged(pair, result, None, reason)
            return
        self._record_leg(pair, result, "placed", filled)
        try:
            poly = await self.venue.place_fok(pair.poly.token_id, pair.poly.side, pair.poly.price, filled)
        except KxbtcError as exc:
            log.error("cross-venue %s: Polymarket leg failed: %s", pair.pair_id, exc)
            self._finish_leg(
                pair, result, filled, "error", Money(0), Money(0), f"{type(exc).__name__}: {exc}"
            )
            self._unhedged(pair, result, None, f"the Polymarket leg failed: {exc}")
            return
        if poly.status == FILLED:
            self._book(pair, poly)
            self._finish_leg(pair, result, filled, "filled", poly.notional, poly.fee, "")
            self._note(
                "poly_leg_filled",
                "info",
                f"pair {pair.pair_id}: {self._kalshi_text(pair, result)}; "
                f"hedged with {self._poly_text(pair, poly)}",
            )
        else:
            self._finish_leg(pair, result, filled, "killed", Money(0), Money(0), poly.reason)
            self._unhedged(pair, result, poly, poly.reason or "killed")

    def _unhedged(
        self, pair: ProposedPair, result: SubmitResult, poly: PolyOrderResult | None, reason: str
    ) -> None:
        """The Kalshi position stays open without its Polymarket leg: say so, and pair no more here."""
        self._stopped.add(pair.ticker)
        self._counters.unhedged += 1
        poly_text = self._poly_text(pair, poly) if poly is not None else "Polymarket leg not sent"
        detail = (
            f"pair {pair.pair_id}: {self._kalshi_text(pair, result)}; {poly_text}: {reason}. The Kalshi "
            f"position stays open (the risk gate counts it); no more pairs on {pair.ticker}"
        )
        log.warning("cross-venue unhedged leg: %s", detail)
        self._note("unhedged_leg", "warning", detail)

    def _kalshi_text(self, pair: ProposedPair, result: SubmitResult) -> str:
        leg = "YES" if pair.quote.kalshi_side == "bid" else "NO"
        sent = self._counters.sent.get(pair.pair_id, pair.quote.size)
        return (
            f"Kalshi {leg} {pair.ticker} FOK {format_contracts(sent)} @ "
            f"{format_price_usd(pair.quote.kalshi_price)} {result.status}, "
            f"filled {format_contracts(result.fill_count)} (order {result.order_id})"
        )

    def _poly_text(self, pair: ProposedPair, poly: PolyOrderResult) -> str:
        return (
            f"Polymarket BUY {pair.poly.outcome} {pair.market.slug} FOK {format_contracts(poly.size)} @ "
            f"{format_price_usd(poly.limit_price)} {poly.status} (cost {format_usd(poly.notional)}, "
            f"fee {format_usd(poly.fee)})"
        )
