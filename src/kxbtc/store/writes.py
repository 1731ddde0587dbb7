"""The store's write statements: one method per record kind, each queued as statements that commit
together. Everything the exchange tells us is written idempotently (fills by ``fill_id``, orders by
``client_order_id``), so replays and reconciliation can never count a fill twice."""

from __future__ import annotations

import abc
import sqlite3
from dataclasses import astuple
from typing import Any

from kxbtc.store.live_view import (
    HeartbeatRecord,
    MarketStateRecord,
    heartbeat_statement,
    market_state_statements,
)
from kxbtc.store.records import (
    FillRecord,
    OrderRecord,
    PnlSnapshot,
    PositionRecord,
    RiskEventRecord,
    SettlementRecord,
)
from kxbtc.store.writer import Write


class StoreWrites(abc.ABC):
    """The write half of ``SqliteStore``; a subclass says where a write goes (``_submit``)."""

    @abc.abstractmethod
    def _submit(self, write: Write) -> None:
        """Queue ``write`` to run on the write connection."""

    def _sql(self, *statements: tuple[str, tuple[Any, ...]]) -> None:
        """Queue statements that commit together, in order."""

        def write(conn: sqlite3.Connection) -> None:
            for sql, args in statements:
                conn.execute(sql, args)

        self._submit(write)

    def record_order(self, order: OrderRecord) -> None:
        self._sql(*_order_statements(order, "recorded", only_if_new=False))

    def record_written_ahead(self, order: OrderRecord) -> None:
        """An ``intended`` row from the write-ahead file: inserted, with its event, only if the killed run
        never committed it."""
        self._sql(*_order_statements(order, "written_ahead", only_if_new=True))

    def update_order(
        self,
        client_order_id: str,
        *,
        ts_ns: int,
        kind: str,
        status: str | None = None,
        order_id: str | None = None,
        fill_count: int | None = None,
        remaining_count: int | None = None,
        fees: int | None = None,
        detail: str = "",
    ) -> None:
        self._sql(
            (
                "UPDATE orders SET order_id = COALESCE(?, order_id), status = COALESCE(?, status),"
                " fill_count = COALESCE(?, fill_count), remaining_count = COALESCE(?, remaining_count),"
                " fees = COALESCE(?, fees), updated_ns = MAX(updated_ns, ?) WHERE client_order_id = ?",
                (order_id, status, fill_count, remaining_count, fees, ts_ns, client_order_id),
            ),
            (
                "INSERT INTO order_events (client_order_id, order_id, ts_ns, kind, status, fill_count,"
                " remaining_count, detail) VALUES (?,?,?,?,?,?,?,?)",
                (client_order_id, order_id, ts_ns, kind, status, fill_count, remaining_count, detail),
            ),
            # A fill can be recorded before its order's id was known (the fill beat the acknowledgement,
            # or reconciliation found it first): once the id is known, the fill gets its strategy.
            (
                "UPDATE fills SET strategy ="
                " COALESCE((SELECT strategy FROM orders WHERE client_order_id = ?), '')"
                " WHERE order_id = ? AND strategy = ''",
                (client_order_id, order_id),
            ),
        )

    def record_fill(self, fill: FillRecord) -> None:
        # A fill seen twice (WS, then REST reconciliation) is the same fill: the first copy stays.
        self._sql(
            (
                "INSERT INTO fills (fill_id, order_id, ticker, side, price, count, fee, is_taker, ts_ns,"
                " strategy, source) VALUES (?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(fill_id) DO NOTHING",
                astuple(fill),
            )
        )

    def set_position(self, position: PositionRecord) -> None:
        self._sql(
            (
                "INSERT INTO positions (ticker, position, exposure, realized_pnl, fees_paid, updated_ns)"
                " VALUES (?,?,?,?,?,?) ON CONFLICT(ticker) DO UPDATE SET position = excluded.position,"
                " exposure = excluded.exposure, realized_pnl = excluded.realized_pnl,"
                " fees_paid = excluded.fees_paid, updated_ns = excluded.updated_ns",
                astuple(position),
            )
        )

    def record_settlement(self, settlement: SettlementRecord) -> None:
        self._sql(
            (
                "INSERT INTO settlements (ticker, event_ticker, result, yes_count, no_count, yes_cost,"
                " no_cost, revenue, fee, settled_ns) VALUES (?,?,?,?,?,?,?,?,?,?)"
                " ON CONFLICT(ticker) DO NOTHING",
                astuple(settlement),
            )
        )

    def record_balance(self, ts_ns: int, balance: int, portfolio_value: int, source: str) -> None:
        self._sql(
            (
                "INSERT INTO balance_snapshots (ts_ns, balance, portfolio_value, source) VALUES (?,?,?,?)",
                (ts_ns, balance, portfolio_value, source),
            )
        )

    def record_pnl(self, snapshot: PnlSnapshot) -> None:
        self._sql(
            (
                "INSERT INTO pnl_snapshots (ts_ns, day, equity, realized, unrealized_mid,"
                " unrealized_exit, fees) VALUES (?,?,?,?,?,?,?)",
                astuple(snapshot),
            )
        )

    def record_decision(
        self, ts_ns: int, strategy: str, ticker: str, inputs: str, intent: str, reason: str
    ) -> None:
        self._sql(
            (
                "INSERT INTO decisions (ts_ns, strategy, ticker, inputs, intent, reason)"
                " VALUES (?,?,?,?,?,?)",
                (ts_ns, strategy, ticker, inputs, intent, reason),
            )
        )

    def record_risk_event(self, event: RiskEventRecord) -> None:
        self._sql(
            ("INSERT INTO risk_events (ts_ns, kind, severity, detail) VALUES (?,?,?,?)", astuple(event))
        )

    def record_llm_call(
        self,
        ts_ns: int,
        provider: str,
        model: str,
        role: str,
        request: str,
        response: str,
        ok: bool,
        latency_ms: int,
        cost: int = 0,
    ) -> None:
        self._sql(
            (
                "INSERT INTO llm_calls (ts_ns, provider, model, role, request, response, ok,"
                " latency_ms, cost) VALUES (?,?,?,?,?,?,?,?,?)",
                (ts_ns, provider, model, role, request, response, int(ok), latency_ms, cost),
            )
        )

    def set_value(self, key: str, value: str) -> None:
        self._sql(
            (
                "INSERT INTO kv (key, value) VALUES (?, ?)"
                " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )
        )

    def record_heartbeat(self, beat: HeartbeatRecord) -> None:
        self._sql(heartbeat_statement(beat))

    def publish_market_states(self, engine_id: str, states: list[MarketStateRecord]) -> None:
        """The latest state of every market ``engine_id`` follows, in one transaction; serialised on the
        writer thread, not the caller's (the records are frozen and own their lists)."""

        def write(conn: sqlite3.Connection) -> None:
            for sql, args in market_state_statements(engine_id, states):
                conn.execute(sql, args)

        self._submit(write)


def _order_statements(
    order: OrderRecord, event: str, *, only_if_new: bool
) -> tuple[tuple[str, tuple[Any, ...]], ...]:
    row = (
        order.client_order_id,
        order.order_id,
        order.ticker,
        order.side,
        order.price,
        order.count,
        order.time_in_force,
        order.strategy,
        order.status,
        order.fill_count,
        order.remaining_count,
        order.fees,
        order.exchange_index,
        order.created_ns,
        order.updated_ns,
    )
    # changes(): rows the INSERT just before touched (0 when the order was there already).
    values = "SELECT ?,?,?,?,? WHERE changes() > 0" if only_if_new else "VALUES (?,?,?,?,?)"
    return (
        (
            "INSERT INTO orders (client_order_id, order_id, ticker, side, price, count, time_in_force,"
            " strategy, status, fill_count, remaining_count, fees, exchange_index, created_ns,"
            " updated_ns) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(client_order_id) DO NOTHING",
            row,
        ),
        (
            "INSERT INTO order_events (client_order_id, order_id, ts_ns, kind, status) " + values,
            (order.client_order_id, order.order_id, order.created_ns, event, order.status),
        ),
    )
