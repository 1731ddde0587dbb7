"""Settlement window: inside the final minute part of the average is already published.

With k of 60 samples known, the outcome is often near-certain; the remaining uncertainty comes only from
the unobserved samples. The risk layer's final-minute freeze forbids new positions there by default, so
this strategy proposes trades only between the freeze and the start of the window (it is inert with the
default 60-second freeze, and live when an operator shortens the freeze).
"""

from __future__ import annotations

from kxbtc.strategy.base import Decision, DecisionContext, MarketState, OracleView, Strategy
from kxbtc.strategy.fair_value_edge import FairValueEdge

WINDOW_S = 60.0


class SettlementWindow(Strategy):
    name = "settlement_window"

    def on_book(self, market: MarketState, oracle: OracleView, ctx: DecisionContext) -> list[Decision]:
        seconds = market.contract.seconds_to_close(ctx.now_ns)
        if not ctx.final_freeze_s < seconds <= WINDOW_S:
            return []
        decisions = FairValueEdge(self.config).on_book(market, oracle, ctx)
        out: list[Decision] = []
        for d in decisions:
            p = d.inputs.get("p_yes")
            # Only the near-certain states: the model's edge is largest and its error smallest there.
            if not isinstance(p, float) or 0.1 < p < 0.9:
                continue
            intent = type(d.intent)(
                d.intent.ticker,
                d.intent.side,
                d.intent.price,
                d.intent.count,
                self.name,
                f"settlement window, {seconds:.0f} s left; {d.intent.reason}",
                d.intent.time_in_force,
            )
            out.append(Decision(intent, d.inputs))
        return out
