"""Order-book imbalance (brief §5.2): a short-horizon momentum signal.

The imbalance of the top YES levels becomes a drift for the fair-value model (``signals.py`` computes
it: this strategy declares ``imbalance_drift`` as an input). As its own trigger it buys the favoured side
only when the drifted fair value still shows an edge after fees.

Measured on real recorded markets (docs/RESEARCH.md): top-three imbalance correlates 0.074 [0.049,
0.107] with the mid's next 30 s move and adds nothing to the mid about the outcome; traded it loses
clearly after fees: -$930.71 at 50 ms on the reported part (95 % interval -$1,374 .. -$464). Off.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import Field

from kxbtc.config import StrategyConfig
from kxbtc.strategy.base import Decision, DecisionContext, MarketState, OracleView, Strategy
from kxbtc.strategy.fair_value_edge import FairValueEdge
from kxbtc.strategy.signals import IMBALANCE_DRIFT, imbalance_signal


class ImbalanceConfig(StrategyConfig):
    """``[strategies.imbalance]``: the shared settings plus where the imbalance starts to count."""

    imbalance_threshold: float = Field(0.7, gt=0.5, lt=1)
    imbalance_levels: int = Field(3, ge=1, le=50)


class ImbalanceMomentum(Strategy[ImbalanceConfig]):
    name = "imbalance"
    config_model = ImbalanceConfig
    signals = (IMBALANCE_DRIFT,)

    def on_book(self, market: MarketState, oracle: OracleView, ctx: DecisionContext) -> list[Decision]:
        signal = imbalance_signal(market.book, self.config.imbalance_levels, self.config.imbalance_threshold)
        if signal == 0.0 or market.book.stale:
            return []
        ticker = market.contract.ticker
        drifted = DecisionContext(
            ctx.now_ns,
            ctx.bankroll,
            {**ctx.drift, ticker: ctx.signal(IMBALANCE_DRIFT, ticker)},
            ctx.priors,
            ctx.final_freeze_s,
        )
        inner = FairValueEdge(self.config)
        decisions = inner.on_book(market, oracle, drifted)
        out: list[Decision] = []
        for d in decisions:
            # Only trade in the direction the book leans.
            if (d.intent.side == "bid") != (signal > 0):
                continue
            intent = type(d.intent)(
                d.intent.ticker,
                d.intent.side,
                d.intent.price,
                d.intent.count,
                self.name,
                f"imbalance signal {signal:+.2f}; {d.intent.reason}",
                d.intent.time_in_force,
            )
            out.append(Decision(intent, {**d.inputs, "imbalance_signal": signal}))
        return out

    def on_timer(
        self, markets: Sequence[MarketState], oracle: OracleView, ctx: DecisionContext
    ) -> list[Decision]:
        """Every open market again on each tick: the index moves the drifted fair value while the book
        stands still, so an edge can appear without the book update that would trigger ``on_book``."""
        decisions: list[Decision] = []
        for market in markets:
            decisions += self.on_book(market, oracle, ctx)
        return decisions
