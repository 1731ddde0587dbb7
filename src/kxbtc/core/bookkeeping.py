"""The records the core writes to its store: fills and settlements as the ledger keeps them, the record
of an order before it is sent, the risk day's baselines (so a restart cannot renew a day's loss budget),
and P&L snapshots."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from kxbtc.clock import NS_PER_S
from kxbtc.core.account import Account
from kxbtc.core.commands import OutgoingOrder
from kxbtc.domain.events import MarketSettled
from kxbtc.domain.orders import Fill
from kxbtc.risk.limits import RiskManager
from kxbtc.store.db import SqliteStore
from kxbtc.store.records import FillRecord, OrderRecord, PnlSnapshot, SettlementRecord
from kxbtc.units import Money

log = logging.getLogger(__name__)

RISK_BASELINE_KEY = "risk_baseline"  # the day's starting equity and the peak, kept over restarts


def intended_record(out: OutgoingOrder, now: int) -> OrderRecord:
    """The order as it leaves: recorded before the send, so a crash between send and answer is resolved
    by looking its id up, never by sending it again."""
    intent = out.order.intent
    return OrderRecord(
        client_order_id=out.client_order_id,
        ticker=intent.ticker,
        side=intent.side,
        price=intent.price,
        count=out.order.count,
        time_in_force=intent.time_in_force,
        status="intended",
        created_ns=now,
        updated_ns=now,
        strategy=intent.strategy,
        exchange_index=out.exchange_index,
    )


RiskBaseline = tuple[str, int, int]  # day, its start equity, the peak


def save_risk_baseline(
    store: SqliteStore, risk: RiskManager, last_saved: RiskBaseline | None
) -> RiskBaseline:
    """Write the day's start equity and the peak when they changed; what is saved now. Compared as a
    tuple first: this runs on every evaluation that acts and every second, and rarely changes."""
    st = risk.state
    baseline = (st.day, st.day_start_equity, st.peak_equity)
    if baseline != last_saved:
        store.set_value(
            RISK_BASELINE_KEY,
            json.dumps({"day": st.day, "day_start_equity": st.day_start_equity, "peak": st.peak_equity}),
        )
    return baseline


def restore_risk_baseline(store: SqliteStore, risk: RiskManager) -> None:
    """A restart must not re-arm the breakers: a tripped daily-loss breaker trips again at once and the
    day's budget is not renewed."""
    saved = store.get_value(RISK_BASELINE_KEY)
    if not saved:
        return
    try:
        data = json.loads(saved)
        day, start, peak = str(data["day"]), int(data["day_start_equity"]), int(data["peak"])
    except (ValueError, KeyError, TypeError) as exc:
        log.warning("ignoring unreadable risk baseline %r: %s", saved, exc)
        return
    risk.restore(day, start, peak)


def pnl_snapshot(account: Account, now: int, equity: Money) -> PnlSnapshot:
    ledger = account.ledger
    at_mid, at_exit = account.unrealized()
    day = datetime.fromtimestamp(now / NS_PER_S, UTC).strftime("%Y-%m-%d")
    return PnlSnapshot(now, day, equity, ledger.total_realized(), at_mid, at_exit, ledger.total_fees())


def fill_record(fill: Fill) -> FillRecord:
    return FillRecord(
        fill_id=fill.fill_id,
        order_id=fill.order_id,
        ticker=fill.ticker,
        side=str(fill.side),
        price=fill.yes_price,
        count=fill.count,
        fee=fill.fee,
        is_taker=fill.is_taker,
        ts_ns=fill.ts_ns,
        source="rest" if fill.source == "rest" else "ws",
    )


def settlement_record(event: MarketSettled) -> SettlementRecord:
    return SettlementRecord(
        ticker=event.ticker,
        event_ticker=event.event_ticker,
        result=event.result,
        yes_count=event.yes_count,
        no_count=event.no_count,
        yes_cost=event.yes_cost,
        no_cost=event.no_cost,
        revenue=event.revenue,
        fee=event.fee,
        settled_ns=event.ts_ns,
    )
