"""The backtest report: totals in exact money, per-market statistics (mean, standard error) for the edge.

Totals (P&L, fees) are integer micro-dollars: exact decimal strings in JSON, ``-$14.70`` for people. The
mean and standard error are statistics over markets, not balances, so they are numbers in dollars, rounded
to the micro-dollar (README "JSON output").
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from kxbtc.backtest.sim_loop import RunResult
from kxbtc.llm.recorded import NO_LLM_NOTE
from kxbtc.units import COUNT_SCALE, MONEY_SCALE, format_money, format_usd, format_usd_float, parse_money


@dataclass(frozen=True, slots=True)
class BacktestReport:
    seeds: list[int]
    mispricing: float
    markets: int
    traded_markets: int
    orders: int
    fills: int
    contracts: float
    gross_pnl_usd: str  # before fees
    fees_usd: str
    net_pnl_usd: str
    #: Traded markets that ended with positive net P&L, as a share of traded markets.
    hit_rate: float
    #: Net P&L per market (every market, traded or not), dollars.
    mean_per_market_usd: float
    stderr_per_market_usd: float
    #: mean / standard error: above ~2 the edge is unlikely to be luck.
    t_stat: float
    ledger_matches_exchange: bool
    halts: list[str]
    rejections: dict[str, int]
    exchange_refusals: dict[str, int]
    #: The simulator's backtest runs no LLM ensemble: no model is ever asked about a backtest market.
    llm: str = NO_LLM_NOTE

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def render(self) -> str:
        lines = [
            f"backtest: {self.markets:,} KXBTC15M markets, seeds {', '.join(map(str, self.seeds))},"
            f" mispricing {self.mispricing}",
            f"  traded markets   {self.traded_markets} (hit rate {self.hit_rate:.1%} with net P&L > 0)",
            f"  orders / fills   {self.orders:,} / {self.fills:,} ({self.contracts:,.0f} contracts)",
            f"  P&L before fees  {_usd(self.gross_pnl_usd)}",
            f"  fees             {_usd(self.fees_usd)}",
            f"  net P&L          {_usd(self.net_pnl_usd)}",
            f"  per market       mean {format_usd_float(self.mean_per_market_usd)}  standard error "
            f"{format_usd_float(self.stderr_per_market_usd)}  t = {self.t_stat:.2f}",
            f"  ledger == exchange cash: {'yes' if self.ledger_matches_exchange else 'NO'}",
            f"  capped by risk   {_counts(self.rejections)}",  # decisions sized down or refused, not trips
            f"  llm              {self.llm}",
        ]
        if self.exchange_refusals:
            lines.append(f"  exchange refused {_counts(self.exchange_refusals)}")
        lines += [f"  HALT: {h}" for h in self.halts]
        return "\n".join(lines)


def _usd(exact: str) -> str:
    return format_usd(parse_money(exact))


def _counts(counts: dict[str, int]) -> str:
    """``{'final_freeze': 631}`` -> ``final_freeze 631``: reasons and how often, never a Python dict."""
    return ", ".join(f"{k} {v:,}" for k, v in counts.items()) or "none"


def summarize(runs: Sequence[RunResult]) -> BacktestReport:
    markets = [m for run in runs for m in run.markets]
    traded = [m for m in markets if m.traded]
    nets = [m.net / MONEY_SCALE for m in markets]
    n = len(nets)
    mean = sum(m.net for m in markets) / MONEY_SCALE / n if n else 0.0
    var = sum((x - mean) ** 2 for x in nets) / (n - 1) if n > 1 else 0.0
    stderr = math.sqrt(var / n) if n else 0.0
    rejections: Counter[str] = Counter()
    refused: Counter[str] = Counter()
    for run in runs:
        rejections.update(run.rejections)
        refused.update(run.refused)
    gross = sum(m.gross for m in markets)
    fees = sum(m.fees for m in markets)
    return BacktestReport(
        seeds=[run.seed for run in runs],
        mispricing=runs[0].mispricing if runs else 0.0,
        markets=n,
        traded_markets=len(traded),
        orders=sum(m.orders for m in markets),
        fills=sum(m.fills for m in markets),
        contracts=sum(m.contracts for m in markets) / COUNT_SCALE,
        gross_pnl_usd=format_money(gross),
        fees_usd=format_money(fees),
        net_pnl_usd=format_money(gross - fees),
        hit_rate=round(sum(m.net > 0 for m in traded) / len(traded), 6) if traded else 0.0,
        mean_per_market_usd=round(mean, 6),
        stderr_per_market_usd=round(stderr, 6),
        t_stat=round(mean / stderr, 6) if stderr else 0.0,
        ledger_matches_exchange=all(run.ledger_matches_exchange for run in runs),
        halts=[f"seed {run.seed}: {h}" for run in runs for h in run.halts],
        rejections=dict(sorted(rejections.items())),
        exchange_refusals=dict(sorted(refused.items())),
    )
