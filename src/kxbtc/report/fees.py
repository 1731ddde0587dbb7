"""What trading cost in fees: by liquidity (taker or maker) and by strategy, per contract and in total.

Straight from the recorded fills: a fill's fee is what the exchange charged for it. Settlement carries no
fee on Kalshi (``kxbtc.ops.pnl_report`` explains), so the fills are the whole bill.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from kxbtc.ops.pnl_report import NO_STRATEGY
from kxbtc.store.records import FillRecord


@dataclass(frozen=True, slots=True)
class FeeRow:
    key: str
    fills: int
    volume: int  # Count
    fees: int  # Money


@dataclass(frozen=True, slots=True)
class FeeSummary:
    total: FeeRow
    by_liquidity: list[FeeRow]  # "taker", "maker"
    by_strategy: list[FeeRow]


def fee_summary(fills: Iterable[FillRecord]) -> FeeSummary:
    liquidity: dict[str, list[FillRecord]] = defaultdict(list)
    strategy: dict[str, list[FillRecord]] = defaultdict(list)
    everything: list[FillRecord] = []
    for f in fills:
        liquidity["taker" if f.is_taker else "maker"].append(f)
        strategy[f.strategy or NO_STRATEGY].append(f)
        everything.append(f)
    return FeeSummary(
        total=_row("total", everything),
        by_liquidity=[_row(k, liquidity[k]) for k in ("taker", "maker") if k in liquidity],
        by_strategy=[_row(k, strategy[k]) for k in sorted(strategy)],
    )


def _row(key: str, fills: list[FillRecord]) -> FeeRow:
    return FeeRow(key, len(fills), sum(f.count for f in fills), sum(f.fee for f in fills))
