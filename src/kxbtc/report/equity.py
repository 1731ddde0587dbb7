"""Equity and drawdown from the P&L snapshots the engine records (marks included, fees paid).

The curve is ``kxbtc.dashboard.queries.equity_curve``: every snapshot, or when there are very many,
each run's lowest and highest point, so the deepest drawdown survives the thinning. Drawdown at a point
is its equity less the highest equity seen up to then (zero or negative).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from kxbtc.dashboard.queries import equity_curve


@dataclass(frozen=True, slots=True)
class EquityPoint:
    ts_ns: int
    equity: int  # Money
    drawdown: int  # Money, <= 0


@dataclass(frozen=True, slots=True)
class EquitySummary:
    points: list[EquityPoint]
    start: int | None  # Money
    end: int | None
    peak: int | None
    max_drawdown: int  # Money, <= 0
    max_drawdown_ns: int | None  # when the deepest drawdown was reached


def equity_summary(conn: sqlite3.Connection) -> EquitySummary:
    points: list[EquityPoint] = []
    peak: int | None = None
    for snapshot in equity_curve(conn):
        peak = snapshot.equity if peak is None else max(peak, snapshot.equity)
        points.append(EquityPoint(snapshot.ts_ns, snapshot.equity, snapshot.equity - peak))
    if not points:
        return EquitySummary([], None, None, None, 0, None)
    deepest = min(points, key=lambda p: (p.drawdown, p.ts_ns))
    return EquitySummary(
        points,
        start=points[0].equity,
        end=points[-1].equity,
        peak=peak,
        max_drawdown=deepest.drawdown,
        max_drawdown_ns=deepest.ts_ns if deepest.drawdown < 0 else None,
    )
