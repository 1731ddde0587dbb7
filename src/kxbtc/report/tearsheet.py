"""Everything the tearsheet shows, computed once from one read-only connection.

The HTML page, the PNGs and ``--json`` are all views of this one ``Tearsheet``, so they can never
disagree. Each section is computed by its own module; this one reads the store once and hands each
section the records it needs.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from kxbtc.ops import pnl_report
from kxbtc.report.equity import EquitySummary, equity_summary
from kxbtc.report.fees import FeeSummary, fee_summary
from kxbtc.report.fill_rates import FillRates, fill_rates
from kxbtc.report.forecast import ForecastReliability, forecast_reliability
from kxbtc.report.hit_rate import HitRate, hit_rate
from kxbtc.report.intervals import DEFAULT_SEED, MarketResampler
from kxbtc.report.pnl import PnlBreakdown, breakdown, traded_markets
from kxbtc.report.queries import decision_inputs
from kxbtc.report.slippage import SlippageSummary, slippage
from kxbtc.research.bootstrap import DEFAULT_RESAMPLES
from kxbtc.store.reads import read_fills, read_orders, read_risk_events, read_settlements
from kxbtc.store.records import RiskEventRecord


@dataclass(frozen=True, slots=True)
class Overview:
    db: str
    first_ns: int | None  # the earliest order, fill, settlement or snapshot
    last_ns: int | None
    markets_traded: int
    markets_settled: int
    orders: int
    fills: int
    volume: int  # Count
    decisions: int


@dataclass(frozen=True, slots=True)
class RiskEventCount:
    kind: str
    severity: str
    count: int


@dataclass(frozen=True, slots=True)
class Tearsheet:
    overview: Overview
    equity: EquitySummary
    pnl: PnlBreakdown
    fees: FeeSummary
    hits: HitRate
    slippage: SlippageSummary
    fill_rates: FillRates
    risk_counts: list[RiskEventCount]
    risk_events: list[RiskEventRecord]  # oldest first
    forecast: ForecastReliability
    warnings: list[str]


def build(
    conn: sqlite3.Connection, db: Path, *, seed: int = DEFAULT_SEED, resamples: int = DEFAULT_RESAMPLES
) -> Tearsheet:
    fills, settlements, orders = read_fills(conn), read_settlements(conn), read_orders(conn)
    decisions = decision_inputs(conn)
    risk_events = read_risk_events(conn)
    result = pnl_report.replay(fills, settlements)
    markets = traded_markets(result)
    equity = equity_summary(conn)
    stamps = [
        *(o.created_ns for o in orders),
        *(f.ts_ns for f in fills),
        *(s.settled_ns for s in settlements),
        *(p.ts_ns for p in equity.points),
    ]
    overview = Overview(
        db=str(db),
        first_ns=min(stamps, default=None),
        last_ns=max(stamps, default=None),
        markets_traded=len(markets),
        markets_settled=sum(result.ledger.markets[t].settled for t in markets),
        orders=len(orders),
        fills=len(fills),
        volume=sum(f.count for f in fills),
        decisions=len(decisions),
    )
    counts = Counter((e.kind, e.severity) for e in risk_events)
    return Tearsheet(
        overview=overview,
        equity=equity,
        pnl=breakdown(result, MarketResampler(markets, seed=seed, resamples=resamples)),
        fees=fee_summary(fills),
        hits=hit_rate(result, fills, settlements),
        slippage=slippage(fills, orders, decisions),
        fill_rates=fill_rates(orders),
        risk_counts=[RiskEventCount(k, s, n) for (k, s), n in sorted(counts.items())],
        risk_events=risk_events,
        forecast=forecast_reliability(decisions, settlements),
        warnings=list(result.warnings),
    )
