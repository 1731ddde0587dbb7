"""The cross-venue desk's two legs: both sent at once, then the stated policy when one of them fails.

When the engine is about to send a pair's Kalshi leg (``claim``), the Polymarket leg is started as a task
of its own (``open_legs``), so both orders are in flight together. When the Kalshi answer is back
(``hedge``), the desk awaits the Polymarket answer and settles the pair:

- both filled: ``paired``;
- Kalshi filled, Polymarket not: with ``leg_failure = "hedge"`` the Polymarket leg is retried fill-or-kill
  one tick worse each time, never more than ``max_leg_loss`` per contract above the quoted price, at most
  ``repair_attempts`` times: ``hedged`` if one fills. Otherwise (or with ``"unwind"``) the Kalshi leg is
  sold back through the engine within the same bound (``cross_venue_unwind``): ``unwound``, or
  ``unhedged`` when no sale fills (the position stays; the risk gate counts it);
- Polymarket filled, Kalshi not (killed or refused): the Polymarket shares are sold back fill-or-kill,
  starting at the price paid and one tick lower each time, never more than ``max_leg_loss`` below it:
  ``unwound``, or ``unhedged`` if no attempt fills;
- Kalshi outcome unknown (network): nothing is done on Polymarket; ``unhedged`` until reconciliation;
- Polymarket outcome unknown (network error, or a delayed order still undecided): nothing is repaired,
  since a second buy could double the position; ``unhedged``;
- neither filled: ``unfilled`` (nothing is open).

After ``unhedged`` or ``unwound`` the desk proposes no more pairs on that Kalshi market (its book was not
what the quote saw); after ``hedged`` it may.

Every pair's outcome is written to the store as one decision row (``ticker = pair:<pair id>``, the legs,
the fills, the repairs, the realized cost in micro-dollars) and one risk event (``pair_<outcome>``, or
``unhedged_leg``). The realized cost is what the repair cost against the quote: the extra paid for a
hedge, or buy cost + fees - sale proceeds + fees for an unwind.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field

from kxbtc.engine.cross_venue_ledger import DeskLedger, ProposedPair
from kxbtc.errors import KxbtcError, RetryableError
from kxbtc.execution.router import SubmitResult
from kxbtc.polymarket.book import BUY, SELL
from kxbtc.polymarket.venue import FILLED, KILLED, PolyOrderResult
from kxbtc.pricing.polymarket_fees import polymarket_taker_fee
from kxbtc.risk.limits import ApprovedOrder, OrderIntent
from kxbtc.units import PRICE_SCALE, Count, Money, Price, format_contracts, format_price_usd, format_usd

# The records keep the logger name they had when this code lived in ``kxbtc.engine.cross_venue``.
log = logging.getLogger("kxbtc.engine.cross_venue")

PAIRED, HEDGED, UNWOUND, UNHEDGED, UNFILLED = "paired", "hedged", "unwound", "unhedged", "unfilled"


@dataclass(slots=True)
class PairRun:
    """One pair from the moment both legs go out until its outcome."""

    pair: ProposedPair
    count: Count  # the Kalshi order's count (the risk gate may have shrunk the quote)
    poly_task: asyncio.Task[PolyOrderResult | KxbtcError] | None = None
    #: What happened, in order: "kalshi_sent", "poly_sent", "poly_answered", "kalshi_answered", repairs.
    timeline: list[str] = field(default_factory=list)
    repairs: list[PolyOrderResult] = field(default_factory=list)
    #: Sales of the Kalshi leg (``cross_venue_unwind``): price, status, filled, order id.
    kalshi_sales: list[dict[str, object]] = field(default_factory=list)


class DeskHedging(DeskLedger):
    """The two-leg side of ``CrossVenueDesk``."""

    # Set by the desk's constructor.
    _busy: set[str]
    _stopped: set[str]
    _paired: dict[str, int]
    _hedging: int
    _quiet: asyncio.Event
    _runs: dict[OrderIntent, PairRun]
    pair_outcomes: list[dict[str, object]]

    def open_legs(self, pair: ProposedPair, order: ApprovedOrder) -> None:
        """The Kalshi leg is about to be sent: send the Polymarket leg now, beside it."""
        run = PairRun(pair, order.count)
        run.timeline.append("kalshi_sent")
        self._runs[order.intent] = run
        self._hedging += 1  # counted now, so ``close`` waits for it
        self._quiet.clear()
        minimum = pair.market.min_order_size
        if minimum is not None and order.count < minimum:
            return  # below Polymarket's minimum: no Polymarket leg (settled as a failed leg)
        run.poly_task = asyncio.ensure_future(self._send_poly(run))

    async def _send_poly(self, run: PairRun) -> PolyOrderResult | KxbtcError:
        pair = run.pair
        run.timeline.append("poly_sent")
        self._record_leg(pair, None, "placed", run.count)
        try:
            result: PolyOrderResult | KxbtcError = await self.venue.place_fok(
                pair.poly.token_id, BUY, pair.poly.price, run.count
            )
        except KxbtcError as exc:
            log.error("cross-venue %s: Polymarket leg failed: %s", pair.pair_id, exc)
            result = exc
        run.timeline.append("poly_answered")
        return result

    def hedge(self, approved: Sequence[ApprovedOrder], results: Sequence[SubmitResult]) -> Awaitable[None]:
        """Settle the pairs among ``approved`` now that Kalshi answered (run it as a task)."""
        # The router answers every order in order; no answers at all (it raised) means "unknown".
        answers: list[SubmitResult | None] = (
            list(results) if len(results) == len(approved) else [None] * len(approved)
        )
        runs: list[tuple[PairRun, SubmitResult | None]] = []
        for order, result in zip(approved, answers, strict=True):
            run = self._runs.pop(order.intent, None)
            if run is None:
                continue
            self._counters.sent[run.pair.pair_id] = order.count
            run.timeline.append("kalshi_answered")
            runs.append((run, result))
        return self._settle_all(runs)

    async def _settle_all(self, runs: list[tuple[PairRun, SubmitResult | None]]) -> None:
        try:
            for run, result in runs:
                await self._settle(run, result)
        finally:
            for run, _ in runs:
                self._busy.discard(run.pair.ticker)
                self._hedging -= 1
            if not self._hedging:
                self._quiet.set()

    async def _settle(self, run: PairRun, kalshi: SubmitResult | None) -> None:
        pair = run.pair
        answer = await run.poly_task if run.poly_task is not None else None
        poly = answer if isinstance(answer, PolyOrderResult) else None
        error = answer if isinstance(answer, KxbtcError) else None
        if poly is not None:
            self._finish_leg(pair, kalshi, run.count, poly.status, poly.notional, poly.fee, poly.reason)
            if poly.status == FILLED:
                self._book(pair, poly)
        elif error is not None:
            detail = f"{type(error).__name__}: {error}"
            self._finish_leg(pair, kalshi, run.count, "error", Money(0), Money(0), detail)
        poly_filled = poly is not None and poly.status == FILLED
        kalshi_filled = kalshi is not None and kalshi.fill_count > 0
        if kalshi_filled:
            assert kalshi is not None
            self._counters.kalshi_filled += 1
            self._paired[pair.ticker] = self._paired.get(pair.ticker, 0) + kalshi.fill_count
        if isinstance(error, RetryableError):
            # The Polymarket order may have reached the book: buying again could double it, so no repair.
            reason = f"the Polymarket leg's outcome is unknown ({error}); check the account before trading"
            self._outcome(run, kalshi, None, UNHEDGED, Money(0), reason)
        elif kalshi is None or kalshi.status == "unknown":
            reason = "the Kalshi leg's outcome is unknown (reconciliation settles it)"
            self._outcome(run, kalshi, poly, UNHEDGED, Money(0), reason)
        elif kalshi_filled and poly_filled:
            assert poly is not None
            self._outcome(run, kalshi, poly, PAIRED, Money(0), "both legs filled")
        elif kalshi_filled:
            why = poly.reason if poly is not None else (str(error) if error else "no Polymarket leg")
            await self._repair_poly_leg(run, kalshi, poly, f"the Polymarket leg failed: {why}")
        elif poly_filled:
            assert poly is not None
            why = kalshi.error.message if kalshi.error is not None else f"Kalshi FOK {kalshi.status}"
            await self._unwind_poly_leg(run, kalshi, poly, f"the Kalshi leg failed: {why}")
        else:
            self._outcome(run, kalshi, poly, UNFILLED, Money(0), "neither leg filled: nothing is open")

    # -- repairs ----------------------------------------------------------------------------------

    def _bound(self) -> int:
        return int(self.config.max_leg_loss * PRICE_SCALE)

    async def _repair_poly_leg(
        self, run: PairRun, kalshi: SubmitResult, first: PolyOrderResult | None, why: str
    ) -> None:
        """Kalshi filled, Polymarket did not: buy the Polymarket leg at worse prices within the bound."""
        pair, quoted = run.pair, run.pair.poly.price
        if self.config.leg_failure == "hedge":
            for price in self._ladder(quoted, +1):
                result = await self._try(run, BUY, price, Count(kalshi.fill_count))
                if result is not None and result.status == FILLED:
                    self._book(pair, result)
                    self._finish_leg(
                        pair, kalshi, result.filled, FILLED, result.notional, result.fee, "hedge"
                    )
                    quoted_fee = polymarket_taker_fee(quoted, result.filled, pair.market.fee_rate)
                    extra = result.notional + result.fee - quoted * result.filled - quoted_fee
                    self._outcome(run, kalshi, result, HEDGED, Money(extra), why)
                    return
            why += "; the hedge did not fill within the bound"
        self._after_failed_hedge(run, kalshi, first, why)

    def _after_failed_hedge(
        self, run: PairRun, kalshi: SubmitResult, poly: PolyOrderResult | None, why: str
    ) -> None:
        """The Kalshi leg is alone; the desk's Kalshi unwind overrides this (here: leave it unhedged)."""
        self._stopped.add(run.pair.ticker)
        self._outcome(run, kalshi, poly, UNHEDGED, Money(0), why)

    async def _unwind_poly_leg(
        self, run: PairRun, kalshi: SubmitResult, bought: PolyOrderResult, why: str
    ) -> None:
        """Polymarket filled, Kalshi did not: sell the shares back within the bound."""
        pair = run.pair
        paid = Price(bought.notional // bought.filled) if bought.filled else pair.poly.price
        for price in self._ladder(paid, -1):
            result = await self._try(run, SELL, price, bought.filled)
            if result is not None and result.status == FILLED:
                self._unbook(pair, result)
                loss = bought.notional + bought.fee - (result.notional - result.fee)
                self._outcome(run, kalshi, result, UNWOUND, Money(loss), why)
                return
        self._stopped.add(pair.ticker)
        self._outcome(run, kalshi, bought, UNHEDGED, Money(0), why + "; the unwind did not fill")

    def _ladder(self, start: Price, step: int) -> list[Price]:
        """Prices a tick apart from ``start`` (step +1: worse buys, -1: worse sales), within the bound."""
        tick = 100  # $0.01: the BTC up/down markets' tick (errata Part 4 §4.1)
        bound = self._bound()
        first = 1 if step > 0 else 0  # a buy retry is already worse; a sale starts at the price paid
        out: list[Price] = []
        for k in range(first, first + self.config.repair_attempts):
            price = start + step * k * tick
            if abs(price - start) > bound or not tick <= price <= PRICE_SCALE - tick:
                break
            out.append(Price(price))
        return out

    async def _try(self, run: PairRun, side: str, price: Price, count: Count) -> PolyOrderResult | None:
        pair = run.pair
        run.timeline.append(f"repair_{side.lower()}@{price}")
        try:
            result = await self.venue.place_fok(pair.poly.token_id, side, price, count)
        except KxbtcError as exc:
            log.warning("cross-venue %s: repair %s @ %s failed: %s", pair.pair_id, side, price, exc)
            return None
        run.repairs.append(result)
        return result

    def _unbook(self, pair: ProposedPair, sale: PolyOrderResult) -> None:
        position = self.positions.get(pair.poly.token_id)
        if position is not None:
            position.shares -= sale.filled
            position.cost -= sale.notional - sale.fee

    # -- the record -------------------------------------------------------------------------------

    def _outcome(
        self,
        run: PairRun,
        kalshi: SubmitResult | None,
        poly: PolyOrderResult | None,
        outcome: str,
        cost: Money,
        reason: str,
    ) -> None:
        pair = run.pair
        record: dict[str, object] = {
            "pair_id": pair.pair_id,
            "outcome": outcome,
            "realized_cost": cost,
            "max_leg_loss": str(self.config.max_leg_loss),
            "policy": self.config.leg_failure,
            "kalshi": {
                "ticker": pair.ticker,
                "side": "YES" if pair.quote.kalshi_side == "bid" else "NO",
                "price": pair.quote.kalshi_price,
                "count": run.count,
                "order_id": kalshi.order_id if kalshi else None,
                "status": kalshi.status if kalshi else "unknown",
                "filled": kalshi.fill_count if kalshi else 0,
            },
            "polymarket": {
                "slug": pair.market.slug,
                "outcome": pair.poly.outcome,
                "token": pair.poly.token_id,
                "price": pair.poly.price,
                "count": run.count,
            },
            "repairs": [_repair_json(r) for r in run.repairs],
            "kalshi_sales": run.kalshi_sales,
            "timeline": run.timeline,
            "reason": reason,
        }
        self.pair_outcomes.append(record)
        self.store.record_decision(
            self.clock.time_ns(),
            "cross_venue",
            f"pair:{pair.pair_id}",
            json.dumps({k: v for k, v in record.items() if k != "outcome"}),
            json.dumps({"outcome": outcome, "realized_cost": cost}),
            reason,
        )
        text = f"pair {pair.pair_id}: {outcome}; {self._kalshi_text(pair, kalshi)}; "
        text += self._poly_text(pair, poly) if poly is not None else "Polymarket leg not filled"
        text += f"; repair cost {format_usd(cost)} ({reason})"
        if outcome == UNHEDGED:
            self._counters.unhedged += 1
            self._stopped.add(pair.ticker)
            log.warning("cross-venue unhedged leg: %s", text)
            self._note("unhedged_leg", "warning", text + f"; no more pairs on {pair.ticker}")
        elif outcome == PAIRED:
            self._note("poly_leg_filled", "info", text)
        elif outcome != UNFILLED:
            self._note(f"pair_{outcome}", "info", text)
        if outcome == UNWOUND:  # the Kalshi book was not what the quote saw: no more pairs on this market
            self._stopped.add(pair.ticker)

    def _kalshi_text(self, pair: ProposedPair, result: SubmitResult | None) -> str:
        leg = "YES" if pair.quote.kalshi_side == "bid" else "NO"
        sent = self._counters.sent.get(pair.pair_id, pair.quote.size)
        status = result.status if result is not None else "unknown"
        filled = result.fill_count if result is not None else 0
        order_id = result.order_id if result is not None else None
        return (
            f"Kalshi {leg} {pair.ticker} FOK {format_contracts(sent)} @ "
            f"{format_price_usd(pair.quote.kalshi_price)} {status}, "
            f"filled {format_contracts(filled)} (order {order_id})"
        )

    def _poly_text(self, pair: ProposedPair, poly: PolyOrderResult) -> str:
        return (
            f"Polymarket {poly.side} {pair.poly.outcome} {pair.market.slug} FOK"
            f" {format_contracts(poly.size)} @ {format_price_usd(poly.limit_price)} {poly.status}"
            f" (cost {format_usd(poly.notional)}, fee {format_usd(poly.fee)})"
        )


def _repair_json(r: PolyOrderResult) -> dict[str, object]:
    return {
        "side": r.side,
        "price": r.limit_price,
        "status": r.status,
        "filled": r.filled,
        "notional": r.notional,
        "fee": r.fee,
    }


__all__ = ["HEDGED", "KILLED", "PAIRED", "UNFILLED", "UNHEDGED", "UNWOUND", "DeskHedging", "PairRun"]
