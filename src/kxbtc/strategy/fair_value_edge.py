"""Fair-value edge: take the ask when the model's probability beats it by more than fees plus a margin.

Measured on real recorded markets (docs/RESEARCH.md; reported part from 2026-05-13T15:00Z, 30 markets,
after fees): -$101.84 at 50 ms (-$0.0099 a contract, 95 % interval -$536 .. +$342), +$58.06 at 0 ms,
-$156.17 at 250 ms. No edge shown: it runs observe-only by default (``kxbtc.core.stand_aside``).
"""

from __future__ import annotations

from kxbtc.config import to_count
from kxbtc.domain.sides import complement
from kxbtc.pricing.kelly import all_in_cost, size_binary
from kxbtc.risk.limits import OrderIntent
from kxbtc.strategy.base import (
    Decision,
    DecisionContext,
    MarketState,
    OracleView,
    SettingsT,
    Strategy,
    blend_prior,
    model_probability,
    top_up,
)
from kxbtc.units import PRICE_SCALE, Count, Money, Price, format_price_usd


class FairValueEdge(Strategy[SettingsT]):
    """Generic in its settings: the strategies built on it (market_anchored, index_lead) add their own."""

    name = "fair_value"

    #: Student-t tails (same variance) for the settlement average: the calibration on real candles
    #: (`kxbtc calibrate`) found 6 degrees of freedom better than normal tails, and 4-12 all alike.
    tail_df: float | None = 6.0

    def __init__(self, config: SettingsT) -> None:
        super().__init__(config)
        # Converted once: Decimal arithmetic has no place on the per-book-update path.
        self._min_edge = float(config.min_edge)
        self._max_count = to_count(config.max_contracts)

    def on_book(self, market: MarketState, oracle: OracleView, ctx: DecisionContext) -> list[Decision]:
        book, contract = market.book, market.contract
        if book.stale:
            return []
        drift = ctx.drift.get(contract.ticker, 0.0)
        p_model = model_probability(contract, oracle, ctx.now_ns, drift, self.tail_df)
        if p_model is None:
            return []
        p_yes = self.probability(blend_prior(p_model, ctx.priors.get(contract.ticker)), market, ctx)
        if p_yes is None:
            return []
        yes_ask, no_ask = book.yes_ask(), book.no_ask()
        min_edge = self._min_edge
        # Only offers whose edge after fees clears the margin are candidates.
        yes_offer = yes_ask if _edge(p_yes, yes_ask, market) > min_edge else None
        no_offer = no_ask if _edge(1 - p_yes, no_ask, market) > min_edge else None
        if yes_offer is None and no_offer is None:
            return []
        sized = size_binary(
            p_yes,
            Price(yes_offer) if yes_offer is not None else None,
            Price(no_offer) if no_offer is not None else None,
            # One stake for an event's strikes: what the other strikes hold is already committed.
            Money(max(0, ctx.bankroll - ctx.event_cost_elsewhere.get(contract.ticker, 0))),
            fraction=self.config.kelly_fraction,
            max_count=self._max_count,
            fees=contract.fees,
        )
        if sized.side is None or sized.count <= 0 or sized.price is None:
            return []
        # The Kelly size is for the whole position: only what is missing from it is bought.
        wanted = top_up(sized.count, sized.side, market.position)
        # Fill-or-kill takes only what the top level shows: never more than its size.
        top_size = book.yes_ask_size() if sized.side == "yes" else book.no_ask_size()
        count = Count(min(wanted, top_size - top_size % 100))
        if count <= 0:
            return []
        # V2 orders are on the YES leg: buying NO at q is an ask (sell YES) at 1 - q.
        side, price = ("bid", sized.price) if sized.side == "yes" else ("ask", complement(sized.price))
        reason = (
            f"p_yes={p_yes:.4f} (model {p_model:.4f}) vs {sized.side} ask {format_price_usd(sized.price)}:"
            f" edge {format_price_usd(round(sized.edge * PRICE_SCALE))}/contract after fees > {min_edge}"
        )
        intent = OrderIntent(
            contract.ticker, side, price, count, self.name, reason, self.config.time_in_force
        )
        inputs: dict[str, float | str | int | None] = {
            "p_yes": p_yes,
            "p_model": p_model,
            "spot": oracle.spot,
            "dollar_vol": oracle.dollar_vol,
            "yes_ask": yes_ask,
            "no_ask": no_ask,
            "drift": drift,
            "edge": sized.edge,
            "kelly_count": sized.count,
            "position": market.position,
            "seconds_to_close": contract.seconds_to_close(ctx.now_ns),
        }
        return [Decision(intent, inputs)]

    def probability(self, p_model: float, market: MarketState, ctx: DecisionContext) -> float | None:
        """The probability traded on: here the model's; subclasses anchor it to the market or gate it."""
        return p_model


def _edge(probability: float, ask: int | None, market: MarketState) -> float:
    """Dollars per contract the model expects buying at ``ask``, fee included; -1 without an offer."""
    if ask is None:
        return -1.0
    return probability - all_in_cost(Price(ask), market.contract.fees)
