"""REST reconciliation: make the local record agree with the exchange, and say what was repaired.

Runs at start, after every WS reconnect and periodically. The exchange is the truth:
- fills the WS stream missed are added (by ``fill_id``, so nothing is counted twice);
- orders whose outcome we do not know (``intended``, ``unknown``, ``resting``) are looked up by
  ``client_order_id`` and their state recorded;
- settlements are applied once each;
- positions are compared with the ones derived from fills, and every difference is logged as a
  risk event before the exchange's figure is stored.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from kxbtc.clock import NS_PER_S, Clock
from kxbtc.kalshi.rest import KalshiRestClient
from kxbtc.kalshi.rest_messages import Fill, Order, Settlement, parse_rfc3339_ns
from kxbtc.portfolio import Portfolio, book_side_of
from kxbtc.store.db import SqliteStore
from kxbtc.store.records import FillRecord, PositionRecord, RiskEventRecord, SettlementRecord
from kxbtc.units import Count, Money, parse_count, parse_money, parse_price

log = logging.getLogger(__name__)

#: Orders whose state the exchange has to tell us.
OPEN_STATES = ("intended", "unknown", "resting")
#: An order still unknown to the exchange this long after we recorded it was never placed.
NEVER_PLACED_AFTER_S = 30.0
#: After one complete pass over the fills, later passes ask only for fills stamped after the previous
#: pass began, less this margin: the exchange's read model lags by hundreds of ms and our clock may be
#: off by seconds (a step of a minute is a clock fault the risk gate halts on). Without it every pass
#: paged through the account's whole history, once a minute.
FILLS_OVERLAP_S = 600


@dataclass(slots=True)
class ReconcileReport:
    fills_added: int = 0
    orders_updated: int = 0
    settlements_added: int = 0
    position_mismatches: list[str] = field(default_factory=list)
    balance: Money | None = None


def fill_record(fill: Fill, source: str) -> FillRecord:
    ts_ns = fill.ts * NS_PER_S if fill.ts is not None else parse_rfc3339_ns(fill.created_time or "")
    return FillRecord(
        fill_id=fill.fill_id,
        order_id=fill.order_id,
        ticker=fill.market_ticker or fill.ticker,
        side=book_side_of(fill.book_side, fill.action, fill.side),
        price=parse_price(fill.yes_price_dollars, "yes_price_dollars"),
        count=parse_count(fill.count_fp, "count_fp"),
        fee=parse_money(fill.fee_cost, "fee_cost"),
        is_taker=fill.is_taker,
        ts_ns=ts_ns,
        source=source,
    )


def settlement_record(s: Settlement) -> SettlementRecord:
    def money(text: str | None, name: str) -> Money:
        return Money(0) if text is None else parse_money(text, name)

    def count(text: str | None, name: str) -> Count:
        return Count(0) if text is None else parse_count(text, name)

    return SettlementRecord(
        ticker=s.ticker,
        event_ticker=s.event_ticker,
        result=s.market_result,
        yes_count=count(s.yes_count_fp, "yes_count_fp"),
        no_count=count(s.no_count_fp, "no_count_fp"),
        yes_cost=money(s.yes_total_cost_dollars, "yes_total_cost_dollars"),
        no_cost=money(s.no_total_cost_dollars, "no_total_cost_dollars"),
        revenue=Money(s.revenue * 10_000),  # integer cents on the wire
        fee=money(s.fee_cost, "fee_cost"),
        settled_ns=parse_rfc3339_ns(s.settled_time),
    )


class Reconciler:
    def __init__(
        self,
        rest: KalshiRestClient,
        portfolio: Portfolio,
        store: SqliteStore,
        clock: Clock,
        *,
        on_risk_event: Callable[[RiskEventRecord], None] | None = None,
    ) -> None:
        self.rest = rest
        self.portfolio = portfolio
        self.store = store
        self.clock = clock
        self._on_risk_event = on_risk_event
        self.runs = 0
        self.repairs = 0
        #: ``min_ts`` of the next fills pass (Unix s); None until a pass has read the whole history.
        self._fills_since_s: int | None = None

    def _event(self, kind: str, severity: str, detail: str) -> None:
        record = RiskEventRecord(self.clock.time_ns(), kind, severity, detail)
        self.store.record_risk_event(record)
        log.info("reconcile: %s: %s", kind, detail)  # the operator sees it in the feed (on_risk_event)
        if self._on_risk_event is not None:
            self._on_risk_event(record)

    async def run_once(self) -> ReconcileReport:
        report = ReconcileReport()
        await self._fills(report)
        await self._orders(report)
        # Balance between fills and settlements: a fill or a settlement racing this pass can then only
        # make the balance look lower than the ledger implies, never higher (see Engine._set_anchor).
        balance = await self.rest.get_balance()
        report.balance = balance.money
        self.store.record_balance(
            self.clock.time_ns(), balance.money, (balance.portfolio_value or 0) * 10_000, "rest"
        )
        await self._settlements(report)
        await self._positions(report)
        self.runs += 1
        return report

    async def _fills(self, report: ReconcileReport) -> None:
        # Fills come back newest first; apply oldest first so average costs evolve as they happened.
        began_s = self.clock.time_ns() // NS_PER_S
        fills = self.rest.iter_fills(min_ts=self._fills_since_s)  # None: the whole history
        missing = [f async for f in fills if f.fill_id not in self.portfolio.fill_ids]
        for fill in sorted(missing, key=lambda f: (f.ts or 0, f.fill_id)):
            event = fill_record(fill, "rest")
            if self.portfolio.add_fill(event):
                report.fills_added += 1
                self.repairs += 1
                self._event(
                    "repaired_fill",
                    "warning",
                    f"fill {event.fill_id} on {event.ticker} ({event.side} {event.count} @ {event.price})"
                    " was missing locally",
                )
        # Every fill up to now is in: the next pass reads from here, less the margin.
        self._fills_since_s = began_s - FILLS_OVERLAP_S

    async def _orders(self, report: ReconcileReport) -> None:
        now = self.clock.time_ns()
        # Only the orders in question: read whole, the day's orders were built as objects on every pass
        # (every 30 s), a transient that grew with the day and raised the resident set with it.
        for local in self.store.orders(statuses=OPEN_STATES):
            remote: Order | None = await self.rest.find_order_by_client_id(
                local.client_order_id, local.ticker
            )
            if remote is None:
                age_s = (now - local.created_ns) / NS_PER_S
                if local.status != "resting" and age_s > NEVER_PLACED_AFTER_S:
                    self.store.update_order(
                        local.client_order_id,
                        ts_ns=now,
                        kind="reconcile",
                        status="not_placed",
                        detail="unknown to the exchange",
                    )
                    report.orders_updated += 1
                continue
            fill_count = parse_count(remote.fill_count_fp, "fill_count_fp")
            remaining = parse_count(remote.remaining_count_fp, "remaining_count_fp")
            if (remote.status, remote.order_id, fill_count) != (
                local.status,
                local.order_id,
                local.fill_count,
            ):
                if remote.order_id:
                    self.portfolio.note_order(remote.order_id, local.ticker, local.strategy)
                self.store.update_order(
                    local.client_order_id,
                    ts_ns=now,
                    kind="reconcile",
                    status=remote.status,
                    order_id=remote.order_id,
                    fill_count=fill_count,
                    remaining_count=remaining,
                    detail=f"was {local.status}",
                )
                report.orders_updated += 1
                if local.status != "resting":
                    self.repairs += 1
                    self._event(
                        "repaired_order",
                        "info",
                        f"order {local.client_order_id} was {local.status}, exchange says {remote.status}",
                    )

    async def _settlements(self, report: ReconcileReport) -> None:
        async for s in self.rest.iter_settlements():
            if s.ticker not in self.portfolio.settled and self.portfolio.add_settlement(settlement_record(s)):
                report.settlements_added += 1

    async def _positions(self, report: ReconcileReport) -> None:
        remote = await self._read_positions()
        suspect = self._mismatches(remote)
        if suspect:
            # A fill landing between the fill sync and this read looks like a mismatch for a moment:
            # sync fills again and re-read before calling it one.
            await self._fills(report)
            remote = await self._read_positions()
            suspect &= self._mismatches(remote)
        for ticker in sorted(suspect):
            theirs = remote[ticker].position if ticker in remote else 0
            ours = self.portfolio.position(ticker)
            report.position_mismatches.append(ticker)
            self._event("position_mismatch", "warning", f"{ticker}: local {ours}, exchange {theirs}")
        for record in remote.values():
            self.store.set_position(record)

    async def _read_positions(self) -> dict[str, PositionRecord]:
        remote: dict[str, PositionRecord] = {}
        cursor: str | None = None
        now = self.clock.time_ns()
        while True:
            page = await self.rest.get_positions(cursor=cursor, limit=1000)
            for p in page.market_positions or ():
                remote[p.ticker] = PositionRecord(
                    p.ticker,
                    p.position,
                    parse_money(p.market_exposure_dollars or "0", "market_exposure_dollars"),
                    parse_money(p.realized_pnl_dollars or "0", "realized_pnl_dollars"),
                    parse_money(p.fees_paid_dollars or "0", "fees_paid_dollars"),
                    now,
                )
            cursor = page.cursor or None
            if cursor is None:
                return remote

    def _mismatches(self, remote: dict[str, PositionRecord]) -> set[str]:
        settled = self.portfolio.settled
        local = {t: p for t, p in self.portfolio.ledger.open_positions().items() if t not in settled}
        return {
            t
            for t in set(remote) | set(local)
            if t not in settled and (remote[t].position if t in remote else 0) != local.get(t, 0)
        }
