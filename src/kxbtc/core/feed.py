"""The operator's event feed: what happened, one line each, in the market's clock.

The core (and the driver around it) says what happened through ``Feed.emit``; whoever watches (the
terminal view, the log, the alert notifier) implements ``FeedSink``. Lines are built here from domain
events, the core's own decisions and what the ledger booked, never by reading logs back. Money and
contracts go through ``kxbtc.units`` so every sink shows the same figures.

Emitting costs nothing when no sink is attached: the fast path checks ``Feed.active`` first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from kxbtc.domain.instrument import Instrument
from kxbtc.risk.limits import ApprovedOrder
from kxbtc.store.records import FillRecord, RiskEventRecord
from kxbtc.units import Money, format_contracts, format_price_usd, format_usd

#: Risk-event kinds the reconciliation writes when it repairs the local state from the exchange's.
REPAIR_KINDS = {
    "repaired_fill": "a fill the stream missed",
    "repaired_order": "an order's state",
    "position_mismatch": "a position that disagreed",
}

#: The kill switch's kinds (``kxbtc halt`` / ``kxbtc resume``); other halt-severity kinds are breakers.
HALT_KINDS = frozenset({"manual_halt", "resume"})

#: Every kind of feed line. ``breaker`` is a risk limit that stops trading; ``halt`` is the manual
#: kill switch or a halt-severity breaker; ``connection`` is a venue stream going down or coming back.
KINDS = (
    "market_opened",
    "order_sent",
    "order_filled",
    "order_rejected",
    "breaker",
    "halt",
    "market_settled",
    "repair",
    "connection",
    "info",
)


@dataclass(frozen=True, slots=True)
class FeedEvent:
    ts_ns: int  # the market's clock (simulated in the demo)
    kind: str  # one of ``KINDS``
    text: str  # the line people read, without the time
    ticker: str = ""
    severity: str = "info"  # info | warning | halt
    #: ``market_settled``: the market's realized P&L net of fees; ``order_filled``: the fill's fee.
    amount: Money | None = None
    venue: str = ""  # ``connection``: whose stream


class FeedSink(Protocol):
    def on_feed(self, event: FeedEvent) -> None: ...


class Feed:
    """Fan-out of feed events to the attached sinks. A sink that raises is detached, never the caller
    stopped: the feed is for people, trading goes on without it."""

    def __init__(self) -> None:
        self.sinks: list[FeedSink] = []
        self.failures: list[str] = []

    @property
    def active(self) -> bool:
        return bool(self.sinks)

    def attach(self, sink: FeedSink) -> None:
        self.sinks.append(sink)

    def detach(self, sink: FeedSink) -> None:
        if sink in self.sinks:
            self.sinks.remove(sink)

    def emit(self, event: FeedEvent) -> None:
        for sink in list(self.sinks):
            try:
                sink.on_feed(event)
            except Exception as exc:  # a broken display must not stop trading; the reason is kept
                self.failures.append(f"{type(sink).__name__}: {exc!r}")
                self.detach(sink)


# -- the lines ----------------------------------------------------------------------------------------


def _strike(instrument: Instrument) -> str:
    floor, cap = instrument.floor_strike, instrument.cap_strike
    if instrument.strike_type == "between" and floor is not None and cap is not None:
        return f"BTC between ${floor:,.2f} and ${cap:,.2f}"
    words = {"greater": ">", "greater_or_equal": ">=", "less": "<", "less_or_equal": "<="}
    strike = instrument.strike
    if strike is None:
        return "strike not set yet"
    return f"BTC {words.get(instrument.strike_type, instrument.strike_type)} ${strike:,.2f}"


def market_opened(instrument: Instrument, now_ns: int) -> FeedEvent:
    minutes = max(0, (instrument.close_ns - now_ns) // 60_000_000_000)
    text = f"market opened {instrument.ticker}: {_strike(instrument)}, closes in {minutes} min"
    return FeedEvent(now_ns, "market_opened", text, instrument.ticker)


def order_sent(order: ApprovedOrder, now_ns: int) -> FeedEvent:
    intent = order.intent
    side = "buy YES" if intent.side == "bid" else "sell YES"
    capped = f" (asked {format_contracts(intent.count)}; {order.notes})" if order.notes else ""
    text = (
        f"order sent {intent.ticker}: {side} {format_contracts(order.count)} at "
        f"{format_price_usd(intent.price)} [{intent.strategy}]{capped}"
    )
    return FeedEvent(now_ns, "order_sent", text, intent.ticker)


def order_filled(fill: FillRecord) -> FeedEvent:
    side = "bought YES" if fill.side == "bid" else "sold YES"
    repaired = " (found by reconciliation)" if fill.source == "rest" else ""
    text = (
        f"order filled {fill.ticker}: {side} {format_contracts(fill.count)}"
        f" at {format_price_usd(fill.price)}, fee {format_usd(fill.fee)}{repaired}"
    )
    return FeedEvent(fill.ts_ns, "order_filled", text, fill.ticker, amount=Money(fill.fee))


def order_rejected(ticker: str, strategy: str, rule: str, reason: str, now_ns: int) -> FeedEvent:
    text = f"order rejected {ticker} [{strategy}]: limit {rule}: {reason}"
    return FeedEvent(now_ns, "order_rejected", text, ticker, severity="warning")


def exchange_rejected(ticker: str, client_order_id: str, code: str, now_ns: int) -> FeedEvent:
    text = f"order rejected {ticker} by the exchange: {code or 'no reason given'} ({client_order_id})"
    return FeedEvent(now_ns, "order_rejected", text, ticker, severity="warning")


def market_settled(ticker: str, result: str, net_pnl: Money, now_ns: int) -> FeedEvent:
    text = f"market settled {ticker}: {result.upper()}, P&L {format_usd(net_pnl)} (net of fees)"
    return FeedEvent(now_ns, "market_settled", text, ticker, amount=net_pnl)


def risk_event(record: RiskEventRecord) -> FeedEvent:
    """A risk or reconciliation record as a feed line: breakers, halts, repairs, notes."""
    if record.kind in REPAIR_KINDS:
        kind, text = "repair", f"reconcile repaired {REPAIR_KINDS[record.kind]}: {record.detail}"
    elif record.kind in HALT_KINDS:
        kind, text = "halt", f"{record.kind.replace('_', ' ')}: {record.detail}"
    elif record.severity == "halt":
        kind, text = "breaker", f"breaker tripped: {record.kind}: {record.detail}"
    else:
        kind, text = "info", f"{record.kind.replace('_', ' ')}: {record.detail}"
    return FeedEvent(record.ts_ns, kind, text, severity=record.severity)


def connection(venue: str, connected: bool, now_ns: int) -> FeedEvent:
    state, severity = ("connected", "info") if connected else ("disconnected", "warning")
    return FeedEvent(now_ns, "connection", f"{venue} stream {state}", severity=severity, venue=venue)
