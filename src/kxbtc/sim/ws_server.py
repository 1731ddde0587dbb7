"""The simulator's WebSocket endpoint, ``/trade-api/ws/v2`` (kalshi-api.md §7, errata Part 2).

One ``WsConnection`` per client. The handshake is signed like a REST call (``GET /trade-api/ws/v2``);
a bad one is refused with the REST 401 bodies before the upgrade.

Ordering: exchange events reach a connection through its ``EventQueue``. Commands and events are both
handled synchronously and only *enqueue* frames; one writer task sends them. Before a command runs,
every pending event is dispatched, and a new subscription's snapshot is taken in the same synchronous
step, so a snapshot is never followed by a delta it already contains.
With the ``reorder`` fault, frames of different subscriptions may overtake one another on the way
out (each sid keeps its order, but for a rare book delta that overtakes its predecessor: a seq gap), while
command replies stay in order with everything, so a snapshot still never precedes its ``subscribed``.

Sequencing: one ``seq`` stream per sid, starting at 1, on every frame that carries the sid (data, ``ok``,
``unsubscribed``). ``orderbook_delta``, ``trade``, ``market_lifecycle_v2`` and ``cfbenchmarks_value``
frames carry it; ``ticker``, ``fill``, ``user_order`` and ``market_position`` frames do not (the spec does
not document it on them). A dropped-message fault skips a seq number, which the client sees as a gap.
"""

from __future__ import annotations

import asyncio
import heapq
import json
import logging
from collections.abc import Callable, Iterable
from functools import partial
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from kxbtc.sim import wire
from kxbtc.sim.auth_check import AuthFailure
from kxbtc.sim.events import EventQueue, ExchangeEvent, TickerUpdate
from kxbtc.sim.rest_routing import json_response
from kxbtc.sim.ws_masking import MaskCheckingResponse
from kxbtc.sim.ws_protocol import (
    CHANNELS,
    ERRORS,
    INDEX_IDS,
    SEQUENCED,
    TICKER_FILTERED,
    CommandError,
    Subscription,
    command_params,
    index_id_set,
    market_filter,
    render,
)
from kxbtc.units import Count

if TYPE_CHECKING:
    from kxbtc.sim.server import SimServer

log = logging.getLogger(__name__)

MAX_COMMAND_ID = 2**64 - 1


class WsEndpoint:
    """The aiohttp handler for ``/trade-api/ws/v2``."""

    def __init__(self, server: SimServer) -> None:
        self.server = server
        self.connections: set[WsConnection] = set()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        who = self.server.authenticate(request, "private")
        if isinstance(who, AuthFailure):
            return json_response(who.body, who.status)
        assert who is not None
        ws = MaskCheckingResponse(autoping=True, max_msg_size=1 << 20)
        await ws.prepare(request)
        connection = WsConnection(self.server, ws, who)
        self.connections.add(connection)
        try:
            await connection.run()
        finally:
            self.connections.discard(connection)
        return ws

    async def close_all(self) -> None:
        for connection in list(self.connections):
            await connection.ws.close()


class WsConnection:
    def __init__(self, server: SimServer, ws: web.WebSocketResponse, user_id: str) -> None:
        self.server = server
        self.exchange = server.exchange
        self.ws = ws
        self.user_id = user_id
        self.subs: dict[int, Subscription] = {}
        self._next_sid = 1
        # Heap of frames by the loop time each is due on the wire (its send time plus any injected
        # delay), then by send order; the writer sends the earliest due once it is due.
        self._outbox: list[tuple[float, int, str]] = []
        self._wake = asyncio.Event()
        self._queue: EventQueue = self.exchange.subscribe()
        self._faults = server.faults
        self._sent = 0  # frames queued so far: the send order
        self._last_due = 0.0  # the latest due of any frame: nothing in order may leave before it
        self._barrier = 0.0  # the latest command reply's due: nothing queued after it overtakes it
        self._sid_due: dict[int, float] = {}  # per sid, its latest frame's due (``reorder``)
        self._delivered = -1  # the highest send order written so far

    # -- lifecycle --------------------------------------------------------------------------------

    async def run(self) -> None:
        tasks = [
            asyncio.create_task(self._pump(), name="ws-pump"),
            asyncio.create_task(self._write(), name="ws-write"),
            asyncio.create_task(self._heartbeat(), name="ws-heartbeat"),
        ]
        disconnect_after = self._faults.disconnect_after_s
        if disconnect_after:
            tasks.append(asyncio.create_task(self._disconnect_after(disconnect_after), name="ws-fault"))
        try:
            await self._read()
        finally:
            self.exchange.unsubscribe(self._queue)
            for task in tasks:
                task.cancel()
            for outcome in await asyncio.gather(*tasks, return_exceptions=True):
                # A peer that went away makes send/ping fail; anything else is a bug worth a trace.
                if isinstance(outcome, Exception) and not isinstance(outcome, ConnectionError):
                    log.error("ws connection task failed: %s", type(outcome).__name__, exc_info=outcome)
            if not self.ws.closed:
                await self.ws.close()

    async def _read(self) -> None:
        async for message in self.ws:
            if message.type == WSMsgType.TEXT:
                self.dispatch_pending()
                self.handle_command(message.data)
            elif message.type == WSMsgType.BINARY:
                self._send_error(0, 1)
            elif message.type == WSMsgType.ERROR:
                break

    async def _pump(self) -> None:
        while True:
            try:
                event = await self._queue.get()
            except OverflowError:
                for sid in list(self.subs):
                    self._send_error(0, 25, sid)
                self.subs.clear()
                self.exchange.unsubscribe(self._queue)
                self._queue = self.exchange.subscribe()
                continue
            self.dispatch(event)
            self.dispatch_pending()

    async def _write(self) -> None:
        loop = asyncio.get_running_loop()
        outbox, wake = self._outbox, self._wake
        while True:
            if not outbox:
                wake.clear()
                await wake.wait()
                continue
            due, order, frame = outbox[0]
            if due > loop.time():
                # Sleep until it is due, or until an earlier frame is queued (``_put`` wakes us).
                wake.clear()
                timer = loop.call_at(due, wake.set)
                try:
                    await wake.wait()
                finally:
                    timer.cancel()
                continue
            heapq.heappop(outbox)
            if order < self._delivered:
                self._faults.ws_reordered += 1
            else:
                self._delivered = order
            await self.ws.send_str(frame)

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.server.config.heartbeat_s)
            await self.ws.ping(b"heartbeat")

    async def _disconnect_after(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        await self.ws.close()

    # -- output -----------------------------------------------------------------------------------

    def _emit(self, frame: dict[str, Any]) -> None:
        if len(self._outbox) >= self.server.config.ws_buffer_frames:
            self._overflow()
            return
        # A data frame travels in its subscription's lane; a command reply (it has an id) is in order
        # with everything.
        sid = frame.get("sid") if "id" not in frame else None
        self._put(json.dumps(frame, separators=(",", ":")), sid, frame.get("type") == "orderbook_delta")

    def _put(self, text: str, sid: int | None = None, book_delta: bool = False) -> None:
        """Queue ``text`` due now plus its delay. Without ``reorder``, never before the frame ahead (TCP
        keeps order); with it, only never before its own sid's previous frame or a command reply."""
        faults = self._faults
        due = asyncio.get_running_loop().time() + faults.delay_seconds()
        if sid is None or not faults.reorders:
            due = max(due, self._last_due)
            self._barrier = due
        else:
            due = max(due + faults.hold_back_seconds(), self._barrier)
            lane = self._sid_due.get(sid, 0.0)
            if lane > due and book_delta and faults.overtakes_own_sid():
                faults.ws_sid_overtakes += 1  # leaves ahead of its sid's frames in flight: a seq gap
            else:
                due = max(due, lane)
            self._sid_due[sid] = max(lane, due)
        self._last_due = max(self._last_due, due)
        item = (due, self._sent, text)
        self._sent += 1
        heapq.heappush(self._outbox, item)
        if self._outbox[0] is item:
            self._wake.set()  # the writer may be waiting for a later frame

    def _overflow(self) -> None:
        """The client reads too slowly: every subscription ends with the terminal error 25."""
        self._outbox.clear()
        subs = list(self.subs)
        self.subs.clear()
        for sid in subs:
            error = {"id": 0, "type": "error", "sid": sid, "msg": {"code": 25, "msg": ERRORS[25]}}
            self._put(json.dumps(error, separators=(",", ":")))

    def _send_error(self, command_id: int, code: int, sid: int | None = None) -> None:
        frame: dict[str, Any] = {
            "id": command_id,
            "type": "error",
            "msg": {"code": code, "msg": ERRORS[code]},
        }
        if sid is not None and sid in self.subs:
            frame["sid"] = sid
            frame["seq"] = self.subs[sid].next_seq()
        self._emit(frame)

    def _data(self, sub: Subscription, kind: str, msg: dict[str, Any]) -> None:
        frame: dict[str, Any] = {"type": kind, "sid": sub.sid}
        if sub.channel in SEQUENCED:
            frame["seq"] = sub.next_seq()
            if self._faults.drop_ws_message():
                return
        frame["msg"] = msg
        self._emit(frame)

    # -- commands ---------------------------------------------------------------------------------

    def handle_command(self, text: str) -> None:
        try:
            command = json.loads(text)
        except (ValueError, RecursionError):  # ValueError: also an integer of more than 4,300 digits
            self._send_error(0, 1)
            return
        if not isinstance(command, dict):
            self._send_error(0, 1)
            return
        raw_id = command.get("id", 0)
        command_id = raw_id if isinstance(raw_id, int) and not isinstance(raw_id, bool) else 0
        if not 0 <= command_id <= MAX_COMMAND_ID:  # Kalshi's id is an unsigned 64-bit integer
            self._send_error(0, 1)
            return
        params = command.get("params")
        name = command.get("cmd")
        try:
            if name == "subscribe":
                self._subscribe(command_id, command_params(params))
            elif name == "unsubscribe":
                self._unsubscribe(command_id, command_params(params))
            elif name == "update_subscription":
                self._update(command_id, command_params(params))
            elif name == "list_subscriptions":
                listing = [{"channel": s.channel, "sid": s.sid} for s in self.subs.values()]
                self._emit({"id": command_id, "type": "ok", "msg": listing})
            else:
                raise CommandError(5)
        except CommandError as error:
            self._send_error(command_id, error.code, error.sid)

    def _subscribe(self, command_id: int, params: dict[str, Any]) -> None:
        channels = params.get("channels")
        if not channels or not isinstance(channels, list):
            raise CommandError(3)
        if any(channel not in CHANNELS for channel in channels):
            raise CommandError(8)
        tickers, ids = market_filter(params)
        use_yes_price = params.get("use_yes_price", False)
        if not isinstance(use_yes_price, bool):
            raise CommandError(11)
        for channel in channels:
            if channel == "orderbook_delta":
                if ids:
                    raise CommandError(11)
                if not tickers:
                    raise CommandError(14)
        # Kalshi acknowledges every channel first, then sends the initial snapshots (recordings L1-L5).
        initial: list[Callable[[], None]] = []
        for channel in channels:
            existing = next((s for s in self.subs.values() if s.channel == channel), None)
            if existing is not None:
                # Re-subscribing adds markets to the existing subscription (idempotent since 2025-10). One
                # subscription per channel also bounds the fan-out of each event to a connection.
                filtered = existing.tickers is not None or existing.market_ids is not None
                if channel in TICKER_FILTERED and (tickers or ids):
                    if filtered:
                        known = existing.tickers or set()
                        added = sorted(set(tickers) - known)
                        existing.tickers = known | set(tickers)
                        if ids and channel == "ticker":
                            existing.market_ids = (existing.market_ids or set()) | set(ids)
                        if channel == "orderbook_delta":
                            initial.append(partial(self._snapshots, existing, added))
                elif channel in TICKER_FILTERED:
                    existing.tickers = existing.market_ids = None  # widened to every market
                if channel == "cfbenchmarks_value":
                    existing.index_ids |= index_id_set(params.get("index_ids", []))
                ack = {"channel": channel, "sid": existing.sid}
                self._emit({"type": "subscribed", "id": command_id, "msg": ack})
                continue
            sub = Subscription(
                sid=self._next_sid,
                channel=channel,
                tickers=set(tickers) if tickers and channel in TICKER_FILTERED else None,
                market_ids=set(ids) if ids and channel == "ticker" else None,
                use_yes_price=use_yes_price,
                skip_ticker_ack=bool(params.get("skip_ticker_ack", False)),
            )
            if channel == "cfbenchmarks_value":
                sub.index_ids = index_id_set(params.get("index_ids", []))
            self._next_sid += 1
            self.subs[sub.sid] = sub
            self._emit({"type": "subscribed", "id": command_id, "msg": {"channel": channel, "sid": sub.sid}})
            if channel == "orderbook_delta":
                initial.append(partial(self._snapshots, sub, sorted(set(tickers))))
            elif channel == "ticker" and params.get("send_initial_snapshot"):
                initial.append(partial(self._ticker_snapshots, sub))
        for send in initial:
            send()

    def _unsubscribe(self, command_id: int, params: dict[str, Any]) -> None:
        sids = params.get("sids")
        if not sids or not isinstance(sids, list):
            raise CommandError(4)
        for sid in sids:
            sub = self.subs.get(sid) if isinstance(sid, int) else None
            if sub is None:
                raise CommandError(7)
            del self.subs[sid]
            self._emit({"id": command_id, "sid": sid, "seq": sub.next_seq(), "type": "unsubscribed"})

    def _update(self, command_id: int, params: dict[str, Any]) -> None:
        sid = params.get("sid")
        sids = params.get("sids")
        if sid is None and isinstance(sids, list) and len(sids) == 1:
            sid = sids[0]
        elif sid is None or sids is not None:
            raise CommandError(12)
        sub = self.subs.get(sid) if isinstance(sid, int) else None
        if sub is None:
            raise CommandError(7)
        action = params.get("action")
        if not action:
            raise CommandError(15)
        if sub.channel == "cfbenchmarks_value":
            self._update_indices(command_id, sub, action, params)
            return
        tickers, ids = market_filter(params)
        if action not in ("add_markets", "delete_markets", "get_snapshot"):
            raise CommandError(13)
        if sub.channel not in TICKER_FILTERED:
            raise CommandError(13, sid)
        if not tickers and not (ids and sub.channel == "ticker"):
            raise CommandError(14, sid)
        if action == "get_snapshot":
            if sub.channel != "orderbook_delta":
                raise CommandError(13, sid)
            self._snapshots(sub, tickers)
            return
        if sub.tickers is None:
            sub.tickers = set()
        if action == "add_markets":
            added = [t for t in tickers if t not in sub.tickers]
            sub.tickers.update(tickers)
            if sub.market_ids is not None or ids:
                sub.market_ids = (sub.market_ids or set()) | set(ids)
            if sub.channel == "orderbook_delta":
                self._snapshots(sub, added)
        else:
            sub.tickers.difference_update(tickers)
            if sub.market_ids is not None:
                sub.market_ids.difference_update(ids)
        frame: dict[str, Any] = {"id": command_id, "sid": sub.sid, "seq": sub.next_seq(), "type": "ok"}
        if not sub.skip_ticker_ack:
            frame["msg"] = {"market_tickers": sorted(sub.tickers)}
        self._emit(frame)

    def _update_indices(
        self, command_id: int, sub: Subscription, action: str, params: dict[str, Any]
    ) -> None:
        if action == "indexlist":
            self._emit(
                {
                    "type": "cfbenchmarks_value_indexlist",
                    "id": command_id,
                    "sid": sub.sid,
                    "seq": sub.next_seq(),
                    "msg": {"index_ids": list(INDEX_IDS)},
                }
            )
            return
        if action not in ("subscribe_indices", "unsubscribe_indices"):
            raise CommandError(13, sub.sid)
        ids = params.get("index_ids")
        if not ids or not isinstance(ids, list):
            raise CommandError(24, sub.sid)
        if action == "subscribe_indices":
            sub.index_ids |= index_id_set(ids)
        else:
            sub.index_ids -= index_id_set(ids)
        self._emit({"id": command_id, "sid": sub.sid, "seq": sub.next_seq(), "type": "ok"})

    # -- snapshots --------------------------------------------------------------------------------

    def _snapshots(self, sub: Subscription, tickers: Iterable[str]) -> None:
        for ticker in tickers:
            if ticker in self.exchange.markets:
                self._data(
                    sub,
                    "orderbook_snapshot",
                    wire.orderbook_snapshot_msg(self.exchange, ticker, sub.use_yes_price),
                )

    def _ticker_snapshots(self, sub: Subscription) -> None:
        for market in list(self.exchange.markets.values()):
            if sub.wants(market.ticker, market.market_id) and market.is_trading:
                bid, bid_size, ask, ask_size = self.exchange.top_of_book(market.ticker)
                update = TickerUpdate(market, bid, ask, bid_size, ask_size, Count(0), self.exchange.now_ns())
                self._data(sub, "ticker", wire.ticker_msg(update))

    # -- events -----------------------------------------------------------------------------------

    def dispatch_pending(self) -> None:
        for event in self._queue.drain():
            self.dispatch(event)

    def dispatch(self, event: ExchangeEvent) -> None:
        for sub in list(self.subs.values()):
            try:
                self._route(sub, event)
            except Exception as exc:  # a rendering bug must not kill the connection; log it with its type
                log.exception(
                    "ws %s: cannot render %s (%s)", sub.channel, type(event).__name__, type(exc).__name__
                )

    def _route(self, sub: Subscription, event: ExchangeEvent) -> None:
        rendered = render(sub, event, self.user_id)
        if rendered is not None:
            self._data(sub, *rendered)
