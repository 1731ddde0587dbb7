"""How the operator commands show things: rich tables for people, one JSON object for machines.

People see money, prices, counts and times only through ``kxbtc.units`` (``-$14.70``, ``$0.56``, ``97``,
``2026-05-13 12:28:51Z``). Tables fit 80 columns: ids are cut to their first 8 characters and the less
used columns left out, unless ``wide`` (``--wide``) asks for everything in full.

JSON never carries money as a float: every Money field is ``{"micros": int, "dollars": "d.dddddd"}``.
Prices and counts are the wire's exact decimal strings ("0.5600", "10.00"); times are integer
nanoseconds plus an ISO-8601 UTC string (README "JSON output").
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
from kxbtc.tables import compact_table, no_rows
from kxbtc.units import (
    format_count,
    format_money,
    format_price,
    format_price_usd,
    format_qty,
    format_time,
    format_usd,
)

_NS_PER_S = 1_000_000_000

JsonObject = dict[str, Any]


# -- scalars ----------------------------------------------------------------------------------------


def money_json(value: int) -> JsonObject:
    return {"micros": value, "dollars": format_money(value)}


def dollars(value: int) -> str:
    """Money for people (``-$14.70``): ``kxbtc.units.format_usd``."""
    return format_usd(value)


#: How many leading characters of an id a narrow table shows: enough to tell a day's orders apart.
SHORT_ID = 8


def short_id(value: str | None, wide: bool = False) -> str:
    if not value:
        return "-"
    return value if wide else value[:SHORT_ID]


def iso_time(ts_ns: int) -> str:
    seconds, nanos = divmod(ts_ns, _NS_PER_S)
    stamp = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{nanos // 1_000_000:03d}Z"


def short_time(ts_ns: int) -> str:
    """``2026-05-13 12:28:51Z`` (``kxbtc.units.format_time``)."""
    return format_time(ts_ns)


def _average_units(cost: int, count: int) -> int:
    # Money / Count is in units of 1e-4 $: exactly the Price grid; rounded half up.
    return (2 * cost + count) // (2 * count)


def average_price(cost: int, count: int) -> str:
    """Average cost per contract as the wire's exact price string (JSON), rounded half up to 4 places."""
    return "-" if count == 0 else format_price(_average_units(cost, count))


def average_price_usd(cost: int, count: int) -> str:
    """Average cost per contract for people: ``$0.4918``."""
    return "-" if count == 0 else format_price_usd(_average_units(cost, count))


def position_text(position: int) -> str:
    """``+1000`` -> ``YES 10``; ``-250`` -> ``NO 2.50`` (contracts)."""
    if position == 0:
        return "flat"
    return f"{'YES' if position > 0 else 'NO'} {format_qty(abs(position))}"


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
    #: The engine's heartbeat judged against the wall clock (``kxbtc.ops.engine_status``); None: no beat.
    engine: JsonObject | None = None
    #: The data's clock: the market time of the last heartbeat, else the caller's clock.
    data_time_ns: int | None = None

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
            "engine": self.engine,
            "data_time": None if self.data_time_ns is None else iso_time(self.data_time_ns),
        }

    def as_table(self, wide: bool = False) -> RenderableType:
        facts = Table.grid(padding=(0, 2))
        facts.add_column(style="bold")
        # Narrow: long values (the index line, a long path) wrap inside 80 columns.
        facts.add_column(max_width=None if wide else 56, overflow="fold")
        _add_row(facts, "database", self.db)
        _add_row(facts, "schema version", str(self.schema_version))
        if self.engine is None:
            _add_row(facts, "engine", "no heartbeat (no engine of this kxbtc version has run here)")
        else:
            running = self.engine["state"] == "running"
            _add_row(facts, "engine", Text(self.engine["text"], style="green" if running else "yellow"))
        if self.halt_reason:
            _add_row(facts, "trading", Text(f"HALTED: {self.halt_reason}", style="bold red"))
        else:
            # Whether an engine runs is the "engine" row's to say; this one only says "not halted".
            _add_row(facts, "trading", Text(self.trading_mode or "not halted", style="green"))
        for name, why in (self.paused_strategies or {}).items():
            _add_row(facts, f"paused: {name}", Text(why, style="bold yellow"))
        if self.balance is None:
            _add_row(facts, "balance", "no snapshot yet")
        else:
            b = self.balance
            _add_row(facts, "balance", f"{dollars(b.balance)} ({b.source}, {short_time(b.ts_ns)})")
            _add_row(facts, "portfolio value", dollars(b.portfolio_value))
        if self.equity is None:
            _add_row(facts, "equity", "no snapshot yet")
        else:
            s = self.equity
            _add_row(facts, "equity", f"{dollars(s.equity)} ({short_time(s.ts_ns)})")
            _add_row(facts, "unrealized at mid", dollars(s.unrealized_mid))
        _add_row(facts, "open positions", str(self.open_positions))
        _add_row(facts, "resting orders", str(self.resting_orders))
        t = self.today
        _add_row(
            facts,
            f"today ({t.key} UTC)",
            f"net {dollars(t.net)} (before fees {dollars(t.realized)}, fees {dollars(t.fees)})",
        )
        _add_row(facts, "index", "no record yet" if self.index is None else index_text(self.index))
        parts: list[RenderableType] = [facts]
        events = compact_table("last risk events", "time", "kind", "severity", "detail")
        events.columns[-1].max_width = None if wide else 40
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


def positions_table(rows: Sequence[OpenPosition], wide: bool = False) -> RenderableType:
    if not rows:
        return no_rows("open positions")
    # "before fees" beside "fees": realized P&L is net of fees wherever a single figure is shown.
    numeric = ("position", "avg price", "cost", "before fees", "fees", "exchange")
    table = compact_table("open positions (from fills)", "ticker", *numeric, numeric=numeric)
    for r in rows:
        exchange = Text("-" if r.exchange_position is None else position_text(r.exchange_position))
        if r.exchange_position is not None and r.exchange_position != r.position:
            exchange = Text(f"{exchange} (differs)", style="bold red")
        _add_row(
            table,
            r.ticker,
            position_text(r.position),
            average_price_usd(r.cost, abs(r.position)),
            dollars(r.cost),
            dollars(r.realized),
            dollars(r.fees),
            exchange,
        )
    return table


def _day(ts_ns: int) -> str:
    return short_time(ts_ns)[:10]


def orders_table(orders: Sequence[OrderRecord], wide: bool = False) -> RenderableType:
    """Narrow: time, short client id, ticker, side, price, filled/count, fees, status; ``wide`` adds the
    exchange's order id and the strategy and shows ids and times in full."""
    if not orders:
        return no_rows("orders")
    numeric = ("price", "filled", "fees")
    ids = ("client id", "order id") if wide else ("id",)
    extra = ("strategy",) if wide else ()
    columns = ("created" if wide else "UTC", *ids, "ticker", "side", *numeric, "status", *extra)
    table = compact_table("orders (newest first)", *columns, numeric=numeric)
    day = ""
    for o in orders:
        if not wide and _day(o.created_ns) != day:
            day = _day(o.created_ns)
            _add_row(table, Text(day, style="dim"))
        cells: list[str | Text] = [short_time(o.created_ns) if wide else short_time(o.created_ns)[11:19]]
        cells += [o.client_order_id, o.order_id or "-"] if wide else [short_id(o.client_order_id)]
        cells += [
            o.ticker, o.side, format_price_usd(o.price), f"{format_qty(o.fill_count)}/{format_qty(o.count)}",
            dollars(o.fees), o.status,
        ]  # fmt: skip
        cells += [o.strategy] if wide else []
        _add_row(table, *cells)
    return table


def fills_table(fills: Sequence[FillRecord], wide: bool = False) -> RenderableType:
    """Narrow: time, short fill id, ticker, side, price, count, fee, taker; ``wide`` adds the order id and
    the strategy and shows ids and times in full."""
    if not fills:
        return no_rows("fills")
    numeric = ("price", "count", "fee")
    ids = ("fill id", "order id") if wide else ("id",)
    extra = ("strategy",) if wide else ()
    table = compact_table(
        "fills (newest first)", "time" if wide else "UTC", *ids, "ticker", "side", *numeric, "taker", *extra,
        numeric=numeric,
    )  # fmt: skip
    day = ""
    for f in fills:
        if not wide and _day(f.ts_ns) != day:
            day = _day(f.ts_ns)
            _add_row(table, Text(day, style="dim"))
        cells: list[str | Text] = [short_time(f.ts_ns) if wide else short_time(f.ts_ns)[11:19]]
        cells += [f.fill_id, f.order_id] if wide else [short_id(f.fill_id)]
        cells += [
            f.ticker, f.side, format_price_usd(f.price), format_qty(f.count), dollars(f.fee),
            "yes" if f.is_taker else "no",
        ]  # fmt: skip
        cells += [f.strategy] if wide else []
        _add_row(table, *cells)
    return table


def pnl_table(by: str, lines: Sequence[PnlLine], whole: PnlLine, wide: bool = False) -> RenderableType:
    """Realized P&L net of fees beside its parts (``realized`` is before fees, ``net`` after)."""
    if not lines:
        return no_rows("fills or settlements: no realized P&L yet")
    numeric = ("before fees", "fees", "net", "contracts", "fills")
    table = compact_table(f"realized P&L by {by}", by, *numeric, numeric=numeric)
    for line in [*lines, whole]:
        style = "bold" if line is whole else None
        _add_row(
            table, line.key, dollars(line.realized), dollars(line.fees), dollars(line.net),
            format_qty(line.volume), str(line.fills), style=style,
        )  # fmt: skip
    return table
