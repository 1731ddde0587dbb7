"""The cross-venue desk's paper ledger: the pairs, the Polymarket legs and positions, their store records,
settlement by the venue's ``market_resolved``, and the summary.

The Polymarket leg is PAPER (see ``kxbtc.engine.cross_venue``): its shares, cash and fees are kept here,
apart from the Kalshi ledger. Every leg is written to the store: a decision row when it is placed and one
with its result (``ticker`` = ``polymarket:<slug>:<outcome>``, ``inputs.pair_id`` links it to the Kalshi
decision).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from kxbtc.clock import Clock
from kxbtc.config import PolymarketConfig
from kxbtc.execution.router import SubmitResult
from kxbtc.polymarket.gamma import UpDownMarket
from kxbtc.polymarket.messages import MarketResolvedEvent
from kxbtc.polymarket.venue import FILLED, PaperPolymarketVenue, PolymarketVenue, PolyOrderResult
from kxbtc.polymarket.ws_handlers import PolyWsHandler
from kxbtc.store.db import SqliteStore
from kxbtc.store.records import RiskEventRecord
from kxbtc.strategy.cross_venue import CrossVenueArb, PairQuote, PolymarketIntent
from kxbtc.units import PRICE_SCALE, Count, Money, Price, format_qty, format_usd, notional

STRATEGY = CrossVenueArb.name


@dataclass(frozen=True, slots=True)
class ProposedPair:
    """A pair whose Kalshi leg was handed to the engine; the Polymarket leg waits for the Kalshi fill."""

    pair_id: str
    ticker: str
    market: UpDownMarket
    poly: PolymarketIntent
    quote: PairQuote


@dataclass(frozen=True, slots=True)
class PolyLeg:
    """One Polymarket leg sent (or not) after a Kalshi fill."""

    pair_id: str
    ts_ns: int
    kalshi_ticker: str
    kalshi_order_id: str | None
    kalshi_filled: Count
    token: str
    outcome: str
    slug: str
    price: Price
    size: Count
    status: str  # filled | killed | error
    notional: Money
    fee: Money
    reason: str = ""


@dataclass(slots=True)
class PolyPosition:
    """Paper shares of one outcome token, what they cost, and the venue's result once resolved."""

    token: str
    outcome: str
    slug: str
    end_s: int
    shares: int = 0  # Count
    cost: int = 0  # Money, before fees
    fees: int = 0  # Money
    won: bool | None = None

    def payout(self) -> Money:
        return notional(PRICE_SCALE, self.shares) if self.won else Money(0)


@dataclass(frozen=True, slots=True)
class DeskSummary:
    """What the desk did, for the end-of-run report (Money in micro-dollars)."""

    windows_found: int
    windows_missing: int
    kalshi_legs_sent: int
    kalshi_legs_filled: int
    poly_legs: int
    poly_filled: int
    unhedged: int
    poly_cost: Money  # notional + fees of every filled Polymarket leg
    poly_fees: Money
    settled_pnl: Money  # payout - cost - fees of the resolved positions
    open_cost: Money  # cost + fees of positions not resolved yet (their P&L is unknown)
    paper: bool

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class DeskCounters:
    """What the desk has done, for the summary."""

    kalshi_sent: int = 0
    kalshi_filled: int = 0
    unhedged: int = 0
    missing: set[int] = field(default_factory=set)
    found: set[int] = field(default_factory=set)  # window starts paired, ended ones included
    #: The count each claimed Kalshi leg was sent with (the risk gate may have shrunk the quote's size).
    sent: dict[str, int] = field(default_factory=dict)


class DeskLedger(PolyWsHandler):
    """The record-keeping side of ``CrossVenueDesk``."""

    # Set by the desk's constructor.
    config: PolymarketConfig
    clock: Clock
    store: SqliteStore
    venue: PolymarketVenue
    legs: list[PolyLeg]
    positions: dict[str, PolyPosition]
    _counters: DeskCounters
    _note_event: Callable[[RiskEventRecord], None]

    def _book(self, pair: ProposedPair, result: PolyOrderResult) -> None:
        token = pair.poly.token_id
        position = self.positions.get(token)
        if position is None:
            position = PolyPosition(token, pair.poly.outcome, pair.market.slug, pair.market.end_s)
            self.positions[token] = position
        position.shares += result.filled
        position.cost += result.notional
        position.fees += result.fee

    # -- records ------------------------------------------------------------------------------------

    def _record_leg(
        self, pair: ProposedPair, result: SubmitResult | None, outcome: str, size: int, **extra: Any
    ) -> None:
        """A Polymarket leg's row; ``result`` is the Kalshi answer (None while both legs are in flight)."""
        poly = pair.poly
        inputs = {
            "pair_id": pair.pair_id,
            "kalshi_ticker": pair.ticker,
            "kalshi_order_id": result.order_id if result else None,
            "kalshi_client_order_id": result.client_order_id if result else None,
            "kalshi_status": result.status if result else "in_flight",
            "kalshi_filled": result.fill_count if result else None,
            "poly_slug": pair.market.slug,
            "poly_token": poly.token_id,
            "quoted_edge": pair.quote.edge,
            "venue": "paper" if isinstance(self.venue, PaperPolymarketVenue) else "live",
        }
        intent = {
            "venue": "polymarket",
            "token": poly.token_id,
            "outcome_token": poly.outcome,
            "side": poly.side,
            "price": poly.price,
            "count": size,
            "tif": poly.time_in_force,
            "outcome": outcome,
            **extra,
        }
        self.store.record_decision(
            self.clock.time_ns(),
            STRATEGY,
            f"polymarket:{pair.market.slug}:{poly.outcome}",
            json.dumps(inputs),
            json.dumps(intent),
            f"hedge of pair {pair.pair_id}: {poly.reason}",
        )

    def _finish_leg(
        self,
        pair: ProposedPair,
        result: SubmitResult | None,
        size: Count,
        status: str,
        cost: Money,
        fee: Money,
        reason: str,
    ) -> None:
        self._record_leg(pair, result, status, size, notional=cost, fee=fee, detail=reason)
        self.legs.append(
            PolyLeg(
                pair.pair_id,
                self.clock.time_ns(),
                pair.ticker,
                result.order_id if result else None,
                Count(result.fill_count if result else 0),
                pair.poly.token_id,
                pair.poly.outcome,
                pair.market.slug,
                pair.poly.price,
                size,
                status,
                cost,
                fee,
                reason,
            )
        )

    def _note(self, kind: str, severity: str, detail: str) -> None:
        self._note_event(RiskEventRecord(self.clock.time_ns(), kind, severity, detail))

    # -- the Polymarket stream --------------------------------------------------------------------

    def on_market_resolved(self, msg: MarketResolvedEvent) -> None:
        winner = msg.winning_asset_id
        if not winner:
            return
        for token in msg.assets_ids or [winner]:
            position = self.positions.get(token)
            if position is not None and position.won is None:
                position.won = token == winner
                pnl = position.payout() - position.cost - position.fees
                self._note(
                    "poly_leg_settled",
                    "info",
                    f"Polymarket {position.slug} {position.outcome}: {'won' if position.won else 'lost'}; "
                    f"{format_qty(position.shares)} shares, paper P&L {format_usd(pnl)}",
                )

    # -- reporting --------------------------------------------------------------------------------

    def summary(self) -> DeskSummary:
        filled = [leg for leg in self.legs if leg.status == FILLED]
        resolved = [p for p in self.positions.values() if p.won is not None]
        unresolved = [p for p in self.positions.values() if p.won is None]
        return DeskSummary(
            windows_found=len(self._counters.found),
            windows_missing=len(self._counters.missing),
            kalshi_legs_sent=self._counters.kalshi_sent,
            kalshi_legs_filled=self._counters.kalshi_filled,
            poly_legs=len(self.legs),
            poly_filled=len(filled),
            unhedged=self._counters.unhedged,
            poly_cost=Money(sum(leg.notional + leg.fee for leg in filled)),
            poly_fees=Money(sum(leg.fee for leg in filled)),
            settled_pnl=Money(sum(p.payout() - p.cost - p.fees for p in resolved)),
            open_cost=Money(sum(p.cost + p.fees for p in unresolved)),
            paper=isinstance(self.venue, PaperPolymarketVenue),
        )
