"""Every command's human output shows money, prices and counts only as people read them.

Two databases feed the operator commands: one built by hand so that every stored integer is distinctive
(``DISTINCT``: a fee of 1_456_700 micro-dollars must read ``$1.46``, never ``1456700``, ``1.456700``,
``1.4567`` or ``145.67``), and one a short demo session wrote (real engine output, its risk events
included). The other offline commands run on a tiny recording, synthetic candles and the simulator. Each
output goes through ``raw_units``, which finds

- any stored integer of the database in one of its raw shapes (the integer, a 6- or 4-decimal string, the
  integer / 1e4, a count with 2 decimals);
- any number with 6 decimals (micro-dollars unrounded) and any bare integer of 4 or more digits without
  thousands separators, after ids, tickers, dates and paths are taken out.

``test_the_check_catches_a_raw_print`` shows the check failing on deliberately raw output, so a pass means
something. The narrow tables must also fit 80 columns.
"""

from __future__ import annotations

import re
import sqlite3
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from kxbtc.cli import COMMANDS, EXIT_OK, EXIT_USAGE, cli
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
from kxbtc.units import Count, Money, Price, format_money

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
from test_score import two_markets  # the tiny recording the score tests use

A = "KXBTC15M-26NOV241415-15"
B = "KXBTCD-26NOV2517-T97499.99"
S = 1_000_000_000


def ns(iso: str) -> int:
    return int(datetime.fromisoformat(iso).replace(tzinfo=UTC).timestamp()) * S


NOW = ns("2026-11-25T15:30:00")

#: Distinctive stored integers: money (1e-6 $), prices (1e-4 $), counts (1e-2).
FEE_1, FEE_2 = 1_456_700, 371_900
PRICE_1, PRICE_2 = 4_700, 6_300
COUNT_1, COUNT_2 = 8_700, 2_300
BALANCE, PORTFOLIO = 1_056_127_400, 48_300_100
EQUITY, REALIZED, UNREAL_MID, UNREAL_EXIT, FEES = 1_104_427_500, 8_599_300, -1_305_576, -2_811_900, 1_828_600
EXPOSURE = 1_457_300


def build_distinct(path: Path) -> None:
    store = SqliteStore(path)
    for coid, oid, ticker, side, price, count, status, at in (
        ("c0ffee01-aaaa-4bbb-8ccc-000000000001", "ord-0001", A, "bid", PRICE_1, COUNT_1, "executed", "14:00"),
        ("c0ffee02-aaaa-4bbb-8ccc-000000000002", "ord-0002", B, "ask", PRICE_2, COUNT_2, "executed", "10:00"),
        ("c0ffee03-aaaa-4bbb-8ccc-000000000003", "ord-0003", B, "bid", 2_100, 4_400, "resting", "11:30"),
    ):
        day = "2026-11-24" if ticker == A else "2026-11-25"
        filled = Count(count if status == "executed" else 0)
        store.record_order(
            OrderRecord(coid, ticker, side, Price(price), Count(count), "good_till_canceled", status,
                        ns(f"{day}T{at}:00"), ns(f"{day}T{at}:00"), "fair_value", oid, filled)
        )  # fmt: skip
    for fill in (
        FillRecord("f1-5a1e", "ord-0001", A, "bid", Price(PRICE_1), Count(COUNT_1), Money(FEE_1), True,
                   ns("2026-11-24T14:00:05"), "fair_value"),
        FillRecord("f2-5a1e", "ord-0002", B, "ask", Price(PRICE_2), Count(COUNT_2), Money(FEE_2), False,
                   ns("2026-11-25T10:00:05"), "book_glitch"),
    ):  # fmt: skip
        store.record_fill(fill)
    store.record_settlement(
        SettlementRecord(A, "KXBTC15M-26NOV241415", "yes", Count(COUNT_1), Count(0), Money(PRICE_1 * COUNT_1),
                         Money(0), Money(COUNT_1 * 10_000), Money(0), ns("2026-11-24T14:15:05"))
    )  # fmt: skip
    store.set_position(PositionRecord(B, Count(-COUNT_2), Money(EXPOSURE), Money(0), Money(FEE_2), NOW))
    store.record_balance(ns("2026-11-25T15:20:00"), BALANCE, PORTFOLIO, "rest")
    store.record_pnl(PnlSnapshot(ns("2026-11-25T15:25:00"), "2026-11-25", Money(EQUITY), Money(REALIZED),
                                 Money(UNREAL_MID), Money(UNREAL_EXIT), Money(FEES)))  # fmt: skip
    store.record_risk_event(
        RiskEventRecord(ns("2026-11-25T12:00:00"), "stale_data", "warning", "book stale 6 s")
    )
    store.flush()
    store.close()


# -- the check ------------------------------------------------------------------------------------------

_SIX_DECIMALS = re.compile(r"(?<![\w.])-?\d+\.\d{6}(?!\d)")
_BARE_INTEGER = re.compile(r"(?<![\w.,$:/+-])\d{4,}(?![\w-]|[.,:]\d)")
_DATE_TIME = re.compile(r"\d{4}-\d\d-\d\d([ T]\d\d:\d\d(:\d\d(\.\d+)?)?Z?)?")
_PATH = re.compile(r"(?:/[\w.+-]+)+/?")


def _shapes(value: int, kind: str) -> set[str]:
    """The ways a stored integer leaks out unformatted."""
    whole = abs(value)
    out = {str(whole), f"{whole:,}"}
    if kind == "money":
        out |= {format_money(whole), f"{whole / 1e4:.2f}"}
        if whole % 100 == 0:
            out.add(format_money(whole, 4))
    elif kind == "price":
        out.add(f"{whole // 10_000}.{whole % 10_000:04d}")
    else:  # count: the wire's 2 decimals where people read a whole number of contracts
        out.add(f"{whole // 100}.{whole % 100:02d}")
    return out


@dataclass
class Known:
    """What a database holds: integers whose raw shapes must not show, and ids/tickers to take out first."""

    integers: dict[int, str]
    tokens: set[str]


def known_values(db: Path) -> Known:
    conn = sqlite3.connect(db)
    integers: dict[int, str] = {}
    tokens: set[str] = set()
    queries = {
        "money": [
            "SELECT fees FROM orders", "SELECT fee FROM fills", "SELECT balance FROM balance_snapshots",
            "SELECT portfolio_value FROM balance_snapshots", "SELECT equity FROM pnl_snapshots",
            "SELECT realized FROM pnl_snapshots", "SELECT unrealized_mid FROM pnl_snapshots",
            "SELECT unrealized_exit FROM pnl_snapshots", "SELECT fees FROM pnl_snapshots",
            "SELECT revenue FROM settlements", "SELECT exposure FROM positions",
        ],
        "price": ["SELECT price FROM orders", "SELECT price FROM fills"],
        "count": ["SELECT count FROM orders", "SELECT count FROM fills", "SELECT position FROM positions"],
    }  # fmt: skip
    for kind, sqls in queries.items():
        for sql in sqls:
            for (value,) in conn.execute(sql):
                # Small values collide with honest text (a count of 12 contracts is "12"); the raw shapes
                # that matter are the big ones.
                if isinstance(value, int) and abs(value) >= 1_000 and value % 1_000_000 != 0:
                    integers.setdefault(abs(value), kind)
    for sql in (
        "SELECT client_order_id, order_id, ticker FROM orders",
        "SELECT fill_id, order_id, ticker FROM fills",
    ):
        for row in conn.execute(sql):
            tokens.update(str(v) for v in row if v)
    conn.close()
    return Known(integers, tokens)


def raw_units(text: str, known: Known | None = None) -> list[str]:
    """Every raw unit found in ``text`` (empty when it reads as people expect)."""
    found: list[str] = []
    clean = text
    for token in sorted(known.tokens if known else (), key=len, reverse=True):
        clean = clean.replace(token, " ").replace(token[:8], " ")
    clean = _PATH.sub(" ", _DATE_TIME.sub(" ", clean))
    found += [f"6 decimals: {m.group()}" for m in _SIX_DECIMALS.finditer(clean)]
    found += [f"bare integer: {m.group()}" for m in _BARE_INTEGER.finditer(clean)]
    for value, kind in known.integers.items() if known else ():
        for shape in _shapes(value, kind):
            # A count's 2-decimal shape ("87.00") may honestly be money ("$87.00"); the other shapes may not.
            before = r"(?<![\w.,$])" if kind == "count" and "." in shape else r"(?<![\w.,])"
            if re.search(rf"{before}{re.escape(shape)}(?![\w]|[.,]\d)", clean):
                found.append(f"raw {kind} {value} as {shape}")
    return found


# -- running the commands ---------------------------------------------------------------------------------


def invoke(*args: str) -> Result:
    result = CliRunner().invoke(cli, list(args), obj={"clock": ManualClock(NOW)})
    assert result.exit_code in (EXIT_OK, 1), (args, result.output, result.exception)
    # A crash is never a human output: only a clean exit (doctor's FAIL lines exit 1) passes.
    assert result.exception is None or isinstance(result.exception, SystemExit), (args, result.exception)
    assert "Traceback" not in result.output, (args, result.output)
    return result


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: object) -> None:
        self._skip += tag in ("script", "style")

    def handle_endtag(self, tag: str) -> None:
        self._skip -= tag in ("script", "style")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_text(path: Path) -> str:
    parser = _Text()
    parser.feed(path.read_text())
    return "\n".join(parser.parts)


OPERATOR = (
    ["status"], ["positions"], ["orders"], ["orders", "--status", "resting"], ["fills"],
    ["pnl"], ["pnl", "--by", "market"], ["pnl", "--by", "day"],
)  # fmt: skip


def operator_outputs(db: Path, wide: bool) -> Iterator[tuple[str, str]]:
    for args in OPERATOR:
        full = [*args, "--db", str(db), *(["--wide"] if wide else [])]
        yield " ".join(full), invoke(*full).output


def _candles(folder: Path) -> Path:
    """Synthetic one-minute candles: 4 hours of history and two scored windows."""
    start = datetime(2023, 3, 1, tzinfo=UTC)
    closes = [20_000.0 + 15.0 * ((i * 7) % 11 - 5) for i in range(270)]
    rows = ["open_time,open,high,low,close,volume"]
    for i, c in enumerate(closes):
        t = (start + timedelta(minutes=i)).strftime("%Y-%m-%d %H:%M:%S+00:00")
        rows.append(f"{t},{c!r},{c!r},{c!r},{c!r},1.0")
    path = folder / "candles.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, Known | None]]:
    """Every offline command's human output (name -> (text, the database's values or None))."""
    tmp = tmp_path_factory.mktemp("human")
    distinct = tmp / "distinct.db"
    build_distinct(distinct)
    out: dict[str, tuple[str, Known | None]] = {}
    demo_db = tmp / "demo.db"
    demo = invoke("demo", "--hours", "0.3", "--db", str(demo_db))
    dbs = {"distinct": (distinct, known_values(distinct)), "demo": (demo_db, known_values(demo_db))}
    out["demo"] = (demo.output, dbs["demo"][1])
    for name, (db, known) in dbs.items():
        for wide in (False, True):
            for label, text in operator_outputs(db, wide):
                out[f"{name}: {label}"] = (text, known)
        out[f"{name}: halt"] = (invoke("halt", "--db", str(db), "--reason", "checking").output, known)
        out[f"{name}: resume"] = (invoke("resume", "--db", str(db)).output, known)
        report = invoke("report", "--db", str(db), "--out", str(tmp / f"report-{name}"))
        out[f"{name}: report"] = (report.output + html_text(tmp / f"report-{name}" / "report.html"), known)
    rec = two_markets().write(tmp / "rec")
    split = ("--split", "2026-05-13T11:00:00Z")
    out["score"] = (invoke("score", str(rec), *split, "--resamples", "20").output, None)
    out["backtest"] = (invoke("backtest", "--markets", "1", "--seed", "1").output, None)
    out["backtest --replay"] = (
        invoke("backtest", "--replay", str(rec), "--strategy", "fair_value").output,
        None,
    )
    sweep = invoke("sweep", str(rec), "--strategy", "fair_value", "--latency-ms", "50", "--jobs", "1", *split)
    out["sweep"] = (sweep.output, None)
    candles = _candles(tmp)
    out["calibrate"] = (
        invoke("calibrate", str(candles), "--at", "10,2", "--plot", str(tmp / "p/c.png")).output,
        None,
    )
    fair = ("--spot", "97012.5", "--strike", "97100", "--seconds-to-close", "420", "--vol", "0.45")
    out["fairvalue"] = (invoke("fairvalue", *fair).output, None)
    out["config check"] = (invoke("config", "check").output, None)
    out["doctor"] = (
        invoke("doctor", "--no-ntp", "--rest-url", "http://127.0.0.1:9/trade-api/v2").output,
        None,
    )
    out["keys new"] = (invoke("keys", "new", "--out", str(tmp / "keys")).output, None)
    return out


def test_every_command_shows_money_prices_and_counts_as_people_read_them(
    outputs: dict[str, tuple[str, Known | None]],
) -> None:
    problems = {name: found for name, (text, known) in outputs.items() if (found := raw_units(text, known))}
    assert problems == {}, problems


def test_the_run_covers_every_offline_command(outputs: dict[str, tuple[str, Known | None]]) -> None:
    ran = {name.split(": ")[-1].split()[0] for name in outputs}
    # Network-only (history fetch, llm forecast, oracle/poly watches), a server (sim serve, dashboard) or
    # JSON-only (run, record, research) commands are left out on purpose; so is bench, which measures the
    # machine for a minute (its table shows times and rates, no money).
    offline = set(COMMANDS) - {
        "bench",
        "dashboard",
        "history",
        "llm",
        "oracle",
        "poly",
        "record",
        "research",
        "run",
        "sim",
    }
    assert offline <= ran, offline - ran


def test_the_distinct_values_read_as_dollars_cents_and_contracts(
    outputs: dict[str, tuple[str, Known | None]],
) -> None:
    text = "\n".join(t for name, (t, _) in outputs.items() if name.startswith("distinct:"))
    for shown in ("$1.46", "$0.37", "$0.47", "$0.63", "$1,056.13", "$1,104.43", "-$1.31", " 87 "):
        assert shown in text, shown


def test_the_check_catches_a_raw_print(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    known = Known({FEE_1: "money", PRICE_1: "price", COUNT_1: "count"}, {"ord-0001"})
    raws = (
        f"fee {FEE_1}", f"fee {FEE_1 / 1e6:.6f}", f"fee ${FEE_1 / 1e6:,.4f}", f"fee {FEE_1 / 1e4:.2f}",
        f"price {PRICE_1 / 1e4:.4f}", f"price ${PRICE_1 / 1e4:.4f}", f"size {COUNT_1 / 100:.2f}",
        "halted at equity 950960300",
    )  # fmt: skip
    for raw in raws:
        assert raw_units(raw, known), raw
    assert (
        raw_units("fee $1.46 at $0.47 for 87 contracts, order ord-0001 on 2026-11-24 14:00:05Z", known) == []
    )
    # And through a command: a table that printed the stored micro-dollars is caught.
    db = tmp_path / "d.db"
    build_distinct(db)
    monkeypatch.setattr("kxbtc.ops.render.dollars", format_money)
    assert raw_units(invoke("pnl", "--db", str(db)).output, known_values(db))


NARROW = ("status", "positions", "orders", "fills", "pnl", "score", "sweep", "calibrate")


def _lines(text: str) -> Iterable[str]:
    return (line.rstrip() for line in text.splitlines())


def test_the_narrow_tables_fit_80_columns(outputs: dict[str, tuple[str, Known | None]]) -> None:
    for name, (text, _) in outputs.items():
        command = name.split(": ")[-1]
        if "--wide" in command or command.split()[0] not in NARROW:
            continue
        # The status line naming the database file is as long as its path; everything else must fit.
        wide = [line for line in _lines(text) if len(line) > 80 and not line.startswith("database ")]
        assert wide == [], (name, wide)


def test_wide_shows_full_ids_and_narrow_short_ones(outputs: dict[str, tuple[str, Known | None]]) -> None:
    coid = "c0ffee01-aaaa-4bbb-8ccc-000000000001"
    narrow = next(t for n, (t, _) in outputs.items() if n.startswith("distinct: orders --db"))
    wide = next(t for n, (t, _) in outputs.items() if n.startswith("distinct: orders --db") and "--wide" in n)
    assert coid[:8] in narrow and coid not in narrow
    assert coid in wide


def test_a_bogus_choice_is_one_line_and_exit_2(tmp_path: Path) -> None:
    db = tmp_path / "d.db"
    build_distinct(db)
    result = CliRunner().invoke(cli, ["orders", "--db", str(db), "--status", "bogus"])
    assert result.exit_code == EXIT_USAGE
    assert result.stdout == "" and len(result.stderr.strip().splitlines()) == 1, result.output
    assert "'bogus' is not one of" in result.stderr and "resting" in result.stderr
    usage = (
        ["bogus-command"], ["pnl", "--by", "week"], ["fairvalue"], ["--nope"], ["config", "nope"],
        ["backtest", "--trade-from", "2026-05-13T15:00:00Z"], ["fills", "--limit", "0"],
    )  # fmt: skip
    for args in usage:
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == EXIT_USAGE, args
        assert len(result.stderr.strip().splitlines()) == 1, (args, result.stderr)


def test_empty_tables_say_so(tmp_path: Path) -> None:
    db = tmp_path / "empty.db"
    SqliteStore(db).close()
    assert invoke("orders", "--db", str(db)).output.strip() == "no orders"
    assert invoke("fills", "--db", str(db)).output.strip() == "no fills"
    assert invoke("positions", "--db", str(db)).output.strip() == "no open positions"
    assert invoke("pnl", "--db", str(db)).output.strip().startswith("no ")


def test_an_order_shows_the_fees_its_fills_paid(outputs: dict[str, tuple[str, Known | None]]) -> None:
    narrow = next(t for n, (t, _) in outputs.items() if n.startswith("distinct: orders --db"))
    [row] = [line for line in narrow.splitlines() if "c0ffee01" in line]
    assert "$1.46" in row and "87/87" in row


def _floats(value: object) -> Iterator[float]:
    if isinstance(value, float):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _floats(item)
    elif isinstance(value, list):
        for item in value:
            yield from _floats(item)


def test_backtest_json_carries_no_float_residue(tmp_path: Path) -> None:
    import json

    rec = two_markets().write(tmp_path / "rec")
    for args in (["backtest", "--markets", "2", "--seed", "3", "--json"],
                 ["backtest", "--replay", str(rec), "--strategy", "fair_value", "--json"]):  # fmt: skip
        report = json.loads(invoke(*args).stdout)
        residue = [x for x in _floats(report) if len(repr(x).split(".")[-1]) > 6 and "e" not in repr(x)]
        assert residue == [], (args, residue)
    assert isinstance(report["net_pnl"], float)  # the replay's interface: a number in dollars
