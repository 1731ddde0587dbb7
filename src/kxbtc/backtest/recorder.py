"""Record live market data to a file for ``kxbtc backtest --replay`` (the format: ``recording.py``).

The recorder is the engine's market-data half without the trading: the same REST discovery
(``open_contracts``), the same WebSocket client, the same rollover rule (subscribe markets as they
open, drop them once closed). Every frame the client receives is stamped with the recorder's clock and
written as it arrived, before the client parses it, so the replay can run the production book code on
exactly what the engine would have seen, sequence numbers and all.

Disk never touches the WebSocket read loop: the reader only puts ``(time, frame)`` on a queue, and a
writer thread encodes the lines and writes them through a buffered (optionally gzip) file.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from kxbtc.backtest.recording import Header, open_text, spec_to_json
from kxbtc.clock import NS_PER_S, Clock, SystemClock
from kxbtc.errors import KxbtcError
from kxbtc.kalshi.auth import Signer
from kxbtc.kalshi.discovery import ContractSpec, open_contracts
from kxbtc.kalshi.rest import KalshiRestClient
from kxbtc.kalshi.ws import KalshiWsClient, Subscription, WsHandler
from kxbtc.kalshi.ws_messages import EventFeeUpdate, EventLifecycle, MarketLifecycle

log = logging.getLogger(__name__)

#: The settlement index Kalshi's BTC markets settle on.
INDEX_ID = "BRTI"


class RecorderError(KxbtcError):
    """The recording cannot go on (the file cannot be written)."""


# -- the file writer ------------------------------------------------------------------------------


#: What the writer thread takes: a line ready to encode, or a frame to wrap with its receive time.
_Item = dict[str, Any] | tuple[int, str | bytes]


class RecordingWriter:
    """Writes lines on its own thread; ``put``/``put_frame`` only enqueue and never block on disk."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lines = 0
        self.error: BaseException | None = None
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()  # None: stop
        self._thread = threading.Thread(target=self._run, name="kxbtc-recorder-writer", daemon=True)
        self._encoder = msgspec.json.Encoder()

    def start(self, header: Header) -> None:
        self._queue.put(header.to_json())
        self._thread.start()

    def put(self, line: dict[str, Any]) -> None:
        self._queue.put(line)

    def put_frame(self, t_ns: int, frame: str | bytes) -> None:
        self._queue.put((t_ns, frame))

    @property
    def backlog(self) -> int:
        return self._queue.qsize()

    def close(self) -> None:
        """Write what is queued, close the file (a gzip file gets its trailer) and stop the thread."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        if self.error is not None:
            raise RecorderError(f"cannot write {self.path}: {self.error}") from self.error

    def _run(self) -> None:
        try:
            with open_text(self.path, "w") as out:
                while (item := self._queue.get()) is not None:
                    out.write(self._encode(item))
        except (OSError, ValueError) as exc:  # disk full, path gone: reported by close() and the loop
            self.error = exc
            log.error("recorder: writing %s failed: %s", self.path, exc)

    def _encode(self, item: _Item) -> str:
        if isinstance(item, dict):
            line = item
        else:
            t_ns, frame = item
            line = {"t": t_ns, "k": "ws", "frame": _frame_json(frame)}
        self.lines += 1
        return self._encoder.encode(line).decode() + "\n"


def _frame_json(frame: str | bytes) -> Any:
    """The frame to embed: its own bytes when it is one line of valid JSON, else re-encoded, else text."""
    data = frame.encode() if isinstance(frame, str) else frame
    try:
        raw = msgspec.json.decode(data, type=msgspec.Raw)
    except msgspec.DecodeError:
        return {"type": "unparseable", "text": data.decode("utf-8", "replace")}
    text = bytes(raw)
    if b"\n" in text or b"\r" in text:
        return msgspec.json.decode(data)
    return raw


# -- the WebSocket side ---------------------------------------------------------------------------


class _RecorderHandler(WsHandler):
    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder

    def on_connection(self, connected: bool) -> None:
        if not self.recorder.closing:  # our own close at the end is no outage
            line = {"t": self.recorder.clock.time_ns(), "k": "connection", "up": connected}
            self.recorder.writer.put(line)

    def on_lifecycle(self, msg: MarketLifecycle | EventLifecycle | EventFeeUpdate) -> None:
        if isinstance(msg, MarketLifecycle):
            body = msg.msg
            if body.event_type == "determined" and body.result:
                self.recorder.results_seen.add(body.market_ticker)
            elif body.event_type == "created":
                self.recorder.refresh_soon = True
        else:
            self.recorder.refresh_soon = True

    def on_error(self, error: KxbtcError) -> None:
        self.recorder.stats.ws_errors += 1


# -- the recorder ---------------------------------------------------------------------------------


@dataclass(slots=True)
class RecorderStats:
    started_ns: int
    now_ns: int = 0
    frames: int = 0
    markets: set[str] = field(default_factory=set)
    results_from_rest: int = 0
    ws_errors: int = 0
    errors: list[str] = field(default_factory=list)


class Recorder:
    """Discovers the series' markets, streams them, and writes everything to ``writer`` until stopped."""

    def __init__(
        self,
        rest: KalshiRestClient,
        ws_url: str,
        signer: Signer,
        clock: Clock,
        writer: RecordingWriter,
        *,
        series: Sequence[str] = ("KXBTC15M",),
        ws_clock: Clock | None = None,
        use_yes_price: bool = True,
        refresh_every_s: float = 10.0,
        snapshot_every_s: float = 0.0,
        on_progress: Callable[[RecorderStats, RecordingWriter], None] | None = None,
    ) -> None:
        self.rest = rest
        self.clock = clock
        self.writer = writer
        self.series = tuple(series)
        self.refresh_every_s = refresh_every_s
        self.snapshot_every_s = snapshot_every_s
        self.on_progress = on_progress
        self.header = Header(clock.time_ns(), self.series, rest.base_url, ws_url, use_yes_price)
        self.ws = KalshiWsClient(
            ws_url,
            signer,
            ws_clock or SystemClock(),  # pings and backoff run on the machine's clock, as in the engine
            handler=_RecorderHandler(self),
            use_yes_price=use_yes_price,
            frame_tap=self._tap,
        )
        self.stats = RecorderStats(self.header.start_ns)
        self.markets: dict[str, ContractSpec] = {}
        self.subscribed: list[str] = []
        self.results_seen: set[str] = set()
        self.awaiting_result: set[str] = set()
        self.refresh_soon = False
        self.closing = False
        self._book_sub: Subscription | None = None
        self._trade_sub: Subscription | None = None

    def _tap(self, frame: str | bytes) -> None:
        self.stats.frames += 1
        self.writer.put_frame(self.clock.time_ns(), frame)

    async def run(self, *, until_ns: int | None = None, stop: asyncio.Event | None = None) -> RecorderStats:
        """Record until ``until_ns`` on the recorder's clock, or until ``stop`` is set."""
        self.writer.start(self.header)
        try:
            self.ws.start()
            await self.ws.subscribe("market_lifecycle_v2")
            await self.ws.subscribe("cfbenchmarks_value", index_ids=[INDEX_ID])
            await self._guard(self.refresh_markets(), "market refresh")
            last_refresh = last_snapshot = self.clock.monotonic()
            while not (stop is not None and stop.is_set()):
                now_ns = self.clock.time_ns()
                if until_ns is not None and now_ns >= until_ns:
                    break
                await self.clock.sleep(1.0 if until_ns is None else min(1.0, (until_ns - now_ns) / NS_PER_S))
                if self.writer.error is not None:
                    break  # close() below raises it
                now = self.clock.monotonic()
                if self.refresh_soon or now - last_refresh >= self.refresh_every_s:
                    self.refresh_soon, last_refresh = False, now
                    await self._guard(self.refresh_markets(), "market refresh")
                    await self._guard(self.fetch_results(), "result lookup")
                if self.snapshot_every_s and now - last_snapshot >= self.snapshot_every_s:
                    last_snapshot = now
                    await self._guard(self.resnapshot(), "snapshot request")
                self._progress()
        finally:
            self.closing = True
            await self.ws.close()
            self.writer.put({"t": self.clock.time_ns(), "k": "end", "frames": self.stats.frames})
            self.writer.close()
        self._progress()
        return self.stats

    def _progress(self) -> None:
        self.stats.now_ns = self.clock.time_ns()
        if self.on_progress is not None:
            self.on_progress(self.stats, self.writer)

    async def _guard(self, work: Awaitable[object], what: str) -> None:
        """Slow work that may fail (a REST call, a WS command): logged and counted, and recording goes on."""
        try:
            await work
        except KxbtcError as exc:
            log.error("recorder: %s failed: %s", what, exc)
            self.stats.errors.append(f"{what}: {exc}")

    async def refresh_markets(self) -> None:
        """Subscribe markets as they open and drop them once closed (the engine's rollover rule)."""
        now = self.clock.time_ns()
        found: dict[str, ContractSpec] = {}
        for series in self.series:
            for spec in await open_contracts(self.rest, series):
                if spec.close_time_ns > now and spec.has_strike:
                    found[spec.ticker] = spec
        for ticker, spec in sorted(found.items()):
            if self.markets.get(ticker) != spec:
                self.markets[ticker] = spec
                self.writer.put(spec_to_json(spec, self.clock.time_ns()))
        self.stats.markets.update(found)
        new = sorted(t for t in found if t not in self.subscribed)
        gone = sorted(t for t in self.subscribed if t not in found and self.markets[t].close_time_ns <= now)
        if new:
            await self._add(new)
        if gone:
            await self._drop(gone)

    async def _add(self, tickers: list[str]) -> None:
        if self._book_sub is None or self._trade_sub is None:
            [self._book_sub] = await self.ws.subscribe("orderbook_delta", market_tickers=tickers)
            [self._trade_sub] = await self.ws.subscribe("trade", market_tickers=tickers)
        else:
            await self.ws.add_markets(self._book_sub, tickers)
            await self.ws.add_markets(self._trade_sub, tickers)
        self.subscribed += tickers

    async def _drop(self, tickers: list[str]) -> None:
        self.subscribed = [t for t in self.subscribed if t not in tickers]
        self.awaiting_result.update(t for t in tickers if t not in self.results_seen)
        if self._book_sub is not None and self._trade_sub is not None:
            await self.ws.delete_markets(self._book_sub, tickers)
            await self.ws.delete_markets(self._trade_sub, tickers)

    async def fetch_results(self) -> None:
        """For closed markets whose result did not come on the lifecycle channel: ask REST."""
        for ticker in sorted(self.awaiting_result):
            if ticker in self.results_seen:
                self.awaiting_result.discard(ticker)
                continue
            market = await self.rest.get_market(ticker)
            if market.result:
                t = self.clock.time_ns()
                line = {"t": t, "k": "result", "ticker": ticker, "result": market.result, "source": "rest"}
                self.writer.put(line)
                self.awaiting_result.discard(ticker)
                self.stats.results_from_rest += 1

    async def resnapshot(self) -> None:
        """Ask for fresh snapshots of every subscribed book: checkpoints the replay verifies its books on."""
        if self._book_sub is not None and self.subscribed:
            await self.ws.get_snapshot(self._book_sub, list(self.subscribed))
