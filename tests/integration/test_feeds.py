"""Spot feeds against real websocket servers on 127.0.0.1 that replay documented message shapes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.sync.server import ServerConnection as SyncServerConnection
from websockets.sync.server import serve as sync_serve

from kxbtc.cli import cli
from kxbtc.clock import NS_PER_S, ManualClock
from kxbtc.oracle.feeds import BitstampFeed, CoinbaseFeed, GeminiFeed, KrakenFeed, SpotFeed
from kxbtc.oracle.feeds.base import Backoff, FeedState, cancel_quietly
from kxbtc.oracle.feeds.book import TopOfBook
from kxbtc.oracle.service import Oracle

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "feeds"
Handler = Callable[[ServerConnection], Awaitable[None]]


def lines(name: str) -> list[str]:
    return [line for line in (FIXTURES / name).read_text().splitlines() if line.strip()]


@asynccontextmanager
async def local_server(handler: Handler) -> AsyncIterator[str]:
    async with serve(handler, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"ws://127.0.0.1:{port}"


async def wait_until(predicate: Callable[[], bool], timeout_s: float = 5.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not predicate():  # noqa: ASYNC110 - polls state owned by the feed task; no event exists for it
            await asyncio.sleep(0.005)


@dataclass
class Replayer:
    """Per connection: read the subscribe frames, send ``script[n]`` (n = connection number), then either
    hang up (``hang_up[n]``) or keep the socket open, sending ``later`` frames when ``more`` is set."""

    script: list[list[str]]
    subscribe_frames: int
    hang_up: list[bool]
    later: list[str] = field(default_factory=list)
    more: asyncio.Event = field(default_factory=asyncio.Event)
    connections: int = 0
    received: list[str] = field(default_factory=list)

    async def __call__(self, ws: ServerConnection) -> None:
        n = self.connections
        self.connections += 1
        for _ in range(self.subscribe_frames):
            self.received.append(str(await ws.recv()))
        for frame in self.script[n]:
            await ws.send(frame)
        if self.hang_up[n]:
            return
        more = asyncio.ensure_future(self.more.wait())
        closed = asyncio.ensure_future(ws.wait_closed())
        await asyncio.wait((more, closed), return_when=asyncio.FIRST_COMPLETED)
        more.cancel()
        if not closed.done():
            for frame in self.later:
                await ws.send(frame)
        await closed


async def test_reconnect_after_drop_with_health_transitions() -> None:
    clock = ManualClock()
    coinbase = lines("coinbase_level2.jsonl")
    heartbeat = json.dumps({"channel": "heartbeats", "sequence_num": 5, "events": [{"heartbeat_counter": 2}]})
    server = Replayer(
        script=[coinbase[:2], coinbase], subscribe_frames=2, hang_up=[True, False], later=[heartbeat]
    )
    states: list[FeedState] = []
    tops: list[tuple[str, TopOfBook]] = []
    async with local_server(server) as url:
        feed = CoinbaseFeed(
            clock,
            url=url,
            stale_after_s=5.0,
            backoff=Backoff(initial_s=1.0, jitter=0.0),
            on_state=states.append,
            on_top=lambda venue, top: tops.append((venue, top)),
        )
        task = asyncio.create_task(feed.run())
        try:
            # First session: snapshot, then the server hangs up.
            await wait_until(lambda: FeedState.DOWN in states)
            assert states == [FeedState.CONNECTING, FeedState.LIVE, FeedState.DOWN]
            assert tops == [("coinbase", TopOfBook(91234.56, 0.5, 91235.01, 0.3))]
            health = feed.health()
            assert (health.state, health.messages, health.errors, health.reconnects) == (
                FeedState.DOWN,
                2,
                1,
                0,
            )
            assert "closed" in health.last_error
            assert feed.snapshot() is None  # a dead connection's book is not served

            # It waits out the backoff on the injected clock before dialing again.
            await asyncio.sleep(0.2)
            clock.advance(0.9)
            await asyncio.sleep(0.2)
            assert server.connections == 1
            clock.advance(0.1)
            await wait_until(lambda: feed.health().state is FeedState.LIVE)
            assert states == [
                FeedState.CONNECTING,
                FeedState.LIVE,
                FeedState.DOWN,
                FeedState.CONNECTING,
                FeedState.LIVE,
            ]
            await wait_until(lambda: feed.health().messages == 7)
            book = feed.snapshot()
            assert book is not None and book.top == TopOfBook(91234.80, 0.1, 91235.01, 0.25)
            assert feed.health().reconnects == 1
            assert [json.loads(f)["channel"] for f in server.received] == ["level2", "heartbeats"] * 2

            # Silence beyond stale_after_s: STALE; the next message (a heartbeat) makes it LIVE again.
            clock.advance(6.0)
            stale = feed.health()
            assert stale.state is FeedState.STALE and stale.last_message_age_s == pytest.approx(6.0)
            server.more.set()
            await wait_until(lambda: feed.health().messages == 8)
            assert feed.health().state is FeedState.LIVE
        finally:
            feed.stop()
            await asyncio.wait_for(task, 5.0)
    assert feed.health().state is FeedState.DOWN
    assert feed.health().errors == 1  # a requested stop is not an error


async def test_unreachable_server_counts_errors_and_stop_cuts_the_backoff_short() -> None:
    clock = ManualClock()
    async with local_server(Replayer([[]], 0, [True])) as url:
        pass  # the server is gone: its port now refuses connections
    feed = KrakenFeed(clock, url=url, backoff=Backoff(initial_s=60.0, jitter=0.0))
    task = asyncio.create_task(feed.run())
    await wait_until(lambda: feed.health().errors == 1)
    assert feed.health().state is FeedState.DOWN and feed.health().messages == 0
    feed.stop()
    await asyncio.wait_for(task, 5.0)  # no 60 s wait: stop wakes the backoff


VENUES: list[tuple[type[SpotFeed], str, TopOfBook]] = [
    (CoinbaseFeed, "coinbase_level2.jsonl", TopOfBook(91234.80, 0.1, 91235.01, 0.25)),
    (KrakenFeed, "kraken_book.jsonl", TopOfBook(91234.2, 0.05, 91236.1, 0.2)),
    (BitstampFeed, "bitstamp_order_book.jsonl", TopOfBook(91234.0, 0.15, 91237.0, 0.2)),
    (GeminiFeed, "gemini_l2.jsonl", TopOfBook(91232.11, 0.40, 91236.90, 0.05)),
]


async def test_every_venue_streams_its_book_and_feeds_the_brti_estimate() -> None:
    clock = ManualClock()
    feeds: list[SpotFeed] = []
    async with (
        local_server(Replayer([lines(VENUES[0][1])], 2, [False])) as url0,
        local_server(Replayer([lines(VENUES[1][1])], 1, [False])) as url1,
        local_server(Replayer([lines(VENUES[2][1])], 1, [False])) as url2,
        local_server(Replayer([lines(VENUES[3][1])], 1, [False])) as url3,
    ):
        for (cls, _, _), url in zip(VENUES, (url0, url1, url2, url3), strict=True):
            feeds.append(cls(clock, url=url))
        tasks = [asyncio.create_task(f.run()) for f in feeds]
        try:
            counts = [len(lines(name)) for _, name, _ in VENUES]
            await wait_until(lambda: [f.health().messages for f in feeds] == counts)
            for feed, (_, _, top) in zip(feeds, VENUES, strict=True):
                assert feed.health().state is FeedState.LIVE and feed.health().errors == 0
                book = feed.snapshot()
                assert book is not None and book.top == top, feed.venue
            oracle = Oracle(clock, feeds)
            close_s = clock.time_ns() // NS_PER_S + 30
            tracker = oracle.track("m", close_s)
            estimate = oracle.step()
            assert estimate is not None
            assert set(estimate.included) == {"coinbase", "kraken", "bitstamp", "gemini"}
            mids = [t.mid for _, _, t in VENUES]
            assert min(mids) <= estimate.value <= max(mids)
            assert oracle.current_index() == estimate.value
            # The servers go quiet. Estimates continue while the books are within the 10 s staleness
            # limit, the sampler carries the last one 5 s further, then the window fills by carry.
            steps = [oracle.step() for _ in range(40) if clock.advance(1.0) is None]
            assert all(e is not None for e in steps[:10]) and all(e is None for e in steps[10:])
            assert all(f.health().state is FeedState.STALE for f in feeds)
            assert tracker.complete and tracker.official == 0
            assert tracker.observed == 16  # seconds now .. now + 15
            assert tracker.settlement_cents == round(estimate.raw_value * 100)
        finally:
            for t in tasks:
                await cancel_quietly(t)


# -- kxbtc oracle watch --------------------------------------------------------------------------


@contextmanager
def threaded_replay_server(frames: list[str], subscribe_frames: int) -> Iterator[str]:
    """A websocket server in its own thread (the CLI runs its own event loop)."""

    def handler(ws: SyncServerConnection) -> None:
        for _ in range(subscribe_frames):
            ws.recv()
        for frame in frames:
            ws.send(frame)
        with contextlib.suppress(ConnectionClosed):
            while True:
                ws.recv()

    with sync_serve(handler, "127.0.0.1", 0) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"ws://127.0.0.1:{server.socket.getsockname()[1]}"
        finally:
            server.shutdown()
            thread.join(5)


def test_watch_command_prints_estimates_as_json() -> None:
    with threaded_replay_server(lines("kraken_book.jsonl"), 1) as url:
        result = CliRunner().invoke(
            cli,
            [
                "oracle",
                "watch",
                "--venue",
                "kraken",
                "--url",
                f"kraken={url}",
                "--seconds",
                "0.9",
                "--interval",
                "0.3",
                "--json",
            ],
        )
    assert result.exit_code == 0, result.output
    ticks = [json.loads(line) for line in result.output.splitlines()]
    assert len(ticks) >= 2
    last = ticks[-1]
    # Kraken's book after the update, 1 BTC steps: v=1 mid (91233.0 + 91240.0)/2 = 91236.5, v=2 mid
    # (91229.9 + 91240.0)/2 = 91234.95, then the asks run out (2.95 BTC). Weights e^(-v/0.6):
    # 91236.5 - 1.55 * e^(-2/0.6) / (e^(-1/0.6) + e^(-2/0.6)) = 91236.254 -> 91236.25.
    assert last["estimate"] == 91236.25 and last["method"] == "curve" and last["utilized_depth"] == 2.0
    assert last["included"] == ["kraken"] and last["feeds"]["kraken"]["state"] == "live"


def test_watch_command_usage_and_failure_exit_codes() -> None:
    bad = CliRunner().invoke(cli, ["oracle", "watch", "--url", "nowhere=ws://x"])
    assert bad.exit_code == 2
    with threaded_replay_server([], 0) as url:
        pass  # closed: connections are refused
    none = CliRunner().invoke(
        cli,
        [
            "oracle",
            "watch",
            "--venue",
            "gemini",
            "--url",
            f"gemini={url}",
            "--seconds",
            "0.4",
            "--interval",
            "0.2",
        ],
    )
    assert none.exit_code == 1
    assert "no estimate" in none.output


async def test_oracle_run_estimates_on_its_clock_and_stops_its_feeds() -> None:
    clock = ManualClock()
    async with local_server(Replayer([lines("bitstamp_order_book.jsonl")], 1, [False])) as url:
        feed = BitstampFeed(clock, url=url)
        oracle = Oracle(clock, [feed], estimate_interval_s=0.5)
        task = asyncio.create_task(oracle.run())
        await wait_until(lambda: feed.health().messages == 3)
        assert oracle.status().estimate is None  # the loop is waiting on the manual clock
        await clock.run_for(0.5, step=0.5)
        await wait_until(lambda: oracle.status().estimate is not None)
        status = oracle.status()
        assert status.estimate is not None and status.estimate.included == ("bitstamp",)
        assert [h.state for h in status.feeds] == [FeedState.LIVE]
        await cancel_quietly(task)
    assert feed.health().state is FeedState.DOWN
