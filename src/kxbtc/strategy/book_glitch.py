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
from itertools import pairwise

from kxbtc.domain.sides import complement
from kxbtc.risk.limits import OrderIntent
from kxbtc.strategy.base import Decision, DecisionContext, MarketState, OracleView, Strategy
from kxbtc.units import PRICE_SCALE, Count, Price, format_usd


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
            out += self._ladder(group) or self._buckets(group)
        return out

    def _buckets(self, group: list[MarketState]) -> list[Decision]:
        """A range event whose markets partition the line: YES in every bucket pays exactly $1 and NO in
        every bucket pays N - 1, so asks summing below $1, or bids above it, after fees lock a profit."""
        buckets = partition(group)
        if buckets is None:
            return []
        margin = int(float(self.config.min_edge) * PRICE_SCALE)
        cap = int(self.config.max_contracts * 100)
        asks = [m.book.yes_ask() for m in buckets]
        if all(a is not None for a in asks):
            count = min([cap, *(m.book.yes_ask_size() for m in buckets)])
            count -= count % 100
            prices = [int(a) for a in asks if a is not None]
            fees = sum(_fee(m, p, count) for m, p in zip(buckets, prices, strict=True))
            profit = PRICE_SCALE * count - sum(prices) * count - fees
            if count > 0 and profit > margin * count:
                return self._set(buckets, "bid", prices, count, profit, "buy YES in every bucket")
        bids = [m.book.best_yes_bid() for m in buckets]
        if all(b is not None for b in bids):
            count = min([cap, *(m.book.yes_bid_size() for m in buckets)])
            count -= count % 100
            prices = [int(b) for b in bids if b is not None]
            fees = sum(_fee(m, p, count) for m, p in zip(buckets, prices, strict=True))
            profit = (sum(prices) - PRICE_SCALE) * count - fees
            if count > 0 and profit > margin * count:
                return self._set(buckets, "ask", prices, count, profit, "buy NO in every bucket")
        return []

    def _set(
        self, buckets: list[MarketState], side: str, prices: list[int], count: int, profit: int, what: str
    ) -> list[Decision]:
        reason = (
            f"bucket glitch: {what} of {buckets[0].contract.event_ticker}; locked profit {format_usd(profit)}"
        )
        inputs: dict[str, float | str | int | None] = {"profit": profit, "count": count}
        return [
            Decision(
                OrderIntent(
                    m.contract.ticker, side, Price(p), Count(count), self.name, reason, "fill_or_kill"
                ),
                inputs,
            )
            for m, p in zip(buckets, prices, strict=True)
        ]

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
                    f" {complement(yes_bid)} < $1 after fees; locked profit {format_usd(profit)}"
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


def partition(group: list[MarketState]) -> list[MarketState] | None:
    """The event's markets in order when they partition the line exactly, else None (a missing bucket
    would leave an outcome in which the set pays nothing). Kalshi's buckets: a lower tail ``less`` than
    L, ranges ``between`` [floor, cap] inclusive on the cent grid (the next starts one cent above the
    cap), an upper tail ``greater`` than the last cap; the settlement value is in whole cents."""
    lower = [m for m in group if m.contract.strike_type in ("less", "less_or_equal")]
    upper = [m for m in group if m.contract.strike_type in ("greater", "greater_or_equal")]
    ranges = sorted(
        (m for m in group if m.contract.strike_type == "between"),
        key=lambda m: m.contract.floor_strike or 0.0,
    )
    if len(lower) != 1 or len(upper) != 1 or not ranges or len(group) != len(ranges) + 2:
        return None
    # (end of the previous bucket, start of the next, the gap allowed between them)
    joints: list[tuple[float | None, float | None, float]] = [
        (lower[0].contract.cap_strike, ranges[0].contract.floor_strike, 0.0)
    ]
    for prev, nxt in pairwise(ranges):
        joints.append((prev.contract.cap_strike, nxt.contract.floor_strike, CENT))
    joints.append((ranges[-1].contract.cap_strike, upper[0].contract.floor_strike, 0.0))
    for end, start, gap in joints:
        if end is None or start is None or abs(start - end - gap) > CENT / 10:
            return None
    return [lower[0], *ranges, upper[0]]


CENT = 0.01
