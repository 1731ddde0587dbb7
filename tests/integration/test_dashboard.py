"""``kxbtc dashboard`` against a real store: the JSON endpoints answer with the same numbers as the
operator commands, the page is self-contained and never carries the control token, the kill switch needs
that token (a header, or the session cookie the login sets) and then does exactly what ``kxbtc halt`` /
``kxbtc resume`` do, and a missing or broken database is a clear 503.

Served on 127.0.0.1 (aiohttp's TestServer on port 0, and the real command in a subprocess).
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from click.testing import CliRunner, Result

from kxbtc.cli import EXIT_OK, EXIT_USAGE, cli
from kxbtc.clock import ManualClock
from kxbtc.dashboard.guards import SESSION_COOKIE, TOKEN_HEADER
from kxbtc.dashboard.queries import RISK_BASELINE_KEY
from kxbtc.dashboard.server import create_app
from kxbtc.engine.core import RISK_BASELINE_KEY as ENGINE_RISK_BASELINE_KEY
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
TOKEN = "test-token-0123456789"

Client = TestClient[web.Request, web.Application]


def ns(iso: str) -> int:
    return int(datetime.fromisoformat(iso).replace(tzinfo=UTC).timestamp()) * 1_000_000_000


NOW = ns("2026-11-25T15:30:00")


def money(micros: int) -> dict[str, Any]:
    sign = "-" if micros < 0 else ""
    return {"micros": micros, "dollars": f"{sign}{abs(micros) // 10**6}.{abs(micros) % 10**6:06d}"}


def fill(fid: str, ticker: str, side: str, price: int, count: int, fee: int, at: str, by: str) -> FillRecord:
    return FillRecord(fid, f"o-{fid}", ticker, side, Price(price), Count(count), Money(fee), True, ns(at), by)


def order(coid: str, ticker: str, status: str, at: str, strategy: str, price: int = 4000) -> OrderRecord:
    return OrderRecord(
        client_order_id=coid, ticker=ticker, side="bid", price=Price(price), count=Count(1000),
        time_in_force="good_till_canceled", status=status, created_ns=ns(at), updated_ns=ns(at),
        strategy=strategy, order_id=f"x-{coid}",
    )  # fmt: skip


def snapshot(at: str, equity: int, realized: int = 0) -> PnlSnapshot:
    return PnlSnapshot(ns(at), at[:10], Money(equity), Money(realized), Money(0), Money(0), Money(0))


def build_store(path: Path) -> None:
    """Two markets traded by two strategies (the numbers of tests/unit/test_ops_cli.py), plus the
    equity curve, decisions, LLM calls and the breakers' baseline the engine saves."""
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
    store.set_position(
        PositionRecord(A, Count(1100), Money(0), Money(0), Money(0), ns("2026-11-24T14:14:00"))
    )
    store.set_position(PositionRecord(B, Count(-150), Money(1_035_000), Money(0), Money(60_000), NOW))
    store.set_position(PositionRecord(C, Count(300), Money(900_000), Money(0), Money(0), NOW))
    store.record_balance(ns("2026-11-25T15:20:00"), 123_450_000, 1_035_000, "rest")
    store.record_pnl(snapshot("2026-11-25T15:00:00", 118_000_000, 1_000_000))
    store.record_pnl(snapshot("2026-11-25T15:10:00", 117_250_000, 1_000_000))
    store.record_pnl(
        PnlSnapshot(ns("2026-11-25T15:25:00"), "2026-11-25", Money(124_485_000), Money(6_950_000),
                    Money(-45_000), Money(-90_000), Money(390_000))
    )  # fmt: skip
    for i, kind in enumerate(["oldest", "stale_data", "reconnect", "newest"]):
        store.record_risk_event(RiskEventRecord(ns("2026-11-25T12:00:00") + i, kind, "warning", f"event {i}"))
    store.record_decision(
        ns("2026-11-25T11:30:00"), "fair_value", B, "{}",
        json.dumps({"side": "bid", "price": 2100, "count": 1000, "tif": "gtc", "outcome": "approved 1000"}),
        "model 0.27 vs ask 0.21",
    )  # fmt: skip
    store.record_decision(
        ns("2026-11-25T11:45:00"), "book_glitch", B, "{}",
        json.dumps({"side": "ask", "price": 3900, "count": 500, "outcome": "rejected by max_position: full"}),
        "crossed book",
    )  # fmt: skip
    store.record_llm_call(ns("2026-11-24T23:59:59"), "openai", "gpt-x", "lead", "q", "a", True, 900, 40_000)
    store.record_llm_call(
        ns("2026-11-25T09:00:00"), "anthropic", "claude-y", "bear", "q", "a", True, 1200, 25_000
    )
    store.record_llm_call(ns("2026-11-25T09:00:01"), "openai", "gpt-x", "news", "q", "", False, 30_000, 0)
    store.set_value(
        RISK_BASELINE_KEY,
        json.dumps({"day": "2026-11-25", "day_start_equity": 117_000_000, "peak": 125_000_000}),
    )
    store.flush()
    store.close()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "kxbtc.db"
    build_store(path)
    return path


async def serve(db: Path) -> Client:
    client: Client = TestClient(TestServer(create_app(db, ManualClock(NOW), token=TOKEN)))
    await client.start_server()
    return client


@pytest.fixture
async def client(db: Path) -> AsyncIterator[Client]:
    client = await serve(db)
    try:
        yield client
    finally:
        await client.close()


async def get(client: Client, path: str, status: int = 200) -> Any:
    response = await client.get(path)
    assert response.status == status, await response.text()
    assert response.content_type == "application/json"
    return await response.json()


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), obj={"clock": ManualClock(NOW)})


def cli_json(*args: str) -> Any:
    result = run(*args, "--json")
    assert result.exit_code == EXIT_OK, result.output
    return json.loads(result.stdout)


# -- the same numbers as the operator commands ------------------------------------------------------


async def test_status_is_the_cli_status_plus_order_counts_and_breaker_baseline(
    client: Client, db: Path
) -> None:
    status = await get(client, "/api/status")
    expected = cli_json("status", "--db", str(db))
    assert {key: status[key] for key in expected} == expected
    assert (status["halted"], status["halt_reason"]) == (False, "")
    assert status["balance"]["balance"] == money(123_450_000)
    assert status["equity"]["equity"] == money(124_485_000)
    assert status["today"]["net"] == money(-10_000)
    assert status["order_counts"] == {"canceled": 1, "executed": 2, "resting": 2}
    assert status["risk_baseline"] == {
        "day": "2026-11-25",
        "day_start_equity": money(117_000_000),
        "peak_equity": money(125_000_000),
    }
    assert RISK_BASELINE_KEY == ENGINE_RISK_BASELINE_KEY  # the key the engine saves it under


@pytest.mark.parametrize(
    ("path", "command"),
    [
        ("/api/positions", ["positions"]),
        ("/api/fills?limit=50", ["fills", "--limit", "50"]),
        ("/api/fills?limit=2", ["fills", "--limit", "2"]),
        ("/api/orders?status=resting&limit=10", ["orders", "--status", "resting", "--limit", "10"]),
        ("/api/orders", ["orders"]),
        ("/api/pnl?by=strategy", ["pnl", "--by", "strategy"]),
        ("/api/pnl?by=market", ["pnl", "--by", "market"]),
        ("/api/pnl?by=day", ["pnl", "--by", "day"]),
    ],
)
async def test_endpoint_answers_exactly_what_the_cli_prints(
    client: Client, db: Path, path: str, command: list[str]
) -> None:
    assert await get(client, path) == cli_json(*command, "--db", str(db))


async def test_pnl_by_strategy_numbers(client: Client) -> None:
    report = await get(client, "/api/pnl")  # strategy by default
    lines = {line["key"]: line for line in report["lines"]}
    assert lines["fair_value"]["net"] == money(4_170_000)
    assert report["total"]["realized"] == money(6_950_000)
    assert report["total"]["net"] == money(6_560_000)


# -- what only the dashboard shows ------------------------------------------------------------------


async def test_equity_curve_is_the_snapshots_in_time_order(client: Client) -> None:
    points = (await get(client, "/api/equity"))["points"]
    assert [p["time"] for p in points] == [
        "2026-11-25T15:00:00.000Z", "2026-11-25T15:10:00.000Z", "2026-11-25T15:25:00.000Z",
    ]  # fmt: skip
    assert [p["equity"] for p in points] == [money(118_000_000), money(117_250_000), money(124_485_000)]
    last = points[-1]
    assert (last["realized"], last["unrealized_mid"], last["unrealized_exit"], last["fees"]) == (
        money(6_950_000), money(-45_000), money(-90_000), money(390_000),
    )  # fmt: skip


async def test_a_long_equity_curve_is_thinned_but_keeps_its_extremes_and_its_end(tmp_path: Path) -> None:
    path = tmp_path / "long.db"
    store = SqliteStore(path)
    start = ns("2026-11-25T00:00:00")
    equities = [100_000_000 + (i % 97) * 1_000 for i in range(9_000)]
    equities[4_321] = 50_000_000  # a crash between two sampled points
    equities[7_777] = 150_000_000  # and a spike
    for i, equity in enumerate(equities):
        store.record_pnl(
            PnlSnapshot(
                start + i * 10**9, "2026-11-25", Money(equity), Money(0), Money(0), Money(0), Money(0)
            )
        )
    store.flush()
    store.close()
    client = await serve(path)
    try:
        points = (await get(client, "/api/equity"))["points"]
    finally:
        await client.close()
    assert 1_000 < len(points) <= 2_000
    times = [p["ts_ns"] for p in points]
    assert times == sorted(times) and len(set(times)) == len(times)
    assert times[0] == start and times[-1] == start + 8_999 * 10**9
    values = {p["equity"]["micros"] for p in points}
    assert {50_000_000, 150_000_000} <= values


async def test_risk_events_decisions_and_llm_calls_newest_first(client: Client) -> None:
    events = (await get(client, "/api/risk_events?limit=2"))["risk_events"]
    assert [(e["kind"], e["severity"], e["detail"]) for e in events] == [
        ("newest", "warning", "event 3"), ("reconnect", "warning", "event 2"),
    ]  # fmt: skip

    decisions = (await get(client, "/api/decisions"))["decisions"]
    assert [d["strategy"] for d in decisions] == ["book_glitch", "fair_value"]
    assert decisions[0] == {
        "ts_ns": ns("2026-11-25T11:45:00"),
        "time": "2026-11-25T11:45:00.000Z",
        "strategy": "book_glitch",
        "ticker": B,
        "side": "ask",
        "price": "0.3900",
        "count": "5.00",
        "outcome": "rejected by max_position: full",
        "reason": "crossed book",
    }

    llm = await get(client, "/api/llm?limit=2")
    # Today (UTC) is 2026-11-25: yesterday's 0.04 does not count.
    assert llm["today"] == {"day": "2026-11-25", "calls": 2, "failed": 1, "cost": money(25_000)}
    assert [(c["role"], c["model"], c["ok"], c["latency_ms"], c["cost"]) for c in llm["calls"]] == [
        ("news", "gpt-x", False, 30_000, money(0)),
        ("bear", "claude-y", True, 1_200, money(25_000)),
    ]


@pytest.mark.parametrize(
    "path", ["/api/orders?limit=0", "/api/fills?limit=x", "/api/pnl?by=week", "/api/decisions?limit=5000"]
)
async def test_bad_parameters_are_400_json(client: Client, path: str) -> None:
    body = await get(client, path, status=400)
    assert body["error"]


# -- the page ---------------------------------------------------------------------------------------


async def test_page_and_assets_are_served_and_reference_only_local_urls(client: Client) -> None:
    page = await client.get("/")
    assert page.status == 200 and page.content_type == "text/html"
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    html = await page.text()
    assert TOKEN not in html and "kxbtc-token" not in html  # the control token is never in the page
    assert '<meta name="kxbtc-refresh-ms" content="2000">' in html
    references = re.findall(r'(?:src|href)="([^"#]*)"', html)  # "#markets", "#account": the two views
    assert sorted(references) == ["/static/app.js", "/static/style.css"]

    script = await client.get("/static/app.js")
    assert script.status == 200 and script.content_type == "text/javascript"
    js = await script.text()
    # The only absolute URL is the SVG namespace, an identifier that is never fetched.
    assert set(re.findall(r"https?://[^\s\"'`)]+", js)) == {"http://www.w3.org/2000/svg"}
    for endpoint in re.findall(r'getJson\(\s*[`"]([^`"?]+)', js):
        assert endpoint.startswith("/api/"), endpoint
        assert (await client.get(endpoint)).status == 200, endpoint
    assert TOKEN not in js and "X-Kxbtc-Token" not in js  # the page's script holds no credential

    style = await client.get("/static/style.css")
    assert style.status == 200 and style.content_type == "text/css"
    css = await style.text()
    assert "url(" not in css and "@import" not in css

    assert (await client.get("/static/other.js")).status == 404


async def test_requests_naming_another_host_are_refused(client: Client) -> None:
    response = await client.get("/api/status", headers={"Host": "attacker.example:8765"})
    assert response.status == 403
    assert "Host" in (await response.json())["error"]
    assert (await client.get("/api/status", headers={"Host": "localhost:8765"})).status == 200


# -- the kill switch --------------------------------------------------------------------------------


def kill_switch_rows(path: Path) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    conn = sqlite3.connect(path)
    try:
        kv = conn.execute("SELECT key, value FROM kv WHERE key = 'halted'").fetchall()
        events = conn.execute("SELECT ts_ns, kind, severity, detail FROM risk_events ORDER BY id").fetchall()
    finally:
        conn.close()
    return kv, events


async def test_halt_and_resume_need_the_token(client: Client, db: Path) -> None:
    before = kill_switch_rows(db)
    for headers, status in (({}, 401), ({TOKEN_HEADER: "wrong"}, 403)):
        for path in ("/api/halt", "/api/resume"):
            response = await client.post(path, json={"reason": "x"}, headers=headers)
            assert response.status == status, path
            assert TOKEN_HEADER in (await response.json())["error"]
    client.session.cookie_jar.update_cookies({SESSION_COOKIE: "made-up"})
    response = await client.post("/api/halt", json={"reason": "x"})
    assert response.status == 403
    assert kill_switch_rows(db) == before


async def test_the_token_typed_into_the_page_unlocks_the_controls_with_an_httponly_cookie(
    client: Client, db: Path
) -> None:
    assert (await get(client, "/api/session")) == {"authorized": False}
    response = await client.post("/api/login", json={"token": "wrong"})
    assert response.status == 403
    response = await client.post("/api/login", json={"token": TOKEN})
    assert response.status == 200, await response.text()
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=") and TOKEN not in cookie
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    assert (await get(client, "/api/session")) == {"authorized": True}

    response = await client.post("/api/halt", json={"reason": "from the page"})
    assert response.status == 200, await response.text()
    assert kill_switch_rows(db)[0] == [("halted", "from the page")]

    # Another site's page cannot use this browser's session (CSRF): its Origin gives it away.
    for headers in ({"Origin": "http://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        response = await client.post("/api/resume", headers=headers)
        assert response.status == 403 and "cross-site" in (await response.json())["error"]
    assert kill_switch_rows(db)[0] == [("halted", "from the page")]
    same_site = f"http://{client.server.host}:{client.server.port}"
    response = await client.post("/api/resume", headers={"Origin": same_site})
    assert response.status == 200 and (await response.json())["resumed"] is True

    assert (await client.post("/api/logout")).status == 200
    assert (await get(client, "/api/session")) == {"authorized": False}
    assert (await client.post("/api/halt", json={"reason": "x"})).status == 401


async def test_guessing_the_token_is_throttled(client: Client) -> None:
    for _ in range(10):
        assert (await client.post("/api/login", json={"token": "guess"})).status == 403
    response = await client.post("/api/login", json={"token": TOKEN})
    assert response.status == 429  # even the right one, until the window passes


async def test_halt_and_resume_with_the_token_write_what_the_cli_writes(client: Client, db: Path) -> None:
    twin = db.with_name("twin.db")
    shutil.copy(db, twin)
    reason = "BTC feed [coinbase] <looks> wrong"

    response = await client.post("/api/halt", json={"reason": f"  {reason} "}, headers={TOKEN_HEADER: TOKEN})
    assert response.status == 200, await response.text()
    assert await response.json() == {"db": str(db), "halted": True, "reason": reason, "previous": ""}
    assert run("halt", "--db", str(twin), "--reason", reason).exit_code == EXIT_OK
    kv, events = kill_switch_rows(db)
    assert kv == [("halted", reason)]
    assert events[-1] == (NOW, "manual_halt", "halt", reason)
    assert (kv, events) == kill_switch_rows(twin)
    status = await get(client, "/api/status")
    assert (status["halted"], status["halt_reason"]) == (True, reason)

    response = await client.post("/api/resume", headers={TOKEN_HEADER: TOKEN})
    assert await response.json() == {"db": str(db), "halted": False, "resumed": True, "was": reason}
    assert run("resume", "--db", str(twin)).exit_code == EXIT_OK
    kv, events = kill_switch_rows(db)
    assert kv == [("halted", "")]
    assert events[-1] == (NOW, "resume", "info", "trading resumed by the operator")
    assert (kv, events) == kill_switch_rows(twin)

    # Resuming when running changes nothing, as `kxbtc resume` does.
    response = await client.post("/api/resume", headers={TOKEN_HEADER: TOKEN})
    assert (await response.json())["resumed"] is False
    assert kill_switch_rows(db) == (kv, events)


async def test_a_blank_halt_reason_is_refused(client: Client, db: Path) -> None:
    before = kill_switch_rows(db)
    response = await client.post("/api/halt", json={"reason": "  "}, headers={TOKEN_HEADER: TOKEN})
    assert response.status == 400
    assert kill_switch_rows(db) == before


# -- a missing or broken database -------------------------------------------------------------------


async def test_a_missing_database_is_503_naming_the_file_and_never_created(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.db"
    client = await serve(path)
    try:
        for endpoint in ("/api/status", "/api/equity", "/api/llm"):
            body = await get(client, endpoint, status=503)
            assert str(path) in body["error"] and "no database file" in body["error"]
            assert body["waiting"] is True
        response = await client.post("/api/halt", json={"reason": "x"}, headers={TOKEN_HEADER: TOKEN})
        assert response.status == 503
        assert (await client.get("/")).status == 200  # the page shows the wait
    finally:
        await client.close()
    assert not path.exists()


async def test_a_corrupt_or_foreign_database_is_503_naming_the_file(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"definitely not sqlite" * 50)
    foreign = tmp_path / "other.db"
    conn = sqlite3.connect(foreign)
    conn.execute("CREATE TABLE customers (id INTEGER)")
    conn.commit()
    conn.close()
    for path, message in (
        (garbage, "the file is not a valid kxbtc database"),
        (foreign, "belongs to another application"),
    ):
        client = await serve(path)
        try:
            body = await get(client, "/api/status", status=503)
        finally:
            await client.close()
        assert body["error"].startswith(f"{path}: ") and message in body["error"]
        assert body["waiting"] is False


# -- the command ------------------------------------------------------------------------------------


def test_the_command_refuses_a_missing_or_corrupt_database_with_exit_2(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.db"
    result = run("dashboard", "--db", str(missing), "--port", "0")
    assert result.exit_code == EXIT_USAGE
    assert str(missing) in result.stderr and "no database file" in result.stderr
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"definitely not sqlite" * 50)
    result = run("dashboard", "--db", str(garbage), "--port", "0")
    assert result.exit_code == EXIT_USAGE
    assert f"{garbage}: the file is not a valid kxbtc database" in result.stderr


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::"])
def test_listening_beyond_loopback_without_a_token_is_refused_with_exit_2(db: Path, host: str) -> None:
    result = run("dashboard", "--db", str(db), "--host", host, "--port", "0")
    assert result.exit_code == EXIT_USAGE
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert "token" in result.stderr


def test_a_short_unreadable_or_doubled_token_is_refused_with_exit_2(db: Path, tmp_path: Path) -> None:
    short = run("dashboard", "--db", str(db), "--token", "short", "--port", "0")
    assert short.exit_code == EXIT_USAGE and "at least" in short.stderr
    missing = run("dashboard", "--db", str(db), "--token-file", str(tmp_path / "none"), "--port", "0")
    assert missing.exit_code == EXIT_USAGE and "token file" in missing.stderr
    secret = tmp_path / "token"
    secret.write_text("a-long-enough-token\n")
    both = run("dashboard", "--db", str(db), "--token", "x" * 20, "--token-file", str(secret), "--port", "0")
    assert both.exit_code == EXIT_USAGE and "once" in both.stderr


async def test_the_command_waits_for_the_database_serves_it_and_stops_on_sigterm(tmp_path: Path) -> None:
    path = tmp_path / "later.db"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "kxbtc", "dashboard", "--db", str(path), "--port", "0", "--wait",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), timeout=30)).decode()
        match = re.fullmatch(r"dashboard: (http://127\.0\.0\.1:\d+/)\n", line)
        assert match, line
        url = match.group(1)
        async with aiohttp.ClientSession() as session:
            async with session.get(url + "api/status") as response:
                assert response.status == 503
                assert (await response.json())["waiting"] is True
            build_store(path)
            async with session.get(url + "api/status") as response:
                assert response.status == 200
                assert (await response.json())["balance"]["balance"] == money(123_450_000)
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), timeout=30) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
