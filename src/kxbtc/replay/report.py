"""The result of a replay: P&L per market after exact fees, totals, and intervals from resampling
whole markets (markets are the independent units: every contract of one market settles on the same
average)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from kxbtc.llm.recorded import NO_LLM_NOTE
from kxbtc.replay.runner import ReplayRunner
from kxbtc.units import MONEY_SCALE, format_money, format_usd, format_usd_float

BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 20260513

LIMITATIONS = (
    "takers fill only against the displayed opposite side as recorded `latency` after the decision, never "
    "beyond the displayed size",
    "what an order takes is not removed from the books recorded after it: the market's reaction is unknown",
    "good-till-canceled remainders rest at the back of their level's queue, advance only as recorded size "
    "at that level disappears (assumed behind us where it could be) and fill only when the recorded book "
    "trades through their price, never beyond the opposite size shown",
    "fees are charged per price level taken; Kalshi charges per maker order, which can round up a "
    "little more",
)


@dataclass(slots=True)
class MarketOutcome:
    ticker: str
    result: str
    orders: int
    fills: int
    contracts: float
    gross: int  # Money: realized P&L before fees (unsettled: marked at the last mid)
    fees: int  # Money
    settled: bool

    @property
    def net(self) -> int:
        return self.gross - self.fees


@dataclass(slots=True)
class ReplayReport:
    recordings: list[str]
    latency_ms: float
    index: str
    markets: list[MarketOutcome] = field(default_factory=list)
    counts: dict[str, Any] = field(default_factory=dict)
    halts: list[str] = field(default_factory=list)
    rejections: dict[str, int] = field(default_factory=dict)
    #: Where the strategies' LLM priors came from: never fresh calls (``kxbtc.llm.recorded``).
    llm: str = NO_LLM_NOTE

    @property
    def net(self) -> int:
        return sum(m.net for m in self.markets)

    @property
    def fees(self) -> int:
        return sum(m.fees for m in self.markets)

    @property
    def trades(self) -> int:
        return sum(m.fills for m in self.markets)

    def net_interval(self) -> tuple[float, float]:
        """95% percentile interval of the total net P&L (dollars), resampling whole markets. Summed in
        exact micro-dollars and divided once, so the ends carry no float residue (-13.055759999999998)."""
        nets = [m.net for m in self.markets]
        if not nets:
            return (0.0, 0.0)
        rng = random.Random(BOOTSTRAP_SEED)
        totals = sorted(sum(rng.choices(nets, k=len(nets))) for _ in range(BOOTSTRAP_RESAMPLES))
        low, high = totals[int(0.025 * len(totals))], totals[int(0.975 * len(totals)) - 1]
        return low / MONEY_SCALE, high / MONEY_SCALE

    def to_json(self) -> dict[str, Any]:
        low, high = self.net_interval()
        traded = [m for m in self.markets if m.fills]
        contracts = round(sum(m.contracts for m in self.markets), 2)
        return {
            "recordings": self.recordings,
            "latency_ms": self.latency_ms,
            "index": self.index,
            "markets": len(self.markets),
            "markets_traded": len(traded),
            "trades": self.trades,
            "contracts": contracts,
            "fees": self.fees / MONEY_SCALE,
            "net_pnl": self.net / MONEY_SCALE,
            "net_pnl_interval_95": [low, high],
            "net_per_contract": round(self.net / MONEY_SCALE / contracts, 6) if contracts else 0.0,
            "money_exact": {"fees_usd": format_money(self.fees), "net_pnl_usd": format_money(self.net)},
            "halts": self.halts,
            "rejections": self.rejections,
            "llm": self.llm,
            "counts": self.counts,
            "by_market": [
                {
                    "ticker": m.ticker,
                    "result": m.result,
                    "orders": m.orders,
                    "fills": m.fills,
                    "contracts": round(m.contracts, 2),
                    "net_usd": format_money(m.net),
                    "fees_usd": format_money(m.fees),
                    "settled": m.settled,
                }
                for m in traded
            ],
            "limitations": list(LIMITATIONS),
        }

    def render(self) -> str:
        low, high = self.net_interval()
        data = self.to_json()
        lines = [
            f"replay of {', '.join(self.recordings)} at {self.latency_ms:g} ms latency, "
            f"index from {self.index}",
            f"  markets           {data['markets']} ({data['markets_traded']} traded)",
            f"  trades            {self.trades} ({data['contracts']:,.0f} contracts)",
            f"  fees              {format_usd(self.fees)}",
            f"  net P&L           {format_usd(self.net)}  "
            f"(95% interval over markets {_usd(low)} .. {_usd(high)})",
            f"  capped by risk    {', '.join(f'{k} {v:,}' for k, v in self.rejections.items()) or 'none'}",
        ]
        lines.append(f"  llm               {self.llm}")
        lines += [f"  HALT: {h}" for h in self.halts]
        lines += [f"  limitation: {text}" for text in LIMITATIONS]
        return "\n".join(lines)


def _usd(dollars: float) -> str:
    """A dollar figure (the bootstrap's) for people, through the one money formatter."""
    return format_usd_float(dollars)


def outcomes(runner: ReplayRunner) -> list[MarketOutcome]:
    """One outcome per market that had a recorded book or that we traded; an open position without a
    result is valued at its last mid."""
    ledger = runner.core.portfolio.ledger
    settled = runner.core.portfolio.settled
    out = []
    for ticker in sorted(runner.listed):
        info = runner.markets[ticker]
        pnl = ledger.markets.get(ticker)
        if pnl is None and ticker not in runner.with_book:
            continue
        until = runner.settings.trade_until_ns
        if info.open_ns < runner.settings.trade_from_ns or 0 < until <= info.open_ns:
            continue  # outside the part traded: observed, not reported
        gross = fees = volume = 0
        if pnl is not None:
            mark = runner.core.account.mark(ticker)
            unrealized = pnl.unrealized(mark) if pnl.position and mark is not None else 0
            gross, fees, volume = pnl.realized + unrealized, pnl.fees, pnl.volume
        out.append(
            MarketOutcome(
                ticker,
                runner.results.get(ticker) or info.result or "",
                runner.orders_by_market[ticker],
                runner.fills_by_market[ticker] + runner.resting.maker_fills[ticker],
                volume / 100,
                gross,
                fees,
                ticker in settled,
            )
        )
    return out
