"""The dashboard's markets view over the database of a real (short, in-process) demo run: the engine's
heartbeat and each live market's book, fair value, settlement window and index as the demo published
them; the server-sent event stream; and both views rendered by a real headless Chromium at 1,400 and 800
pixels wide, whose screenshots are kept in tests/artifacts/ to look at.

The demo starts at 12:13:00 and ends at 12:14:30 simulated time, so the 15-minute market closing at
12:15 is in its settlement window with 30 of its 60 samples in. Served on 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import headless_chromium
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from kxbtc.clock import NS_PER_S, SystemClock
from kxbtc.config import load_config
from kxbtc.dashboard.api import MAX_STREAMS
from kxbtc.dashboard.markets import market_events
from kxbtc.dashboard.server import create_app
from kxbtc.session.demo import run_session_demo
from kxbtc.session.runner import DEFAULT_START_NS
from kxbtc.store.db import SqliteStore
from kxbtc.store.live_view import read_market_states

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
START_NS = DEFAULT_START_NS + 13 * 60 * NS_PER_S  # 2026-05-13T12:13:00Z
END_ISO = "2026-05-13T12:14:30"
FIFTEEN = "KXBTC15M-26MAY130815-15"  # closes 12:15:00
TOKEN = "dashboard-test-token-42"

Client = TestClient[web.Request, web.Application]


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    summary, _ = run_session_demo(
        load_config(None),
        hours=1.5 / 60,
        seed=1,
        series=("KXBTC15M", "KXBTCD"),
        db_path=path,
        start_ns=START_NS,
    )
    assert summary.ledger_matches and summary.fills > 0
    return path


@pytest.fixture
async def client(demo_db: Path) -> AsyncIterator[Client]:
    client: Client = TestClient(TestServer(create_app(demo_db, SystemClock(), token=TOKEN)))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


def check_market_payload(payload: dict[str, Any]) -> None:
    """What a trader reads off the markets view, as the demo left it."""
    engine = payload["engine"]
    assert (engine["state"], engine["mode"], engine["clean_stop"]) == ("stopped", "demo", True)
    assert engine["market_time"].startswith(END_ISO) and payload["data_time"].startswith(END_ISO)
    markets = {m["ticker"]: m for m in payload["markets"]}
    assert len(markets) > 10 and FIFTEEN in markets  # the 15-minute market and the hourly ladder
    m = markets[FIFTEEN]
    assert m["time"].startswith(END_ISO) and m["close"] == "2026-05-13T12:15:00.000Z"
    assert 29 <= m["seconds_to_close"] <= 30 and m["to_close"].endswith(" s")
    assert m["window"]["samples"] == 30 and m["window"]["of"] == 60 and m["window"]["opens_in"] is None
    assert m["window"]["average"].startswith("$")
    assert m["book"]["state"] == "ok" and m["bids"] and m["asks"]
    best_bid, best_ask = float(m["best_bid"]), float(m["best_ask"])
    assert 0 < best_bid < best_ask < 1
    assert [float(level["price"]) for level in m["bids"]] == sorted(
        (float(level["price"]) for level in m["bids"]), reverse=True
    )
    assert m["fair"] is not None and 0 <= float(m["fair"]) <= 1
    assert m["index"]["source"] == "simulator" and m["index"]["stale"] is False
    assert m["index"]["value"].startswith("$") and m["index"]["age_s"] < 2
    hourly = next(x for t, x in markets.items() if t.startswith("KXBTCD"))
    assert hourly["window"]["samples"] == 0 and hourly["window"]["opens_in"] == "44 min 29 s"


def test_the_demo_publishes_each_market_about_once_a_second(demo_db: Path) -> None:
    conn = sqlite3.connect(demo_db)
    try:
        states = read_market_states(conn)
        (beats,) = conn.execute("SELECT count(*) FROM heartbeats").fetchone()
    finally:
        conn.close()
    assert beats == 1  # one engine: its row is updated, not appended
    assert {s.ts_ns for s in states} == {states[0].ts_ns}  # one publication, the last one, for all
    assert states[0].ts_ns // NS_PER_S == START_NS // NS_PER_S + 90


async def test_markets_endpoint_shows_books_fair_value_window_and_index(client: Client) -> None:
    response = await client.get("/api/markets")
    assert response.status == 200
    check_market_payload(await response.json())


async def test_the_event_stream_sends_the_market_state_at_once(client: Client) -> None:
    response = await client.get("/api/markets/stream")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/event-stream")
    lines = []
    while (line := (await asyncio.wait_for(response.content.readline(), 30)).decode()) != "\n":
        lines.append(line.rstrip("\n"))
    response.close()
    assert lines[0] == "event: markets" and lines[1].startswith("data: ")
    check_market_payload(json.loads(lines[1].removeprefix("data: ")))


async def test_open_streams_are_bounded(client: Client) -> None:
    streams = [await client.get("/api/markets/stream") for _ in range(MAX_STREAMS)]
    assert all(r.status == 200 for r in streams)
    refused = await client.get("/api/markets/stream")
    assert refused.status == 503 and "too many" in (await refused.json())["error"]
    for response in streams:
        response.close()


async def test_the_event_stream_pushes_what_the_engine_writes_next(tmp_path: Path, demo_db: Path) -> None:
    db = tmp_path / "copy.db"
    shutil.copy(demo_db, db)
    client: Client = TestClient(TestServer(create_app(db, SystemClock(), token=TOKEN, stream_poll_s=0.02)))
    await client.start_server()
    try:
        response = await client.get("/api/markets/stream")
        first = await next_event(response)
        assert len(first["markets"]) > 10
        conn = sqlite3.connect(db)
        (engine_id,) = conn.execute("SELECT engine_id FROM heartbeats").fetchone()
        kept = [s for s in read_market_states(conn) if s.ticker == FIFTEEN]
        conn.close()
        store = SqliteStore(db)  # the engine's next publication: only the 15-minute market is left
        store.publish_market_states(engine_id, kept)
        store.close()
        for _ in range(500):  # the server polls every 20 ms; each poll sends a snapshot
            payload = await next_event(response)
            if len(payload["markets"]) == 1:
                break
        assert [m["ticker"] for m in payload["markets"]] == [FIFTEEN]
        response.close()
    finally:
        await client.close()


async def next_event(response: Any) -> dict[str, Any]:
    data = ""
    while (line := (await asyncio.wait_for(response.content.readline(), 30)).decode()) != "\n":
        if line.startswith("data: "):
            data = line.removeprefix("data: ")
    return dict(json.loads(data))


async def test_the_stream_reports_an_unreadable_database_and_keeps_polling() -> None:
    reads: list[Exception | dict[str, Any]] = [
        sqlite3.DatabaseError("file is not a database"),
        sqlite3.OperationalError("database is locked"),
        {"markets": []},
    ]
    slept: list[float] = []

    async def read() -> dict[str, Any]:
        item = reads.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    frames = []
    async for frame in market_events(read, sleep, 1.0):
        frames.append(frame.decode())
        if len(frames) == 3:
            break
    assert frames[0].startswith("event: db_error\n") and "not a valid kxbtc database" in frames[0]
    assert frames[1].startswith("event: db_error\n") and "locked" in frames[1]
    assert frames[2] == 'event: markets\ndata: {"markets":[]}\n\n'
    assert slept == [1.0, 1.0]


# -- a real browser ---------------------------------------------------------------------------------


async def _browser(browser: str, profile: Path, width: int, *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        *headless_chromium.command(
            browser,
            profile,
            width,
            1000,
            "--disable-quic",
            # Scripts run for 800 ms of virtual time: the first fetches land, the stream (opened after a
            # second) does not hold the screenshot up.
            "--virtual-time-budget=800",
            *args,
        ),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 180)
    return proc.returncode or 0, out.decode(errors="replace"), err.decode(errors="replace")


async def test_both_views_render_in_headless_chromium_at_1400_and_800_pixels(
    client: Client, tmp_path: Path
) -> None:
    browser = headless_chromium.find()
    if browser is None:
        pytest.skip(headless_chromium.MISSING)
    base = f"http://127.0.0.1:{client.server.port}/"
    assert client.server.host == "127.0.0.1"

    code, dom, err = await _browser(browser, tmp_path / "dom", 1400, "--dump-dom", base + "#markets")
    assert code == 0, err[-3000:]
    # The page drew the demo's markets from its first fetch: tickers, the window tracker, the engine.
    assert FIFTEEN in dom and "30 / 60 samples" in dom and "engine stopped" in dom
    assert "book ok" in dom and "data as of 2026-05-13 12:14:30Z" in dom
    assert TOKEN not in dom

    ARTIFACTS.mkdir(exist_ok=True)
    for view in ("markets", "account"):
        for width in (1400, 800):
            shot = ARTIFACTS / f"dashboard_{view}_{width}.png"
            shot.unlink(missing_ok=True)
            code, _, err = await _browser(
                browser, tmp_path / f"{view}{width}", width, f"--screenshot={shot}", f"{base}#{view}"
            )
            assert code == 0 and shot.is_file(), err[-3000:]
            headless_chromium.assert_drawn(shot, (width, 1000), (0xF6, 0xF7, 0xF9), (-5, 5))
            headless_chromium.shrink(shot, 96)
