"""The operator commands against a real SQLite store built with known trades.

The trades (worked by hand; Price 1e-4 $, Count 1e-2, Money 1e-6 $):

Yesterday, market A, settles YES:
  f1 fair_value  buy YES 10.00 @ 0.40 fee 0.17
  f2 book_glitch buy YES  5.00 @ 0.50 fee 0.09
  f3 fair_value  sell YES 4.00 @ 0.60 fee 0.07  -> netted realized 2.40 - 6.50*4/15 = 0.666667
  settlement YES on the remaining 11.00         -> 11.00 - 4.766667 = 6.233333; A total 6.90
Today, market B, open:
  f4 book_glitch sell YES 2.00 @ 0.30 (buys NO at 0.70) fee 0.03
  f5 fair_value  buy YES  1.00 @ 0.25 fee 0.02  -> netted: closes 1 NO, realized 0.75 - 0.70 = 0.05
  f6 fair_value  sell YES 0.50 @ 0.33 fee 0.01  -> netted: NO 1.50 at cost 1.035 (avg 0.69)
By strategy (each replayed alone): fair_value A 4.40 + B 0.04 (closes 0.50 of its YES: 0.165 - 0.125);
book_glitch A 2.50, B 0; the netting the strategies cannot see (0.01) is "(unattributed)".
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from kxbtc.cli import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, cli
from kxbtc.clock import ManualClock
from kxbtc.store.db import SqliteStore
from kxbtc.store.records import (
    FillRecord,
    OrderRecord,
    PnlSnapshot,
    PositionRecord,
    RiskEventRecord,
    SettlementRecord,
)
from kxbtc.units import Count, Money, Price

A = "KXBTC15M-26NOV241415-15"
B = "KXBTCD-26NOV2517-T97499.99"
C = "KXBTCD-26NOV2517-T98499.99"


def ns(iso: str) -> int:
    return int(datetime.fromisoformat(iso).replace(tzinfo=UTC).timestamp()) * 1_000_000_000


NOW = ns("2026-11-25T15:30:00")


def fill(fid: str, ticker: str, side: str, price: int, count: int, fee: int, at: str, by: str) -> FillRecord:
    return FillRecord(fid, f"o-{fid}", ticker, side, Price(price), Count(count), Money(fee), True, ns(at), by)


def order(coid: str, ticker: str, status: str, at: str, strategy: str, price: int = 4000) -> OrderRecord:
    return OrderRecord(
        client_order_id=coid,
        ticker=ticker,
        side="bid",
        price=Price(price),
        count=Count(1000),
        time_in_force="good_till_canceled",
        status=status,
        created_ns=ns(at),
        updated_ns=ns(at),
        strategy=strategy,
        order_id=f"x-{coid}",
    )


def build_store(path: Path) -> SqliteStore:
    store = SqliteStore(path)
    for record in (
        order("c-1", A, "executed", "2026-11-24T14:00:00", "fair_value"),
        order("c-2", A, "executed", "2026-11-24T14:05:00", "book_glitch"),
        order("c-3", B, "canceled", "2026-11-25T09:00:00", "fair_value"),
        order("c-4", B, "resting", "2026-11-25T11:30:00", "fair_value", price=2100),
        order("c-5", B, "resting", "2026-11-25T11:40:00", "book_glitch", price=2200),
    ):
        store.record_order(record)
    for record in (
        fill("f1", A, "bid", 4000, 1000, 170_000, "2026-11-24T14:00:00", "fair_value"),
        fill("f2", A, "bid", 5000, 500, 90_000, "2026-11-24T14:05:00", "book_glitch"),
        fill("f3", A, "ask", 6000, 400, 70_000, "2026-11-24T14:10:00", "fair_value"),
        fill("f4", B, "ask", 3000, 200, 30_000, "2026-11-25T10:00:00", "book_glitch"),
        fill("f5", B, "bid", 2500, 100, 20_000, "2026-11-25T10:30:00", "fair_value"),
        fill("f6", B, "ask", 3300, 50, 10_000, "2026-11-25T11:00:00", "fair_value"),
    ):
        store.record_fill(record)
    store.record_settlement(
        SettlementRecord(
            A, "KXBTC15M-26NOV241415", "yes", Count(1100), Count(0), Money(4_766_667), Money(0),
            Money(11_000_000), Money(0), ns("2026-11-24T14:15:05"),
        )
    )  # fmt: skip
    # The exchange's last report: B agrees, A is stale (settled since), C is a position we never saw.
    stale = ns("2026-11-24T14:14:00")
    store.set_position(PositionRecord(A, Count(1100), Money(0), Money(0), Money(0), stale))
    store.set_position(PositionRecord(B, Count(-150), Money(1_035_000), Money(0), Money(60_000), NOW))
    store.set_position(PositionRecord(C, Count(300), Money(900_000), Money(0), Money(0), NOW))
    store.record_balance(ns("2026-11-25T15:00:00"), 120_000_000, 1_000_000, "rest")
    store.record_balance(ns("2026-11-25T15:20:00"), 123_450_000, 1_035_000, "rest")
    store.record_pnl(
        PnlSnapshot(ns("2026-11-25T15:25:00"), "2026-11-25", Money(124_485_000), Money(6_950_000),
                    Money(-45_000), Money(-90_000), Money(390_000))
    )  # fmt: skip
    kinds = ["oldest", "stale_data", "repaired_fill", "position_mismatch", "reconnect", "newest"]
    for i, kind in enumerate(kinds):
        store.record_risk_event(RiskEventRecord(ns("2026-11-25T12:00:00") + i, kind, "warning", f"event {i}"))
    store.flush()
    return store


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "kxbtc.db"
    store = build_store(path)
    store.close()
    yield path


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), obj={"clock": ManualClock(NOW)})


def run_json(*args: str) -> Any:
    result = run(*args, "--json")
    assert result.exit_code == EXIT_OK, result.output
    return json.loads(result.stdout)


def money(micros: int) -> dict[str, Any]:
    sign = "-" if micros < 0 else ""
    return {"micros": micros, "dollars": f"{sign}{abs(micros) // 10**6}.{abs(micros) % 10**6:06d}"}


def row_with(output: str, needle: str) -> str:
    [line] = [line for line in output.splitlines() if needle in line]
    return line


# -- pnl --------------------------------------------------------------------------------------------


def test_pnl_by_strategy_splits_realized_fees_and_net_exactly(db: Path) -> None:
    report = run_json("pnl", "--db", str(db), "--by", "strategy")
    lines = {line["key"]: line for line in report["lines"]}
    assert list(lines) == ["book_glitch", "fair_value", "(unattributed)"]
    assert lines["fair_value"] == {
        "key": "fair_value",
        "realized": money(4_440_000),
        "fees": money(270_000),
        "net": money(4_170_000),
        "volume": "15.50",
        "fills": 4,
    }
    book_glitch, rest = lines["book_glitch"], lines["(unattributed)"]
    assert (book_glitch["realized"], book_glitch["fees"]) == (money(2_500_000), money(120_000))
    assert (rest["realized"], rest["fees"]) == (money(10_000), money(0))
    assert report["total"]["realized"] == money(6_950_000)
    assert report["total"]["fees"] == money(390_000)
    assert report["total"]["net"] == money(6_560_000)
    assert report["warnings"] == []


def test_pnl_by_day_uses_the_utc_day_of_each_fill_and_settlement(db: Path) -> None:
    report = run_json("pnl", "--db", str(db), "--by", "day")
    days = {line["key"]: line for line in report["lines"]}
    assert list(days) == ["2026-11-24", "2026-11-25"]
    assert (days["2026-11-24"]["realized"], days["2026-11-24"]["fees"]) == (money(6_900_000), money(330_000))
    assert days["2026-11-25"]["net"] == money(-10_000)  # realized 0.05, fees 0.06
    assert days["2026-11-25"]["fills"] == 3


def test_pnl_by_market_and_the_table_shows_the_same_numbers(db: Path) -> None:
    report = run_json("pnl", "--db", str(db), "--by", "market")
    markets = {line["key"]: line for line in report["lines"]}
    assert markets[A]["realized"] == money(6_900_000)
    assert markets[B]["realized"] == money(50_000)

    table = run("pnl", "--db", str(db), "--by", "strategy")
    assert table.exit_code == EXIT_OK, table.output
    fair_value = row_with(table.stdout, "fair_value")
    assert "$4.44" in fair_value and "$0.27" in fair_value and "$4.17" in fair_value
    total = row_with(table.stdout, "total")
    assert "$6.95" in total and "$0.39" in total and "$6.56" in total


# -- status -----------------------------------------------------------------------------------------


def test_status_reports_balance_equity_counts_today_and_last_five_risk_events(db: Path) -> None:
    status = run_json("status", "--db", str(db))
    assert status["db"] == str(db)
    assert status["schema_version"] == 2
    assert (status["halted"], status["halt_reason"]) == (False, "")
    assert status["balance"]["balance"] == money(123_450_000)
    assert status["balance"]["time"] == "2026-11-25T15:20:00.000Z"
    assert status["equity"]["equity"] == money(124_485_000)
    assert status["open_positions"] == 1  # B; A settled
    assert status["resting_orders"] == 2
    assert status["today"] == {
        "day": "2026-11-25",
        "realized": money(50_000),
        "fees": money(60_000),
        "net": money(-10_000),
    }
    assert [e["kind"] for e in status["risk_events"]] == [
        "newest", "reconnect", "position_mismatch", "repaired_fill", "stale_data",
    ]  # fmt: skip

    table = run("status", "--db", str(db))
    assert table.exit_code == EXIT_OK, table.output
    assert "not halted" in table.stdout and "no heartbeat" in row_with(table.stdout, "engine")
    assert "$123.45" in table.stdout and "$124.49" in table.stdout  # half away from zero to the cent
    assert "net -$0.01" in row_with(table.stdout, "today")
    assert "position_mismatch" in table.stdout and "oldest" not in table.stdout


def test_status_reads_beside_a_running_store(tmp_path: Path) -> None:
    path = tmp_path / "live.db"
    store = build_store(path)
    try:
        store.record_risk_event(RiskEventRecord(NOW, "live_event", "info", "written while open"))
        store.flush()
        status = run_json("status", "--db", str(path))
        assert status["risk_events"][0]["kind"] == "live_event"
    finally:
        store.close()


# -- positions, orders, fills -----------------------------------------------------------------------


def test_positions_come_from_fills_and_show_the_exchange_disagreeing(db: Path) -> None:
    report = run_json("positions", "--db", str(db))
    rows = {p["ticker"]: p for p in report["positions"]}
    assert list(rows) == [B, C]  # A settled, so its stale exchange row is not a position
    assert rows[B] == {
        "ticker": B,
        "position": "-1.50",
        "cost": money(1_035_000),
        "average_price": "0.6900",
        "realized": money(50_000),
        "fees": money(60_000),
        "exchange_position": "-1.50",
        "exchange_exposure": money(1_035_000),
        "matches_exchange": True,
    }
    assert (rows[C]["position"], rows[C]["exchange_position"], rows[C]["matches_exchange"]) == (
        "0.00",
        "3.00",
        False,
    )

    table = run("positions", "--db", str(db))
    assert "NO 1.50" in row_with(table.stdout, B)
    assert "differs" in row_with(table.stdout, C)


def test_orders_filter_by_status_and_limit_newest_first(db: Path) -> None:
    resting = run_json("orders", "--db", str(db), "--status", "resting")["orders"]
    assert [o["client_order_id"] for o in resting] == ["c-5", "c-4"]
    c4 = resting[1]
    assert (c4["price"], c4["count"], c4["strategy"]) == ("0.2100", "10.00", "fair_value")

    newest = run_json("orders", "--db", str(db), "--limit", "2")["orders"]
    assert [o["client_order_id"] for o in newest] == ["c-5", "c-4"]

    table = run("orders", "--db", str(db))
    assert table.exit_code == EXIT_OK
    assert "canceled" in row_with(table.stdout, "c-3")


def test_fills_filter_by_ticker_with_exact_fees(db: Path) -> None:
    fills = run_json("fills", "--db", str(db), "--ticker", A)["fills"]
    assert [f["fill_id"] for f in fills] == ["f3", "f2", "f1"]
    assert fills[0]["fee"] == money(70_000)
    assert (fills[0]["side"], fills[0]["price"], fills[0]["count"]) == ("ask", "0.6000", "4.00")

    assert [f["fill_id"] for f in run_json("fills", "--db", str(db), "--limit", "1")["fills"]] == ["f6"]
    table = run("fills", "--db", str(db), "--ticker", B)
    assert "$0.33" in row_with(table.stdout, "f6") and "$0.01" in row_with(table.stdout, "f6")


# -- halt / resume ----------------------------------------------------------------------------------


def test_halt_and_resume_round_trip_through_the_engine_visible_key(db: Path) -> None:
    halted = run("halt", "--db", str(db), "--reason", "BTC feed [coinbase] looks wrong")
    assert halted.exit_code == EXIT_OK, halted.output
    status = run_json("status", "--db", str(db))
    assert (status["halted"], status["halt_reason"]) == (True, "BTC feed [coinbase] looks wrong")
    assert status["risk_events"][0] == {
        "ts_ns": NOW,
        "time": "2026-11-25T15:30:00.000Z",
        "kind": "manual_halt",
        "severity": "halt",
        "detail": "BTC feed [coinbase] looks wrong",
    }
    assert "HALTED: BTC feed [coinbase] looks wrong" in run("status", "--db", str(db)).stdout

    # What the engine polls, through its own store, while running.
    store = SqliteStore(db)
    try:
        assert store.get_value("halted") == "BTC feed [coinbase] looks wrong"
        resumed = run("resume", "--db", str(db))  # with the engine's writer open
        assert resumed.exit_code == EXIT_OK, resumed.output
        assert store.get_value("halted") == ""
    finally:
        store.close()

    status = run_json("status", "--db", str(db))
    assert status["halted"] is False
    assert [(e["kind"], e["severity"]) for e in status["risk_events"][:2]] == [
        ("resume", "info"),
        ("manual_halt", "halt"),
    ]
    again = run("resume", "--db", str(db))
    assert again.exit_code == EXIT_OK and "not halted" in again.stdout
    assert run_json("status", "--db", str(db))["risk_events"][0]["kind"] == "resume"  # nothing new recorded


def test_halt_without_reason_still_halts_and_empty_reason_is_refused(db: Path) -> None:
    assert run("halt", "--db", str(db)).exit_code == EXIT_OK
    assert run_json("status", "--db", str(db))["halt_reason"] == "manual halt by the operator"
    refused = run("halt", "--db", str(db), "--reason", "  ")
    assert refused.exit_code == EXIT_USAGE
    assert "--reason" in refused.stderr


# -- errors -----------------------------------------------------------------------------------------


ALL_COMMANDS = [["status"], ["positions"], ["orders"], ["fills"], ["pnl"], ["halt"], ["resume"]]


@pytest.mark.parametrize("command", ALL_COMMANDS)
def test_missing_database_is_a_usage_error_naming_the_file(tmp_path: Path, command: list[str]) -> None:
    path = tmp_path / "nowhere.db"
    result = run(*command, "--db", str(path))
    assert result.exit_code == EXIT_USAGE
    assert str(path) in result.stderr and "no database file" in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert not path.exists()  # halt never creates a database


def test_database_path_comes_from_the_environment(db: Path) -> None:
    result = CliRunner(env={"KXBTC_STORE__PATH": str(db)}).invoke(
        cli, ["orders", "--json"], obj={"clock": ManualClock(NOW)}
    )
    assert result.exit_code == EXIT_OK, result.output
    assert len(json.loads(result.stdout)["orders"]) == 5


@pytest.mark.parametrize("command", [["status"], ["pnl", "--json"], ["halt"]])
def test_garbage_file_is_refused_by_name(tmp_path: Path, command: list[str]) -> None:
    path = tmp_path / "garbage.db"
    path.write_bytes(b"definitely not sqlite" * 50)
    result = run(*command, "--db", str(path))
    assert result.exit_code == EXIT_USAGE
    assert f"{path}: the file is not a valid kxbtc database" in result.stderr
    assert "Traceback" not in result.output
    assert path.read_bytes().startswith(b"definitely not sqlite")


@pytest.mark.parametrize("command", [["status"], ["fills"], ["resume"], ["halt"]])
def test_foreign_sqlite_file_is_refused_by_name(tmp_path: Path, command: list[str]) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE customers (id INTEGER)")
    conn.commit()
    conn.close()
    result = run(*command, "--db", str(path))
    assert result.exit_code == EXIT_USAGE
    assert f"{path}: this SQLite file belongs to another application" in result.stderr
    assert sqlite3.connect(path).execute("SELECT name FROM sqlite_master").fetchall() == [("customers",)]


def test_truncated_database_is_a_usage_error(db: Path) -> None:
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 3])
    result = run("pnl", "--db", str(db))
    assert result.exit_code == EXIT_USAGE, result.output
    assert str(db) in result.stderr


def test_bad_options_are_usage_errors(db: Path) -> None:
    assert run("orders", "--db", str(db), "--limit", "0").exit_code == EXIT_USAGE
    assert run("pnl", "--db", str(db), "--by", "week").exit_code == EXIT_USAGE


def test_an_impossible_record_is_a_runtime_failure_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "odd.db"
    store = SqliteStore(path)
    store.record_fill(fill("f-zero", A, "bid", 4000, 0, 0, "2026-11-25T10:00:00", "fair_value"))
    store.close()
    result = run("pnl", "--db", str(path))
    assert result.exit_code == EXIT_FAILURE
    assert "f-zero" in result.stderr and "Traceback" not in result.output


def test_a_voided_market_is_reported_not_guessed(tmp_path: Path) -> None:
    path = tmp_path / "void.db"
    store = SqliteStore(path)
    store.record_fill(fill("f1", A, "bid", 4000, 100, 0, "2026-11-25T10:00:00", "fair_value"))
    store.record_settlement(
        SettlementRecord(A, "", "void", Count(100), Count(0), Money(0), Money(0), Money(0), Money(0), NOW)
    )
    store.close()
    report = run_json("pnl", "--db", str(path))
    assert report["total"]["realized"] == money(0)
    assert report["warnings"] == [f"settlement of {A} with result 'void' was not applied"]


def test_a_settlements_fee_total_is_a_cross_check_not_a_second_charge(tmp_path: Path) -> None:
    # Kalshi's settlement record repeats the fees the market's fills already paid (fee_cost): the P&L
    # counts them once, and a settlement whose total disagrees with the fills is reported.
    path = tmp_path / "kxbtc.db"
    store = SqliteStore(path)
    store.record_fill(fill("g1", A, "bid", 4000, 1000, 170_000, "2026-11-24T14:00:00", "fair_value"))
    store.record_fill(fill("g2", B, "bid", 4000, 1000, 170_000, "2026-11-24T14:00:00", "fair_value"))
    for ticker, reported in ((A, 170_000), (B, 999_999)):
        store.record_settlement(
            SettlementRecord(
                ticker, "E", "yes", Count(1000), Count(0), Money(4_000_000), Money(0), Money(10_000_000),
                Money(reported), ns("2026-11-24T14:15:05"),
            )
        )  # fmt: skip
    store.close()
    report = run_json("pnl", "--db", str(path), "--by", "market")
    assert report["total"]["fees"] == money(340_000)  # each fill's fee once
    assert report["total"]["realized"] == money(12_000_000)
    [warning] = report["warnings"]
    assert B in warning and "reports fees $1.00" in warning and "paid $0.17" in warning
