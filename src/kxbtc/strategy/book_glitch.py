"""Book glitches: prices that leave a risk-free round trip after fees.

On Kalshi one market has one book, so a single market's YES ask + NO ask is always >= $1 (a YES ask
below the best NO bid's complement would have matched). The glitches that do occur are across markets
of one event:

- ladder (KXBTCD, strike_type ``greater``): for strikes K1 < K2, YES(K1) pays whenever YES(K2) does, so
  buying YES(K1) and NO(K2) pays at least $1 in every outcome. A YES ask at K1 below the YES bid at K2
  (after both fees) is free money.
- buckets (KXBTC ranges plus tails): the buckets partition the line, so buying YES in every bucket
  pays exactly $1. Asks summing below $1 after fees is free money.

Both legs are sent fill-or-kill in one batch; a leg that fails leaves a directional position that the
fair-value and risk layers then see like any other (leg risk is the residual risk here).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from kxbtc.domain.sides import complement
from kxbtc.risk.limits import OrderIntent
from kxbtc.strategy.base import Decision, DecisionContext, MarketState, OracleView, Strategy
from kxbtc.units import PRICE_SCALE, Count, Price


def _fee(market: MarketState, price: int, count: int) -> int:
    return market.contract.fees.fee(price, count, is_taker=True)


class BookGlitch(Strategy):
    name = "book_glitch"

    def on_book(self, market: MarketState, oracle: OracleView, ctx: DecisionContext) -> list[Decision]:
        return []  # glitches are cross-market: see on_timer

    def on_timer(
        self, markets: Sequence[MarketState], oracle: OracleView, ctx: DecisionContext
    ) -> list[Decision]:
        by_event: dict[str, list[MarketState]] = defaultdict(list)
        for m in markets:
            if not m.book.stale and m.contract.seconds_to_close(ctx.now_ns) > ctx.final_freeze_s:
                by_event[m.contract.event_ticker].append(m)
        out: list[Decision] = []
        for group in by_event.values():
            out += self._ladder(group)
        return out

    def _ladder(self, group: list[MarketState]) -> list[Decision]:
        ladder = sorted(
            (
                m
                for m in group
                if m.contract.strike_type in ("greater", "greater_or_equal")
                and m.contract.floor_strike is not None
            ),
            key=lambda m: m.contract.floor_strike or 0.0,
        )
        margin = int(float(self.config.min_edge) * PRICE_SCALE)
        for i, low in enumerate(ladder):
            yes_ask = low.book.yes_ask()
            if yes_ask is None:
                continue
            for high in ladder[i + 1 :]:
                yes_bid = high.book.best_yes_bid()
                if yes_bid is None:
                    continue
                count = min(
                    low.book.yes_ask_size(), high.book.yes_bid_size(), int(self.config.max_contracts * 100)
                )
                count -= count % 100
                if count <= 0:
                    continue
                # Cost of the pair per contract: YES(low) at yes_ask + NO(high) at 1 - yes_bid.
                cost = (yes_ask + complement(yes_bid)) * count
                fees = _fee(low, yes_ask, count) + _fee(high, yes_bid, count)
                profit = PRICE_SCALE * count - cost - fees  # Money: the pair pays at least $1 each
                if profit <= margin * count:
                    continue
                reason = (
                    f"ladder glitch: YES {low.contract.ticker} @ {yes_ask} + NO {high.contract.ticker} @"
                    f" {complement(yes_bid)} < $1 after fees; locked profit {profit} micro-$"
                )
                legs = [
                    OrderIntent(
                        low.contract.ticker,
                        "bid",
                        Price(yes_ask),
                        Count(count),
                        self.name,
                        reason,
                        "fill_or_kill",
                    ),
                    OrderIntent(
                        high.contract.ticker,
                        "ask",
                        Price(yes_bid),
                        Count(count),
                        self.name,
                        reason,
                        "fill_or_kill",
                    ),
                ]
                inputs: dict[str, float | str | int | None] = {"profit": profit, "count": count}
                return [Decision(leg, inputs) for leg in legs]
        return []
