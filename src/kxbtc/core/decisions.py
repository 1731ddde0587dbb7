"""Decisions through the risk gate, and the record of each one.

Every order not yet filled counts at its worst case against the loss budgets when an order is sized:
orders in flight, resting orders, and orders approved earlier in the same batch (two strategies deciding
on one market in one tick must not double its cap). Open positions count at their marks too, but only
under ``[risk] loss_basis = "worst_case"`` (``kxbtc.risk.limits``).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from kxbtc.clock import NS_PER_S
from kxbtc.core.feed import order_rejected
from kxbtc.risk.limits import ApprovedOrder, MarketRisk, Rejection
from kxbtc.store.db import SqliteStore
from kxbtc.strategy.base import Decision
from kxbtc.units import Money, format_contracts

if TYPE_CHECKING:
    from kxbtc.core.trading_core import TradingCore

#: The same refusal repeats on every book update: each (market, strategy, rule) is recorded at most
#: once per this many seconds.
REJECTION_LOG_EVERY_S = 10


class DecisionLog:
    def __init__(self, store: SqliteStore) -> None:
        self.store = store
        self._rejection_logged: dict[tuple[str, str, str], int] = {}
        #: Records waiting to be encoded (``defer``): None records at once.
        self._deferred: list[tuple[int, Decision, str]] | None = None

    def defer(self) -> None:
        """Keep the records made from now on unencoded until ``write_deferred``: the live engine encodes
        them after the batch's orders are on the wire (the JSON is ~10 us a decision, which the next
        market's order would wait for). Their order in the store is unchanged."""
        if self._deferred is None:
            self._deferred = []

    def write_deferred(self) -> None:
        """Encode and store the deferred records, in order, and record at once again."""
        deferred, self._deferred = self._deferred or [], None
        for now, decision, outcome in deferred:
            self._write(now, decision, outcome)

    def should_record_rejection(self, now: int, ticker: str, strategy: str, rule: str) -> bool:
        key = (ticker, strategy, rule)
        last = self._rejection_logged.get(key)
        if last is not None and now - last < REJECTION_LOG_EVERY_S * NS_PER_S:
            return False
        self._rejection_logged[key] = now
        return True

    def record(self, now: int, decision: Decision, outcome: str) -> None:
        if self._deferred is not None:
            self._deferred.append((now, decision, outcome))
        else:
            self._write(now, decision, outcome)

    def _write(self, now: int, decision: Decision, outcome: str) -> None:
        intent = decision.intent
        self.store.record_decision(
            now,
            intent.strategy,
            intent.ticker,
            json.dumps(decision.inputs, default=str),
            json.dumps(
                {
                    "side": intent.side,
                    "price": intent.price,
                    "count": intent.count,
                    "tif": intent.time_in_force,
                    "outcome": outcome,
                }
            ),
            intent.reason,
        )


def gate(core: TradingCore, decisions: list[Decision], now: int) -> list[ApprovedOrder]:
    """The approved orders among ``decisions``; every verdict counted, and recorded (rejections
    throttled by ``DecisionLog``)."""
    stats, orders, account = core.stats, core.orders, core.account
    open_value = account.open_value()
    pending = orders.pending_risk + orders.resting.worst_case()
    batch_cost: dict[str, int] = {}  # per market: worst case approved earlier in this batch
    approved: list[ApprovedOrder] = []
    index_age = core.index.age_s(now)
    for d in decisions:
        intent = d.intent
        instrument = core.instruments.get(intent.ticker)
        if instrument is None or orders.blocked(intent.ticker):
            continue
        stats.decisions += 1
        if core.skill.paused(intent.strategy):
            stats.rejected["skill_guard"] += 1
            continue
        view = MarketRisk(
            intent.ticker,
            instrument.close_ns,
            account.position(intent.ticker),
            account.position_cost(intent.ticker),
            index_age,
            book_stale=not core.books.is_tradeable(intent.ticker),
            fees=instrument.fees,
            open_value=open_value,
            pending_risk=Money(pending),
            resting_cost=Money(orders.resting.worst_case(intent.ticker) + batch_cost.get(intent.ticker, 0)),
        )
        verdict = core.risk.check(intent, view)
        if isinstance(verdict, Rejection):
            stats.rejected[verdict.rule] += 1
            if core.decision_log.should_record_rejection(now, intent.ticker, intent.strategy, verdict.rule):
                core.decision_log.record(now, d, f"rejected by {verdict.rule}: {verdict.reason}")
                if core.feed.active:  # throttled like the record: one line per market, rule and 10 s
                    core.feed.emit(
                        order_rejected(intent.ticker, intent.strategy, verdict.rule, verdict.reason, now)
                    )
            continue
        notes = f" ({verdict.notes})" if verdict.notes else ""
        core.decision_log.record(now, d, f"approved {format_contracts(verdict.count)}{notes}")
        stats.approved += 1
        pending += verdict.worst_case_loss
        batch_cost[intent.ticker] = batch_cost.get(intent.ticker, 0) + verdict.worst_case_loss
        approved.append(verdict)
    return approved


def observe(core: TradingCore, decisions: list[Decision]) -> None:
    """Observe-only: count and record (throttled like rejections) what would have been sent."""
    now = core.clock.time_ns()
    core.stats.observed += len(decisions)
    for d in decisions:
        intent = d.intent
        if core.decision_log.should_record_rejection(now, intent.ticker, intent.strategy, "observed"):
            core.decision_log.record(now, d, "observed (observe-only: not sent)")
