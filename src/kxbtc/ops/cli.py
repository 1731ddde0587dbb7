"""Operator commands over the local store: ``status``, ``positions``, ``orders``, ``fills``, ``pnl``,
``halt`` and ``resume``.

Reads open the database read-only and can run beside the live engine. Exit codes: 0 ok; 1 a runtime
failure (e.g. the database stayed locked); 2 a usage or configuration error (bad option, missing file,
corrupt or foreign database), always with a one-line message naming the file, never a traceback.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
from rich.console import Console, RenderableType

from kxbtc.clock import Clock, SystemClock
from kxbtc.errors import KxbtcError
from kxbtc.exit_codes import EXIT_FAILURE, EXIT_USAGE
from kxbtc.ops import pnl_report, queries, render
from kxbtc.ops.pnl_report import GROUPINGS, GroupBy
from kxbtc.ops.queries import HALT_KEY, DatabaseUnusable
from kxbtc.store.db import read_fills, read_positions, read_settlements
from kxbtc.store.records import RiskEventRecord

DEFAULT_DB = "kxbtc.db"
DEFAULT_HALT_REASON = "manual halt by the operator"
STATUS_RISK_EVENTS = 5

F = TypeVar("F", bound=Callable[..., Any])


def _exit(message: str, code: int) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    raise SystemExit(code)


@contextmanager
def _guarded(path: Path) -> Iterator[None]:
    """Turn the expected failures into one line and a stable exit code."""

    try:
        yield
    except DatabaseUnusable as exc:
        _exit(str(exc), EXIT_USAGE)
    except sqlite3.DatabaseError as exc:
        if "not a database" in str(exc) or "malformed" in str(exc):
            _exit(f"{path}: the file is not a valid kxbtc database (corrupt or not SQLite)", EXIT_USAGE)
        _exit(f"{path}: {exc}", EXIT_FAILURE)
    except sqlite3.Error as exc:
        _exit(f"{path}: {exc}", EXIT_FAILURE)
    except KxbtcError as exc:
        _exit(str(exc), EXIT_FAILURE)


def _db_option(func: F) -> F:
    return click.option(
        "--db",
        "db",
        type=click.Path(path_type=Path, dir_okay=True),
        envvar="KXBTC_STORE__PATH",
        default=DEFAULT_DB,
        show_default=True,
        help="The store's SQLite file (env KXBTC_STORE__PATH).",
    )(func)


def _json_option(func: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of tables.")(
        func
    )


def _clock() -> Clock:
    """The system clock, unless the invoker passed ``obj={"clock": ...}`` (tests pin "today")."""
    obj = click.get_current_context().obj
    clock = obj.get("clock") if isinstance(obj, dict) else None
    return clock if clock is not None else SystemClock()


def _emit(as_json: bool, payload: dict[str, Any], table: Callable[[], RenderableType]) -> None:
    if as_json:
        click.echo(json.dumps(payload, indent=2))
        return
    # Wide when piped, so numbers are never cut to fit an imaginary 80-column terminal.
    console = Console(file=sys.stdout, width=None if sys.stdout.isatty() else 200)
    console.print(table())


def _replay(conn: sqlite3.Connection) -> pnl_report.Replay:
    return pnl_report.replay(read_fills(conn), read_settlements(conn))


# -- read commands ----------------------------------------------------------------------------------


@click.command("status")
@_db_option
@_json_option
def status(db: Path, as_json: bool) -> None:
    """Balance, equity, open positions, resting orders, today's P&L, halt state, last risk events."""
    with _guarded(db), closing(queries.open_readonly(db)) as conn:
        today = pnl_report.utc_day(_clock().time_ns())
        result = _replay(conn)
        view = render.StatusView(
            db=str(db),
            schema_version=queries.schema_version(conn, db),
            halt_reason=queries.read_value(conn, HALT_KEY) or "",
            balance=queries.latest_balance(conn),
            equity=queries.latest_pnl(conn),
            open_positions=len(result.ledger.open_positions()),
            resting_orders=queries.count_orders(conn, "resting"),
            today=pnl_report.day_line(result, today),
            risk_events=queries.recent_risk_events(conn, STATUS_RISK_EVENTS),
            warnings=result.warnings,
        )
        _emit(as_json, view.as_json(), view.as_table)


@click.command("positions")
@_db_option
@_json_option
def positions(db: Path, as_json: bool) -> None:
    """Open positions rebuilt from the recorded fills, beside what the exchange last reported."""
    with _guarded(db), closing(queries.open_readonly(db)) as conn:
        result = _replay(conn)
        rows = pnl_report.open_positions(result, read_positions(conn))
        payload = {
            "db": str(db),
            "positions": [render.position_json(r) for r in rows],
            "warnings": result.warnings,
        }
        _emit(as_json, payload, lambda: render.positions_table(rows))


@click.command("orders")
@_db_option
@_json_option
@click.option("--status", "order_status", default=None, help="Only orders in this state (e.g. resting).")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True, help="Newest N orders.")
def orders(db: Path, as_json: bool, order_status: str | None, limit: int) -> None:
    """The newest orders, newest first."""
    with _guarded(db), closing(queries.open_readonly(db)) as conn:
        found = queries.recent_orders(conn, order_status, limit)
        payload = {"db": str(db), "orders": [render.order_json(o) for o in found]}
        _emit(as_json, payload, lambda: render.orders_table(found))


@click.command("fills")
@_db_option
@_json_option
@click.option("--ticker", default=None, help="Only fills in this market.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True, help="Newest N fills.")
def fills(db: Path, as_json: bool, ticker: str | None, limit: int) -> None:
    """The newest fills, newest first."""
    with _guarded(db), closing(queries.open_readonly(db)) as conn:
        found = queries.recent_fills(conn, ticker, limit)
        payload = {"db": str(db), "fills": [render.fill_json(f) for f in found]}
        _emit(as_json, payload, lambda: render.fills_table(found))


@click.command("pnl")
@_db_option
@_json_option
@click.option("--by", type=click.Choice(GROUPINGS), default="strategy", show_default=True)
def pnl(db: Path, as_json: bool, by: GroupBy) -> None:
    """Realized P&L from fills and settlements (replayed in time order), fees and net.

    Days are UTC days of the fill or settlement. By strategy, each strategy's fills are replayed as
    if it traded alone; cross-strategy netting and settlement fees show as "(unattributed)".
    """
    with _guarded(db), closing(queries.open_readonly(db)) as conn:
        result = _replay(conn)
        lines = pnl_report.group(result, by)
        whole = pnl_report.total(result.events)
        payload = {
            "db": str(db),
            "by": by,
            "lines": [render.pnl_line_json(line) for line in lines],
            "total": render.pnl_line_json(whole),
            "warnings": result.warnings,
        }
        _emit(as_json, payload, lambda: render.pnl_table(by, lines, whole))


# -- the manual kill switch -------------------------------------------------------------------------


def _switch(db: Path, reason: str, kind: str, severity: str) -> str:
    with _guarded(db), closing(queries.open_for_write(db)) as conn:
        event = RiskEventRecord(
            _clock().time_ns(), kind, severity, reason or "trading resumed by the operator"
        )
        return queries.set_halt(conn, db, reason=reason, event=event)
    raise AssertionError("unreachable")  # _guarded exits on every error


@click.command("halt")
@_db_option
@click.option(
    "--reason", default=DEFAULT_HALT_REASON, show_default=True, help="Why; shown by `kxbtc status`."
)
def halt(db: Path, reason: str) -> None:
    """Manual kill switch: stop trading.

    Sets the store's kv key "halted" to the reason and records a manual_halt risk event, in one
    transaction. The contract with the engine: it polls that key and, while it is non-empty, opens no
    new positions and cancels its resting orders; it reads it at start too, so a stopped engine starts
    halted. `kxbtc resume` clears it.
    """

    reason = reason.strip()
    if not reason:
        _exit("--reason must not be empty (an empty reason means running)", EXIT_USAGE)
    previous = _switch(db, reason, "manual_halt", "halt")
    if previous:
        click.echo(f"trading was already halted ({previous}); reason now: {reason}")
    else:
        click.echo(f"trading halted: {reason}")


@click.command("resume")
@_db_option
def resume(db: Path) -> None:
    """Lift the manual kill switch (clears kv "halted", records a resume risk event).

    Only the manual switch: automatic breakers (daily loss, drawdown) re-arm by their own rules.
    """
    with _guarded(db), closing(queries.open_readonly(db)) as conn:
        halted = queries.read_value(conn, HALT_KEY) or ""
    if not halted:
        click.echo("trading was not halted; nothing to do")
        return
    _switch(db, "", "resume", "info")
    click.echo(f"trading resumed (was halted: {halted})")
