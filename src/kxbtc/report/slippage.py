"""Slippage against the mid: what each fill paid per contract beyond the book's mid when it was decided.

The mid is the one the deciding strategy saw, from its decision's inputs: ``mid`` when it recorded one,
else halfway between the YES ask and the YES bid implied by the NO ask (``1 - no_ask``). A fill is tied
to its decision through its order: same strategy and market, the newest approved decision at or before
the order was created (the trading core records both at the same instant; a live engine within
``MATCH_WINDOW_NS``). Fills without such a decision (a reconciled fill of a forgotten order, a leg
recorded without a book) are counted as unmatched, not guessed.

Prices are on the YES leg: a ``bid`` (buy YES) slips by ``price - mid``, an ``ask`` (sell YES, i.e. buy
NO) by ``mid - price``. Positive means paid worse than mid. Kept as twice the value so a half-tick mid
stays an integer; the money cost of a fill is ``slippage * count`` (Price x Count is micro-dollars).
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeGuard

from kxbtc.ops.pnl_report import NO_STRATEGY
from kxbtc.report.fmt import money_per_count
from kxbtc.report.intervals import divide_rounded
from kxbtc.report.queries import DecisionInputs
from kxbtc.store.records import FillRecord, OrderRecord
from kxbtc.units import PRICE_SCALE

#: The longest a fill's order may be created after its decision and still be tied to it.
MATCH_WINDOW_NS = 5_000_000_000


@dataclass(frozen=True, slots=True)
class FillSlippage:
    fill_id: str
    strategy: str
    ticker: str
    count: int  # Count
    twice_slip: int  # 2 x (Price units per contract); positive = worse than mid

    @property
    def per_contract(self) -> float:
        """Dollars per contract, for the histogram only."""
        return self.twice_slip / 2 / PRICE_SCALE


@dataclass(frozen=True, slots=True)
class SlippageRow:
    key: str
    fills: int
    volume: int  # Count
    cost: int  # Money paid beyond mid (negative: better than mid)
    per_contract: int  # Price units (1e-4 $), volume-weighted


@dataclass(frozen=True, slots=True)
class SlippageSummary:
    total: SlippageRow
    by_strategy: list[SlippageRow]
    fills: list[FillSlippage]
    unmatched: int


def decision_mid_twice(inputs: dict[str, object]) -> int | None:
    """Twice the YES mid (Price units) the decision saw, or None when its inputs carry no book."""
    mid = inputs.get("mid")
    if _is_price(mid):
        return 2 * mid
    yes_ask, no_ask = inputs.get("yes_ask"), inputs.get("no_ask")
    if _is_price(yes_ask) and _is_price(no_ask):
        return yes_ask + PRICE_SCALE - no_ask
    return None


def _is_price(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < PRICE_SCALE


class _Mids:
    """The approved decisions with a mid, per (strategy, market), in time order."""

    def __init__(self, decisions: Iterable[DecisionInputs]) -> None:
        self._times: dict[tuple[str, str], list[int]] = defaultdict(list)
        self._mids: dict[tuple[str, str], list[int]] = defaultdict(list)
        for d in decisions:
            mid = decision_mid_twice(d.inputs)
            if d.approved and mid is not None:
                self._times[(d.strategy, d.ticker)].append(d.ts_ns)
                self._mids[(d.strategy, d.ticker)].append(mid)

    def at(self, order: OrderRecord) -> int | None:
        key = (order.strategy, order.ticker)
        times = self._times.get(key, [])
        i = bisect.bisect_right(times, order.created_ns) - 1
        if i < 0 or order.created_ns - times[i] > MATCH_WINDOW_NS:
            return None
        return self._mids[key][i]


def slippage(
    fills: Iterable[FillRecord], orders: Iterable[OrderRecord], decisions: Iterable[DecisionInputs]
) -> SlippageSummary:
    by_order_id = {o.order_id: o for o in orders if o.order_id}
    mids = _Mids(decisions)
    matched: list[FillSlippage] = []
    unmatched = 0
    for f in fills:
        order = by_order_id.get(f.order_id)
        mid2 = None if order is None else mids.at(order)
        if mid2 is None:
            unmatched += 1
            continue
        slip2 = 2 * f.price - mid2 if f.side == "bid" else mid2 - 2 * f.price
        matched.append(FillSlippage(f.fill_id, f.strategy or NO_STRATEGY, f.ticker, f.count, slip2))
    groups: dict[str, list[FillSlippage]] = defaultdict(list)
    for s in matched:
        groups[s.strategy].append(s)
    return SlippageSummary(
        total=_row("total", matched),
        by_strategy=[_row(k, groups[k]) for k in sorted(groups)],
        fills=matched,
        unmatched=unmatched,
    )


def _row(key: str, fills: list[FillSlippage]) -> SlippageRow:
    volume = sum(s.count for s in fills)
    cost = divide_rounded(sum(s.twice_slip * s.count for s in fills), 2)
    return SlippageRow(key, len(fills), volume, cost, money_per_count(cost, volume))
