"""How the operator commands show things: rich tables for people, one JSON object for machines.

JSON never carries money as a float: every Money field is ``{"micros": int, "dollars": "d.dddddd"}``.
Prices and counts are the wire's exact decimal strings ("0.5600", "10.00"); times are integer
nanoseconds plus an ISO-8601 UTC string.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from kxbtc.ops.index_status import index_text
from kxbtc.ops.pnl_report import OpenPosition, PnlLine
from kxbtc.ops.queries import BalanceSnapshot
from kxbtc.store.records import FillRecord, OrderRecord, PnlSnapshot, RiskEventRecord
from kxbtc.units import format_count, format_money, format_price

_NS_PER_S = 1_000_000_000

JsonObject = dict[str, Any]


# -- scalars ----------------------------------------------------------------------------------------


def money_json(value: int) -> JsonObject:
    return {"micros": value, "dollars": format_money(value)}


def dollars(value: int) -> str:
    return format_money(value)


def iso_time(ts_ns: int) -> str:
    seconds, nanos = divmod(ts_ns, _NS_PER_S)
    stamp = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{nanos // 1_000_000:03d}Z"


def short_time(ts_ns: int) -> str:
    return datetime.fromtimestamp(ts_ns // _NS_PER_S, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def average_price(cost: int, count: int) -> str:
    """Average cost per contract as a price string, rounded half up to the wire's 4 places."""
    if count == 0:
        return "-"
    # Money / Count is in units of 1e-4 $: exactly the Price grid.
    return format_price((2 * cost + count) // (2 * count))


def position_text(position: int) -> str:
    """``+1000`` -> ``YES 10.00``; ``-250`` -> ``NO 2.50``."""
    if position == 0:
        return "flat"
    return f"{'YES' if position > 0 else 'NO'} {format_count(abs(position))}"


# -- records as JSON --------------------------------------------------------------------------------


def order_json(o: OrderRecord) -> JsonObject:
    return {
        "client_order_id": o.client_order_id,
        "order_id": o.order_id,
        "ticker": o.ticker,
        "side": o.side,
        "price": format_price(o.price),
        "count": format_count(o.count),
        "time_in_force": o.time_in_force,
        "strategy": o.strategy,
        "status": o.status,
        "fill_count": format_count(o.fill_count),
        "remaining_count": format_count(o.remaining_count),
        "fees": money_json(o.fees),
        "created_ns": o.created_ns,
        "created": iso_time(o.created_ns),
        "updated_ns": o.updated_ns,
        "updated": iso_time(o.updated_ns),
    }


def fill_json(f: FillRecord) -> JsonObject:
    return {
        "fill_id": f.fill_id,
        "order_id": f.order_id,
        "ticker": f.ticker,
        "side": f.side,
        "price": format_price(f.price),
        "count": format_count(f.count),
        "fee": money_json(f.fee),
        "is_taker": f.is_taker,
        "strategy": f.strategy,
        "source": f.source,
        "ts_ns": f.ts_ns,
        "time": iso_time(f.ts_ns),
    }


def risk_event_json(e: RiskEventRecord) -> JsonObject:
    return {
        "ts_ns": e.ts_ns,
        "time": iso_time(e.ts_ns),
        "kind": e.kind,
        "severity": e.severity,
        "detail": e.detail,
    }


def balance_json(b: BalanceSnapshot) -> JsonObject:
    return {
        "ts_ns": b.ts_ns,
        "time": iso_time(b.ts_ns),
        "balance": money_json(b.balance),
        "portfolio_value": money_json(b.portfolio_value),
        "source": b.source,
    }


def pnl_snapshot_json(s: PnlSnapshot) -> JsonObject:
    return {
        "ts_ns": s.ts_ns,
        "time": iso_time(s.ts_ns),
        "day": s.day,
        "equity": money_json(s.equity),
        "realized": money_json(s.realized),
        "unrealized_mid": money_json(s.unrealized_mid),
        "unrealized_exit": money_json(s.unrealized_exit),
        "fees": money_json(s.fees),
    }


def pnl_line_json(line: PnlLine) -> JsonObject:
    return {
        "key": line.key,
        "realized": money_json(line.realized),
        "fees": money_json(line.fees),
        "net": money_json(line.net),
        "volume": format_count(line.volume),
        "fills": line.fills,
    }


# -- tables -----------------------------------------------------------------------------------------


def _add_row(table: Table, *cells: str | Text, style: str | None = None) -> None:
    # Plain Text, never console markup: a reason or ticker containing "[...]" must print as typed.
    table.add_row(*(Text(c) if isinstance(c, str) else c for c in cells), style=style)


def _table(title: str, *columns: str, numeric: Sequence[str] = ()) -> Table:
    table = Table(title=title, title_justify="left", header_style="bold")
    for name in columns:
        table.add_column(name, justify="right" if name in numeric else "left", no_wrap=name in numeric)
    return table


@dataclass(frozen=True, slots=True)
class StatusView:
    db: str
    schema_version: int
    halt_reason: str
    balance: BalanceSnapshot | None
    equity: PnlSnapshot | None
    open_positions: int
    resting_orders: int
    today: PnlLine
    risk_events: list[RiskEventRecord]
    warnings: list[str]
    #: The live engine's index record (``kxbtc.ops.index_status``); None before any engine wrote one.
    index: JsonObject | None = None
    #: Whether the engine trades or only observes, and why (``kxbtc.core.stand_aside``).
    trading_mode: str = ""
    #: Strategies the skill guard paused, with its reason (``kxbtc.core.skill_guard``).
    paused_strategies: dict[str, str] | None = None

    def as_json(self) -> JsonObject:
        return {
            "db": self.db,
            "schema_version": self.schema_version,
            "halted": bool(self.halt_reason),
            "halt_reason": self.halt_reason,
            "balance": None if self.balance is None else balance_json(self.balance),
            "equity": None if self.equity is None else pnl_snapshot_json(self.equity),
            "open_positions": self.open_positions,
            "resting_orders": self.resting_orders,
            "today": {
                "day": self.today.key,
                "realized": money_json(self.today.realized),
                "fees": money_json(self.today.fees),
                "net": money_json(self.today.net),
            },
            "risk_events": [risk_event_json(e) for e in self.risk_events],
            "warnings": self.warnings,
            "index": self.index,
            "trading_mode": self.trading_mode,
            "paused_strategies": self.paused_strategies or {},
        }

    def as_table(self) -> RenderableType:
        facts = Table.grid(padding=(0, 2))
        facts.add_column(style="bold")
        facts.add_column()
        _add_row(facts, "database", self.db)
        _add_row(facts, "schema version", str(self.schema_version))
        if self.halt_reason:
            _add_row(facts, "trading", Text(f"HALTED: {self.halt_reason}", style="bold red"))
        else:
            _add_row(facts, "trading", Text(self.trading_mode or "running", style="green"))
        for name, why in (self.paused_strategies or {}).items():
            _add_row(facts, f"paused: {name}", Text(why, style="bold yellow"))
        if self.balance is None:
            _add_row(facts, "balance", "no snapshot yet")
        else:
            b = self.balance
            _add_row(
                facts,
                "balance",
                f"{dollars(b.balance)} (portfolio value {dollars(b.portfolio_value)}, {b.source},"
                f" {short_time(b.ts_ns)})",
            )
        if self.equity is None:
            _add_row(facts, "equity", "no snapshot yet")
        else:
            s = self.equity
            _add_row(
                facts,
                "equity",
                f"{dollars(s.equity)} (unrealized at mid {dollars(s.unrealized_mid)}, {short_time(s.ts_ns)})",
            )
        _add_row(facts, "open positions", str(self.open_positions))
        _add_row(facts, "resting orders", str(self.resting_orders))
        t = self.today
        _add_row(
            facts,
            f"today ({t.key} UTC)",
            f"realized {dollars(t.realized)}, fees {dollars(t.fees)}, net {dollars(t.net)}",
        )
        _add_row(facts, "index", "no record yet" if self.index is None else index_text(self.index))
        parts: list[RenderableType] = [facts]
        events = _table("last risk events", "time", "kind", "severity", "detail")
        for e in self.risk_events:
            _add_row(events, short_time(e.ts_ns), e.kind, e.severity, e.detail)
        parts.append(events if self.risk_events else Text("no risk events"))
        parts.extend(Text(f"warning: {w}", style="yellow") for w in self.warnings)
        return Group(*parts)


def position_json(p: OpenPosition) -> JsonObject:
    return {
        "ticker": p.ticker,
        "position": format_count(p.position),
        "cost": money_json(p.cost),
        "average_price": average_price(p.cost, abs(p.position)) if p.position else None,
        "realized": money_json(p.realized),
        "fees": money_json(p.fees),
        "exchange_position": None if p.exchange_position is None else format_count(p.exchange_position),
        "exchange_exposure": None if p.exchange_exposure is None else money_json(p.exchange_exposure),
        "matches_exchange": None if p.exchange_position is None else p.exchange_position == p.position,
    }


def positions_table(rows: Sequence[OpenPosition]) -> Table:
    numeric = ("position", "avg price", "cost", "realized", "fees", "exchange")
    table = _table("open positions (from fills)", "ticker", *numeric, numeric=numeric)
    for r in rows:
        exchange = Text("-" if r.exchange_position is None else position_text(r.exchange_position))
        if r.exchange_position is not None and r.exchange_position != r.position:
            exchange = Text(f"{exchange} (differs)", style="bold red")
        _add_row(
            table,
            r.ticker,
            position_text(r.position),
            average_price(r.cost, abs(r.position)),
            dollars(r.cost),
            dollars(r.realized),
            dollars(r.fees),
            exchange,
        )
    return table


def orders_table(orders: Sequence[OrderRecord]) -> Table:
    numeric = ("price", "count", "filled", "fees")
    table = _table(
        "orders (newest first)", "created", "client id", "ticker", "side", *numeric, "status", "strategy",
        numeric=numeric,
    )  # fmt: skip
    for o in orders:
        _add_row(
            table, short_time(o.created_ns), o.client_order_id, o.ticker, o.side, format_price(o.price),
            format_count(o.count), format_count(o.fill_count), dollars(o.fees), o.status, o.strategy,
        )  # fmt: skip
    return table


def fills_table(fills: Sequence[FillRecord]) -> Table:
    numeric = ("price", "count", "fee")
    table = _table(
        "fills (newest first)", "time", "fill id", "ticker", "side", *numeric, "taker", "strategy",
        numeric=numeric,
    )  # fmt: skip
    for f in fills:
        _add_row(
            table, short_time(f.ts_ns), f.fill_id, f.ticker, f.side, format_price(f.price),
            format_count(f.count), dollars(f.fee), "yes" if f.is_taker else "no", f.strategy,
        )  # fmt: skip
    return table


def pnl_table(by: str, lines: Sequence[PnlLine], whole: PnlLine) -> Table:
    numeric = ("realized", "fees", "net", "volume", "fills")
    table = _table(f"realized P&L by {by}", by, *numeric, numeric=numeric)
    for line in [*lines, whole]:
        style = "bold" if line is whole else None
        _add_row(
            table, line.key, dollars(line.realized), dollars(line.fees), dollars(line.net),
            format_count(line.volume), str(line.fills), style=style,
        )  # fmt: skip
    return table
