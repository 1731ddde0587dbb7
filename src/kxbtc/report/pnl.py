"""Realized P&L after fees by strategy, by market and by hour of the day, each with its 95 % interval.

The figures come from ``kxbtc.ops.pnl_report.replay`` (the fills and settlements replayed through the
ledger in time order), so they are the numbers ``kxbtc pnl`` prints. What this module adds is each
group's P&L *per market*, which is what the interval resamples (``kxbtc.report.intervals``):

- by strategy: each strategy's own ledger per market; what the netted total and the strategies' sum
  disagree on (cross-strategy netting, fees no strategy paid) is the ``(unattributed)`` line, as in
  ``kxbtc pnl``;
- by hour: each fill's and settlement's change in realized P&L, less its fee, at the UTC hour of day it
  happened (a settlement books the whole held position at the hour the market settled);
- by market: one line per market. A single market resampled is only itself drawn 0, 1, 2... times, which
  says nothing, so the market table carries no per-line interval; the interval it shows is that of the
  total and of the mean per market.

Open positions are not marked: realized only. Equity (with marks) is the equity section.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from kxbtc.ops.pnl_report import UNATTRIBUTED, Replay
from kxbtc.report.intervals import Interval, MarketResampler, divide_rounded

_NS_PER_S = 1_000_000_000


@dataclass(frozen=True, slots=True)
class PnlRow:
    key: str
    net: int  # Money, realized after fees
    fees: int  # Money
    volume: int  # Count traded
    markets: int  # markets this line had P&L or trades in
    interval: Interval | None  # of ``net``, resampling markets


@dataclass(frozen=True, slots=True)
class MarketRow:
    ticker: str
    net: int  # Money
    fees: int  # Money
    volume: int  # Count
    result: str  # "yes", "no", or "open"


@dataclass(frozen=True, slots=True)
class PnlBreakdown:
    total: PnlRow
    mean_per_market: int  # Money
    mean_interval: Interval | None
    by_strategy: list[PnlRow]
    by_hour: list[PnlRow]
    by_market: list[MarketRow]
    seed: int
    resamples: int


def hour_of_day(ts_ns: int) -> str:
    return datetime.fromtimestamp(ts_ns // _NS_PER_S, UTC).strftime("%H:00 UTC")


def traded_markets(result: Replay) -> list[str]:
    """Markets with a fill or P&L: a settlement alone (nothing held) does not make a market traded."""
    return sorted(t for t, m in result.ledger.markets.items() if m.volume or m.realized or m.fees)


def breakdown(result: Replay, resampler: MarketResampler) -> PnlBreakdown:
    markets = resampler.markets
    per_market = {t: result.ledger.markets[t].net_realized for t in markets}
    total = _row("total", per_market, result, markets, resampler)
    n = len(markets)
    return PnlBreakdown(
        total=total,
        mean_per_market=divide_rounded(total.net, n),
        mean_interval=resampler.mean_interval(per_market),
        by_strategy=_by_strategy(result, resampler),
        by_hour=_by_hour(result, resampler),
        by_market=[_market_row(result, t) for t in markets],
        seed=resampler.seed,
        resamples=resampler.resamples,
    )


def _row(
    key: str, per_market: Mapping[str, int], result: Replay, markets: list[str], resampler: MarketResampler
) -> PnlRow:
    ledgers = [result.ledger.markets[t] for t in markets]
    return PnlRow(
        key,
        net=sum(per_market.values()),
        fees=sum(m.fees for m in ledgers),
        volume=sum(m.volume for m in ledgers),
        markets=len(markets),
        interval=resampler.interval(per_market),
    )


def _by_strategy(result: Replay, resampler: MarketResampler) -> list[PnlRow]:
    rows: list[PnlRow] = []
    attributed: dict[str, int] = defaultdict(int)
    attributed_fees = 0
    for name, ledger in sorted(result.by_strategy.items()):
        own = {t: m.net_realized for t, m in ledger.markets.items() if t in resampler}
        for ticker, amount in own.items():
            attributed[ticker] += amount
        fees = ledger.total_fees()
        attributed_fees += fees
        volume = sum(m.volume for m in ledger.markets.values())
        rows.append(PnlRow(name, sum(own.values()), fees, volume, len(own), resampler.interval(own)))
    rest = {
        t: result.ledger.markets[t].net_realized - attributed.get(t, 0)
        for t in resampler.markets
        if result.ledger.markets[t].net_realized != attributed.get(t, 0)
    }
    if rest:
        whole_fees = result.ledger.total_fees()
        rows.append(
            PnlRow(
                UNATTRIBUTED,
                sum(rest.values()),
                whole_fees - attributed_fees,
                0,
                len(rest),
                resampler.interval(rest),
            )
        )
    return rows


def _by_hour(result: Replay, resampler: MarketResampler) -> list[PnlRow]:
    net: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    fees: dict[str, int] = defaultdict(int)
    volume: dict[str, int] = defaultdict(int)
    for event in result.events:
        if event.ticker not in resampler:
            continue
        hour = hour_of_day(event.ts_ns)
        net[hour][event.ticker] += event.realized - event.fee
        fees[hour] += event.fee
        volume[hour] += event.volume
    return [
        PnlRow(
            hour,
            sum(net[hour].values()),
            fees[hour],
            volume[hour],
            len(net[hour]),
            resampler.interval(net[hour]),
        )
        for hour in sorted(net)
    ]


def _market_row(result: Replay, ticker: str) -> MarketRow:
    m = result.ledger.markets[ticker]
    return MarketRow(ticker, m.net_realized, m.fees, m.volume, m.result if m.settled else "open")
