"""Unwinding a filled Kalshi leg whose Polymarket leg could not be had (``leg_failure = "unwind"``, or a
``"hedge"`` whose retries all failed).

The Kalshi position is sold back through the engine like any other order: the desk proposes a
fill-or-kill Decision on its next timer tick (the risk gate sees it and may refuse or shrink it), priced
at the leg's own purchase price and one tick lower on each later tick, never more than ``max_leg_loss``
below it, for at most ``repair_attempts`` proposals. Selling a YES position is an ``ask`` on the YES
book; selling a NO position is a ``bid`` at the complement. A sale that fills closes the pair as
``unwound`` (realized cost: the price given up times the count, Kalshi fees not included: they are on
the fills); a proposal the gate refuses or the book kills moves to the next price; when the ladder is
spent the pair is ``unhedged`` and the position stays (the gate counts it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from kxbtc.engine.cross_venue_hedge import UNHEDGED, UNWOUND, DeskHedging, PairRun
from kxbtc.execution.router import SubmitResult
from kxbtc.polymarket.venue import PolyOrderResult
from kxbtc.risk.limits import ApprovedOrder, OrderIntent
from kxbtc.strategy.base import Decision
from kxbtc.units import PRICE_SCALE, Count, Money, Price

TICK = 100  # $0.01, Kalshi's tick on these markets


@dataclass(slots=True)
class KalshiUnwind:
    run: PairRun
    kalshi: SubmitResult  # the Kalshi leg that filled
    poly: PolyOrderResult | None
    why: str
    left: int  # Count still held
    prices: list[Price]  # the leg's own sale prices still to try
    in_flight: bool = False
    sold: int = 0  # Count
    given_up: int = 0  # Money: (bought - sold price) x count
    results: list[SubmitResult] = field(default_factory=list)


class DeskKalshiUnwind(DeskHedging):
    """The Kalshi-unwind side of ``CrossVenueDesk``."""

    # Set by the desk's constructor.
    _unwinds: dict[str, KalshiUnwind]  # by Kalshi ticker
    _unwind_proposed: dict[OrderIntent, KalshiUnwind]
    _unwind_claimed: dict[OrderIntent, KalshiUnwind]

    def _after_failed_hedge(
        self, run: PairRun, kalshi: SubmitResult, poly: PolyOrderResult | None, why: str
    ) -> None:
        bought = run.pair.quote.kalshi_price
        bound = self._bound()
        prices = [
            Price(bought - k * TICK)
            for k in range(self.config.repair_attempts)
            if k * TICK <= bound and bought - k * TICK >= TICK
        ]
        self._stopped.add(run.pair.ticker)
        self._unwinds[run.pair.ticker] = KalshiUnwind(run, kalshi, poly, why, kalshi.fill_count, prices)
        self._hedging += 1  # ``close`` waits for a sale in flight
        self._quiet.clear()

    def _unwind_decisions(self) -> list[Decision]:
        """This tick's Kalshi sales (one per pending unwind not already in flight)."""
        self._unwind_proposed.clear()
        out: list[Decision] = []
        for ticker, u in list(self._unwinds.items()):
            if u.in_flight:
                continue
            if not u.prices:
                self._finish_unwind(ticker, u, "the Kalshi sale did not fill within the bound")
                continue
            price = u.prices.pop(0)
            pair = u.run.pair
            selling_yes = pair.quote.kalshi_side == "bid"
            side, yes_price = ("ask", price) if selling_yes else ("bid", Price(PRICE_SCALE - price))
            reason = (
                f"unwind of pair {pair.pair_id}: sell the Kalshi {'YES' if selling_yes else 'NO'} leg "
                f"bought at {pair.quote.kalshi_price} for {price} or better ({u.why})"
            )
            intent = OrderIntent(
                ticker, side, yes_price, Count(u.left), "cross_venue", reason, "fill_or_kill"
            )
            self._unwind_proposed[intent] = u
            out.append(Decision(intent, {"pair_id": pair.pair_id, "unwind": 1, "sale_price": price}))
        return out

    def _claim_unwind(self, order: ApprovedOrder) -> bool:
        u = self._unwind_proposed.pop(order.intent, None)
        if u is None:
            return False
        u.in_flight = True
        u.run.timeline.append(f"kalshi_unwind_sent@{order.intent.price}")
        self._unwind_claimed[order.intent] = u
        return True

    def _settle_unwinds(self, approved: Sequence[ApprovedOrder], results: Sequence[SubmitResult]) -> None:
        answers: list[SubmitResult | None] = (
            list(results) if len(results) == len(approved) else [None] * len(approved)
        )
        for order, result in zip(approved, answers, strict=True):
            u = self._unwind_claimed.pop(order.intent, None)
            if u is None:
                continue
            u.in_flight = False
            ticker = order.intent.ticker
            if result is None or result.status == "unknown":
                self._finish_unwind(ticker, u, "the Kalshi sale's outcome is unknown (reconciliation)")
                continue
            u.results.append(result)
            u.run.kalshi_sales.append(
                {
                    "price": order.intent.price,
                    "side": order.intent.side,
                    "count": order.count,
                    "status": result.status,
                    "filled": result.fill_count,
                    "order_id": result.order_id,
                }
            )
            if result.fill_count > 0:
                selling_yes = u.run.pair.quote.kalshi_side == "bid"
                sold_at = order.intent.price if selling_yes else PRICE_SCALE - order.intent.price
                u.sold += result.fill_count
                u.left -= result.fill_count
                u.given_up += (u.run.pair.quote.kalshi_price - sold_at) * result.fill_count
            if u.left <= 0:
                self._finish_unwind(ticker, u, None)

    def _finish_unwind(self, ticker: str, u: KalshiUnwind, failure: str | None) -> None:
        self._unwinds.pop(ticker, None)
        self._hedging -= 1
        if not self._hedging:
            self._quiet.set()
        u.run.timeline.append("kalshi_unwound" if failure is None else "kalshi_unwind_failed")
        if failure is None:
            self._outcome(u.run, u.kalshi, u.poly, UNWOUND, Money(u.given_up), u.why + "; Kalshi leg sold")
        else:
            self._outcome(u.run, u.kalshi, u.poly, UNHEDGED, Money(0), f"{u.why}; {failure}")
