"""Fill rates of resting orders: of the good-till-canceled orders placed, how many filled.

Only resting orders have a fill rate worth reading: a fill-or-kill order fills whole or not at all at the
moment it is sent, so its "rate" measures the book, not the quoting. An order counts as placed once it
reached the exchange (any status but ``intended`` or ``rejected``); as filled when any of it filled, and
as fully filled when nothing of it was left. Contracts filled over contracts placed is shown beside it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from kxbtc.ops.pnl_report import NO_STRATEGY
from kxbtc.store.records import OrderRecord

#: Spellings of good-till-canceled across the venues' wire formats.
RESTING_TIME_IN_FORCE = frozenset({"good_till_canceled", "gtc", "GTC"})
NOT_PLACED = frozenset({"intended", "rejected"})


@dataclass(frozen=True, slots=True)
class FillRateRow:
    key: str
    placed: int
    filled: int  # any fill
    fully_filled: int
    contracts_placed: int  # Count
    contracts_filled: int  # Count


@dataclass(frozen=True, slots=True)
class FillRates:
    total: FillRateRow
    by_strategy: list[FillRateRow]


def fill_rates(orders: Iterable[OrderRecord]) -> FillRates:
    placed = [o for o in orders if o.time_in_force in RESTING_TIME_IN_FORCE and o.status not in NOT_PLACED]
    groups: dict[str, list[OrderRecord]] = defaultdict(list)
    for o in placed:
        groups[o.strategy or NO_STRATEGY].append(o)
    return FillRates(_row("total", placed), [_row(k, groups[k]) for k in sorted(groups)])


def _row(key: str, orders: list[OrderRecord]) -> FillRateRow:
    return FillRateRow(
        key,
        placed=len(orders),
        filled=sum(o.fill_count > 0 for o in orders),
        fully_filled=sum(o.fill_count >= o.count > 0 for o in orders),
        contracts_placed=sum(o.count for o in orders),
        contracts_filled=sum(min(o.fill_count, o.count) for o in orders),
    )
