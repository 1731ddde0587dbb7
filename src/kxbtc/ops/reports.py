"""The operator reports, built from an open read-only connection: one object per report, shown either as
one JSON object (``as_json``) or as rich tables (``as_table``).

``kxbtc status/positions/orders/fills/pnl`` and the dashboard both build their answers here, so the
command line and the web page always show the same numbers.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from rich.console import RenderableType

from kxbtc.ops import pnl_report, queries, render
from kxbtc.ops.engine_status import engine_view
from kxbtc.ops.index_status import index_view
from kxbtc.ops.pnl_report import GroupBy, OpenPosition, PnlLine
from kxbtc.ops.queries import HALT_KEY, PAUSED_KEY, TRADING_MODE_KEY
from kxbtc.ops.render import JsonObject, StatusView
from kxbtc.store.reads import read_fills, read_positions, read_settlements
from kxbtc.store.records import FillRecord, OrderRecord

#: How many of the newest risk events the status report carries.
STATUS_RISK_EVENTS = 5


def replay(conn: sqlite3.Connection) -> pnl_report.Replay:
    """Every recorded fill and settlement, replayed in time order."""
    return pnl_report.replay(read_fills(conn), read_settlements(conn))


def status_view(conn: sqlite3.Connection, db: Path, now_ns: int) -> StatusView:
    """Balance, equity, counts, today's P&L, halt state, last risk events, the live engine's index (source,
    last print, gap of the estimate to Kalshi) and whether an engine is running (its heartbeat's age on
    the wall clock, ``now_ns``).

    "Today" is the UTC day of the data's clock: the market time of the engine's last heartbeat (simulated
    time for the demo), or ``now_ns`` when no engine ever beat here."""
    engine = engine_view(conn, now_ns)
    data_now = now_ns if engine is None else int(engine["market_time_ns"])
    result = replay(conn)
    return StatusView(
        db=str(db),
        schema_version=queries.schema_version(conn, db),
        halt_reason=queries.read_value(conn, HALT_KEY) or "",
        balance=queries.latest_balance(conn),
        equity=queries.latest_pnl(conn),
        open_positions=len(result.ledger.open_positions()),
        resting_orders=queries.count_orders(conn, "resting"),
        today=pnl_report.day_line(result, pnl_report.utc_day(data_now)),
        risk_events=queries.recent_risk_events(conn, STATUS_RISK_EVENTS),
        warnings=result.warnings,
        index=index_view(conn, data_now),
        trading_mode=queries.read_value(conn, TRADING_MODE_KEY) or "",
        paused_strategies=_paused(queries.read_value(conn, PAUSED_KEY)),
        engine=engine,
        data_time_ns=data_now,
    )


def _paused(saved: str | None) -> dict[str, str]:
    try:
        data = json.loads(saved) if saved else {}
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


@dataclass(frozen=True, slots=True)
class PositionsReport:
    db: str
    rows: list[OpenPosition]
    warnings: list[str]

    def as_json(self) -> JsonObject:
        return {
            "db": self.db,
            "positions": [render.position_json(r) for r in self.rows],
            "warnings": self.warnings,
        }

    def as_table(self, wide: bool = False) -> RenderableType:
        return render.positions_table(self.rows, wide)


def positions_report(conn: sqlite3.Connection, db: Path) -> PositionsReport:
    """Open positions rebuilt from the fills, beside what the exchange last reported."""
    result = replay(conn)
    rows = pnl_report.open_positions(result, read_positions(conn))
    return PositionsReport(str(db), rows, result.warnings)


@dataclass(frozen=True, slots=True)
class OrdersReport:
    db: str
    orders: list[OrderRecord]

    def as_json(self) -> JsonObject:
        return {"db": self.db, "orders": [render.order_json(o) for o in self.orders]}

    def as_table(self, wide: bool = False) -> RenderableType:
        return render.orders_table(self.orders, wide)


def orders_report(conn: sqlite3.Connection, db: Path, status: str | None, limit: int) -> OrdersReport:
    """The newest ``limit`` orders (only those in ``status`` if given), newest first."""
    return OrdersReport(str(db), queries.recent_orders(conn, status, limit))


@dataclass(frozen=True, slots=True)
class FillsReport:
    db: str
    fills: list[FillRecord]

    def as_json(self) -> JsonObject:
        return {"db": self.db, "fills": [render.fill_json(f) for f in self.fills]}

    def as_table(self, wide: bool = False) -> RenderableType:
        return render.fills_table(self.fills, wide)


def fills_report(conn: sqlite3.Connection, db: Path, ticker: str | None, limit: int) -> FillsReport:
    """The newest ``limit`` fills (only in ``ticker`` if given), newest first."""
    return FillsReport(str(db), queries.recent_fills(conn, ticker, limit))


@dataclass(frozen=True, slots=True)
class PnlReport:
    db: str
    by: GroupBy
    lines: list[PnlLine]
    total: PnlLine
    warnings: list[str]

    def as_json(self) -> JsonObject:
        return {
            "db": self.db,
            "by": self.by,
            "lines": [render.pnl_line_json(line) for line in self.lines],
            "total": render.pnl_line_json(self.total),
            "warnings": self.warnings,
        }

    def as_table(self, wide: bool = False) -> RenderableType:
        return render.pnl_table(self.by, self.lines, self.total, wide)


def pnl_report_by(conn: sqlite3.Connection, db: Path, by: GroupBy) -> PnlReport:
    """Realized P&L, fees and net grouped ``by`` strategy, market or UTC day, with the total."""
    result = replay(conn)
    lines = pnl_report.group(result, by)
    return PnlReport(str(db), by, lines, pnl_report.total(result.events), result.warnings)
