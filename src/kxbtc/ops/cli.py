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
from kxbtc.domain.orders import ORDER_STATUSES
from kxbtc.errors import KxbtcError
from kxbtc.exit_codes import EXIT_FAILURE, EXIT_USAGE
from kxbtc.ops import kill_switch, queries, reports
from kxbtc.ops.kill_switch import DEFAULT_HALT_REASON
from kxbtc.ops.pnl_report import GROUPINGS, GroupBy
from kxbtc.ops.queries import DatabaseUnusable

DEFAULT_DB = "kxbtc.db"

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


def _wide_option(func: F) -> F:
    return click.option(
        "--wide", is_flag=True, help="Full ids and times and every column (the default fits 80 columns)."
    )(func)


def _emit(
    as_json: bool, payload: dict[str, Any], table: Callable[[bool], RenderableType], wide: bool
) -> None:
    if as_json:
        click.echo(json.dumps(payload, indent=2))
        return
    # The narrow tables fit 80 columns by design; when piped, a wide console never cuts a --wide table.
    console = Console(file=sys.stdout, width=None if sys.stdout.isatty() else 200)
    console.print(table(wide))


# -- read commands ----------------------------------------------------------------------------------


@click.command("status")
@_db_option
@_json_option
@_wide_option
def status(db: Path, as_json: bool, wide: bool) -> None:
    """Balance, equity, open positions, resting orders, today's P&L, halt state, last risk events."""
    with _guarded(db), closing(queries.open_readonly(db)) as conn:
        view = reports.status_view(conn, db, _clock().time_ns())
        _emit(as_json, view.as_json(), view.as_table, wide)


@click.command("positions")
@_db_option
@_json_option
@_wide_option
def positions(db: Path, as_json: bool, wide: bool) -> None:
    """Open positions rebuilt from the recorded fills, beside what the exchange last reported."""
    with _guarded(db), closing(queries.open_readonly(db)) as conn:
        report = reports.positions_report(conn, db)
        _emit(as_json, report.as_json(), report.as_table, wide)


@click.command("orders")
@_db_option
@_json_option
@_wide_option
@click.option(
    "--status",
    "order_status",
    type=click.Choice(ORDER_STATUSES),
    default=None,
    help="Only orders in this state.",
)
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True, help="Newest N orders.")
def orders(db: Path, as_json: bool, wide: bool, order_status: str | None, limit: int) -> None:
    """The newest orders, newest first."""
    with _guarded(db), closing(queries.open_readonly(db)) as conn:
        report = reports.orders_report(conn, db, order_status, limit)
        _emit(as_json, report.as_json(), report.as_table, wide)


@click.command("fills")
@_db_option
@_json_option
@_wide_option
@click.option("--ticker", default=None, help="Only fills in this market.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True, help="Newest N fills.")
def fills(db: Path, as_json: bool, wide: bool, ticker: str | None, limit: int) -> None:
    """The newest fills, newest first."""
    with _guarded(db), closing(queries.open_readonly(db)) as conn:
        report = reports.fills_report(conn, db, ticker, limit)
        _emit(as_json, report.as_json(), report.as_table, wide)


@click.command("pnl")
@_db_option
@_json_option
@_wide_option
@click.option("--by", type=click.Choice(GROUPINGS), default="strategy", show_default=True)
def pnl(db: Path, as_json: bool, wide: bool, by: GroupBy) -> None:
    """Realized P&L from fills and settlements (replayed in time order), fees and net.

    Days are UTC days of the fill or settlement. By strategy, each strategy's fills are replayed as
    if it traded alone; cross-strategy netting and settlement fees show as "(unattributed)".
    """
    with _guarded(db), closing(queries.open_readonly(db)) as conn:
        report = reports.pnl_report_by(conn, db, by)
        _emit(as_json, report.as_json(), report.as_table, wide)


# -- the manual kill switch -------------------------------------------------------------------------


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
    with _guarded(db):
        previous = kill_switch.halt(db, reason, _clock().time_ns())
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
    with _guarded(db):
        halted = kill_switch.resume(db, _clock().time_ns())
    if not halted:
        click.echo("trading was not halted; nothing to do")
        return
    click.echo(f"trading resumed (was halted: {halted})")
