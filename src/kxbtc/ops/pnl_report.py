"""Realized P&L from the recorded fills and settlements, grouped by market, UTC day or strategy.

The fills and settlements are replayed in time order through ``kxbtc.pnl.Ledger``: one netted position
per market, exactly as cash moves on Kalshi. Each event's change in realized P&L is booked to the
market and the UTC day of that event.

By strategy, each strategy's fills are replayed in a ledger of their own (as if it traded alone), so a
settlement credits each strategy for the contracts it bought. When two strategies traded against each
other in a market not yet settled, the netted total differs from the strategies' sum; that difference,
and settlement fees (which belong to no single strategy), are shown on an ``(unattributed)`` line so
the lines always add up to the total.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from kxbtc.errors import KxbtcError
from kxbtc.pnl import Ledger
from kxbtc.store.records import FillRecord, PositionRecord, SettlementRecord
from kxbtc.units import format_usd

GroupBy = Literal["strategy", "market", "day"]
GROUPINGS: tuple[GroupBy, ...] = ("strategy", "market", "day")
UNATTRIBUTED = "(unattributed)"
NO_STRATEGY = "(none)"

_NS_PER_S = 1_000_000_000


class ReplayError(KxbtcError):
    """A recorded fill cannot be applied (e.g. a zero count): the store holds something impossible."""


def utc_day(ts_ns: int) -> str:
    return datetime.fromtimestamp(ts_ns // _NS_PER_S, UTC).strftime("%Y-%m-%d")


@dataclass(frozen=True, slots=True)
class PnlEvent:
    """What one fill or settlement did to the netted ledger."""

    ts_ns: int
    ticker: str
    kind: Literal["fill", "settlement"]
    realized: int  # Money: change in realized P&L, before fees
    fee: int  # Money
    volume: int  # Count traded (0 for a settlement)


@dataclass(slots=True)
class PnlLine:
    key: str
    realized: int = 0  # Money, before fees
    fees: int = 0  # Money
    volume: int = 0  # Count
    fills: int = 0

    @property
    def net(self) -> int:
        return self.realized - self.fees


@dataclass(slots=True)
class Replay:
    ledger: Ledger = field(default_factory=Ledger)  # netted per market
    by_strategy: dict[str, Ledger] = field(default_factory=dict)
    fills_by_strategy: dict[str, int] = field(default_factory=dict)
    events: list[PnlEvent] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def replay(fills: Iterable[FillRecord], settlements: Iterable[SettlementRecord]) -> Replay:
    # A fill and a settlement at the same instant: the fill came first (it could not follow settlement).
    timeline: list[tuple[int, int, str, FillRecord | SettlementRecord]] = [
        (f.ts_ns, 0, f.fill_id, f) for f in fills
    ]
    timeline += [(s.settled_ns, 1, s.ticker, s) for s in settlements]
    timeline.sort(key=lambda item: item[:3])
    out = Replay()
    for _, _, _, item in timeline:
        if isinstance(item, FillRecord):
            _apply_fill(out, item)
        else:
            _apply_settlement(out, item)
    return out


def _apply_fill(out: Replay, fill: FillRecord) -> None:
    market = out.ledger.market(fill.ticker)
    before = market.realized
    strategy = fill.strategy or NO_STRATEGY
    own = out.by_strategy.setdefault(strategy, Ledger())
    try:
        market.apply_fill(fill.side, fill.price, fill.count, fill.fee)
        own.apply_fill(fill.ticker, fill.side, fill.price, fill.count, fill.fee)
    except ValueError as exc:
        raise ReplayError(f"fill {fill.fill_id} on {fill.ticker}: {exc}") from None
    out.fills_by_strategy[strategy] = out.fills_by_strategy.get(strategy, 0) + 1
    out.events.append(
        PnlEvent(fill.ts_ns, fill.ticker, "fill", market.realized - before, fill.fee, fill.count)
    )


def _apply_settlement(out: Replay, settlement: SettlementRecord) -> None:
    if settlement.result not in ("yes", "no"):
        # A voided market refunds at cost; Ledger only settles binary results, so leave it open and say so.
        out.warnings.append(
            f"settlement of {settlement.ticker} with result {settlement.result!r} was not applied"
        )
        return
    market = out.ledger.market(settlement.ticker)
    before = market.realized
    # The exchange's ``fee_cost`` on a settlement is the total of the fees already paid on that market's
    # fills (Kalshi charges nothing at settlement): counting it again would double the fees. It is a
    # cross-check instead.
    if settlement.fee and settlement.fee != market.fees:
        out.warnings.append(
            f"settlement of {settlement.ticker} reports fees {format_usd(settlement.fee)}, the recorded"
            f" fills paid {format_usd(market.fees)}"
        )
    market.settle(settlement.result)
    for own in out.by_strategy.values():
        if settlement.ticker in own.markets:
            own.settle(settlement.ticker, settlement.result)
    out.events.append(
        PnlEvent(
            settlement.settled_ns,
            settlement.ticker,
            "settlement",
            market.realized - before,
            0,
            0,
        )
    )


def total(events: Iterable[PnlEvent], key: str = "total") -> PnlLine:
    line = PnlLine(key)
    for event in events:
        _add(line, event)
    return line


def _add(line: PnlLine, event: PnlEvent) -> None:
    line.realized += event.realized
    line.fees += event.fee
    line.volume += event.volume
    line.fills += event.kind == "fill"


def group(result: Replay, by: GroupBy) -> list[PnlLine]:
    """P&L lines sorted by key; they always sum to ``total(result.events)``."""
    if by == "strategy":
        return _by_strategy(result)
    lines: dict[str, PnlLine] = {}
    for event in result.events:
        key = event.ticker if by == "market" else utc_day(event.ts_ns)
        _add(lines.setdefault(key, PnlLine(key)), event)
    return [lines[k] for k in sorted(lines)]


def _by_strategy(result: Replay) -> list[PnlLine]:
    lines = [
        PnlLine(
            name,
            realized=ledger.total_realized(),
            fees=ledger.total_fees(),
            volume=sum(m.volume for m in ledger.markets.values()),
            fills=result.fills_by_strategy.get(name, 0),
        )
        for name, ledger in sorted(result.by_strategy.items())
    ]
    whole = total(result.events)
    rest = PnlLine(
        UNATTRIBUTED,
        realized=whole.realized - sum(line.realized for line in lines),
        fees=whole.fees - sum(line.fees for line in lines),
    )
    if rest.realized or rest.fees:
        lines.append(rest)
    return lines


def day_line(result: Replay, day: str) -> PnlLine:
    return total((e for e in result.events if utc_day(e.ts_ns) == day), key=day)


@dataclass(frozen=True, slots=True)
class OpenPosition:
    ticker: str
    position: int  # Count, signed: > 0 long YES, < 0 long NO
    cost: int  # Money: basis of the open contracts
    realized: int  # Money, before fees, so far in this market
    fees: int  # Money
    exchange_position: int | None  # Count, as the exchange last reported it (None: never reported)
    exchange_exposure: int | None  # Money


def open_positions(result: Replay, exchange: Iterable[PositionRecord]) -> list[OpenPosition]:
    """Markets open in the replayed ledger, or open by the exchange's last report (a mismatch to see)."""
    reported = {p.ticker: p for p in exchange}
    markets = result.ledger.markets
    tickers = {t for t, m in markets.items() if m.position}
    tickers |= {t for t, p in reported.items() if p.position and not (t in markets and markets[t].settled)}
    rows = []
    for ticker in sorted(tickers):
        m = result.ledger.market(ticker) if ticker in markets else None
        theirs = reported.get(ticker)
        rows.append(
            OpenPosition(
                ticker=ticker,
                position=m.position if m else 0,
                cost=m.cost if m else 0,
                realized=m.realized if m else 0,
                fees=m.fees if m else 0,
                exchange_position=None if theirs is None else theirs.position,
                exchange_exposure=None if theirs is None else theirs.exposure,
            )
        )
    return rows
