"""The tearsheet as one JSON object: the same figures as the page, for scripts and CI.

Money is ``fmt.money``: exact micro-dollars, the exact decimal string and the page's text; per-contract
amounts are ``fmt.price_json`` and counts ``fmt.count_json``. Probabilities and Brier scores are floats
(they are model outputs, not money).
"""

from __future__ import annotations

from kxbtc.ops.render import JsonObject, iso_time, risk_event_json
from kxbtc.report import fmt
from kxbtc.report.fees import FeeRow
from kxbtc.report.fill_rates import FillRateRow
from kxbtc.report.intervals import Interval
from kxbtc.report.pnl import PnlRow
from kxbtc.report.slippage import SlippageRow
from kxbtc.report.tearsheet import Tearsheet
from kxbtc.research.bootstrap import LEVEL


def _time(ts_ns: int | None) -> str | None:
    return None if ts_ns is None else iso_time(ts_ns)


def _money_or_none(value: int | None) -> JsonObject | None:
    return None if value is None else fmt.money(value)


def _interval(value: Interval | None) -> JsonObject | None:
    return None if value is None else {"low": fmt.money(value.low), "high": fmt.money(value.high)}


def _pnl_row(r: PnlRow) -> JsonObject:
    return {
        "key": r.key,
        "net": fmt.money(r.net),
        "interval": _interval(r.interval),
        "fees": fmt.money(r.fees),
        "volume": fmt.count_json(r.volume),
        "markets": r.markets,
    }


def _fee_row(r: FeeRow) -> JsonObject:
    return {
        "key": r.key,
        "fills": r.fills,
        "volume": fmt.count_json(r.volume),
        "fees": fmt.money(r.fees),
        "per_contract": fmt.price_json(fmt.money_per_count(r.fees, r.volume)),
    }


def _slippage_row(r: SlippageRow) -> JsonObject:
    return {
        "key": r.key,
        "fills": r.fills,
        "volume": fmt.count_json(r.volume),
        "per_contract": fmt.price_json(r.per_contract),
        "cost": fmt.money(r.cost),
    }


def _fill_rate_row(r: FillRateRow) -> JsonObject:
    return {
        "key": r.key,
        "placed": r.placed,
        "filled": r.filled,
        "fully_filled": r.fully_filled,
        "rate": r.filled / r.placed if r.placed else None,
        "contracts_placed": fmt.count_json(r.contracts_placed),
        "contracts_filled": fmt.count_json(r.contracts_filled),
    }


def as_json(sheet: Tearsheet) -> JsonObject:
    o, eq, p, h, f = sheet.overview, sheet.equity, sheet.pnl, sheet.hits, sheet.forecast
    return {
        "db": o.db,
        "period": {"first": _time(o.first_ns), "last": _time(o.last_ns)},
        "overview": {
            "markets_traded": o.markets_traded,
            "markets_settled": o.markets_settled,
            "orders": o.orders,
            "fills": o.fills,
            "volume": fmt.count_json(o.volume),
            "decisions": o.decisions,
        },
        "equity": {
            "start": _money_or_none(eq.start),
            "end": _money_or_none(eq.end),
            "peak": _money_or_none(eq.peak),
            "max_drawdown": fmt.money(eq.max_drawdown),
            "max_drawdown_time": _time(eq.max_drawdown_ns),
            "points": [
                {"time": iso_time(x.ts_ns), "equity": fmt.money(x.equity), "drawdown": fmt.money(x.drawdown)}
                for x in eq.points
            ],
        },
        "pnl": {
            "level": LEVEL,
            "resamples": p.resamples,
            "seed": p.seed,
            "total": _pnl_row(p.total),
            "mean_per_market": fmt.money(p.mean_per_market),
            "mean_per_market_interval": _interval(p.mean_interval),
            "by_strategy": [_pnl_row(r) for r in p.by_strategy],
            "by_hour": [_pnl_row(r) for r in p.by_hour],
            "by_market": [
                {
                    "ticker": m.ticker,
                    "result": m.result,
                    "net": fmt.money(m.net),
                    "fees": fmt.money(m.fees),
                    "volume": fmt.count_json(m.volume),
                }
                for m in p.by_market
            ],
        },
        "fees": {
            "total": _fee_row(sheet.fees.total),
            "by_liquidity": [_fee_row(r) for r in sheet.fees.by_liquidity],
            "by_strategy": [_fee_row(r) for r in sheet.fees.by_strategy],
        },
        "hit_rate": {
            "markets_settled": h.markets_settled,
            "markets_won": h.markets_won,
            "fills_settled": h.fills_settled,
            "fills_won": h.fills_won,
            "contracts_settled": fmt.count_json(h.contracts_settled),
            "contracts_won": fmt.count_json(h.contracts_won),
        },
        "slippage": {
            "total": _slippage_row(sheet.slippage.total),
            "by_strategy": [_slippage_row(r) for r in sheet.slippage.by_strategy],
            "unmatched_fills": sheet.slippage.unmatched,
        },
        "fill_rates": {
            "total": _fill_rate_row(sheet.fill_rates.total),
            "by_strategy": [_fill_rate_row(r) for r in sheet.fill_rates.by_strategy],
        },
        "risk_events": {
            "counts": [{"kind": c.kind, "severity": c.severity, "count": c.count} for c in sheet.risk_counts],
            "events": [risk_event_json(e) for e in sheet.risk_events],
        },
        "forecast": {
            "forecasts": f.forecasts,
            "markets": f.markets,
            "base_rate": f.base_rate,
            "brier": f.brier,
            "brier_base_rate": f.brier_base_rate,
            "bins": [
                {
                    "lower": b.lower,
                    "upper": b.upper,
                    "n": b.n,
                    "mean_forecast": b.mean_forecast,
                    "observed": b.observed,
                    "interval": None if b.interval is None else list(b.interval),
                }
                for b in f.bins
            ],
        },
        "warnings": sheet.warnings,
    }
