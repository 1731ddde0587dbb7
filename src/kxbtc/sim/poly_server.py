"""The simulated Polymarket venue on HTTP: Gamma, CLOB ``/book`` and the market WebSocket, on one app.

Order entry (sign-in, market metadata, ``POST /order``, the geoblock check) is ``poly_orders``.

Routes: ``GET /events?slug=`` and ``GET /markets?slug=`` (Gamma; a list, empty for an unknown slug;
without ``slug``, every window not yet resolved), ``GET /book?token_id=`` (CLOB; 404 with Polymarket's
``{"error": ...}`` body for a token without a book) and ``/ws/market``.

WebSocket: the text ``PING`` is answered ``PONG``; ``{"assets_ids": [...], "type": "market"}`` subscribes
and is answered with the initial dump (a JSON array of ``book`` events, one per known token);
``{"operation": "subscribe"|"unsubscribe", "assets_ids": [...]}`` changes the subscription (a subscribe
is answered with the new tokens' books). ``price_change`` and ``market_resolved`` messages follow for
the subscribed tokens.

Ordering: the venue's events reach each session synchronously (a listener on ``PolySim``) and, like the
answers to commands, are only queued; one writer task per session sends them. A snapshot is therefore
never followed by a change it already contains.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiohttp import WSMsgType, web

from kxbtc.sim import poly_wire
from kxbtc.sim.poly_windows import RESOLVED, PolyWindow
from kxbtc.sim.polymarket import BookChanged, PolyEvent, PolySim, WindowResolved

if TYPE_CHECKING:
    from kxbtc.sim.poly_orders import PolyOrderEntry

__all__ = ["WS_MARKET_PATH", "PolyServer"]

log = logging.getLogger(__name__)

WS_MARKET_PATH = "/ws/market"
#: Frames queued for one client before it is treated as too slow and disconnected.
MAX_QUEUED_FRAMES = 50_000


@dataclass(eq=False)
class _Session:
    ws: web.WebSocketResponse
    assets: set[str] = field(default_factory=set)
    outbox: asyncio.Queue[str | None] = field(default_factory=asyncio.Queue)
    overflowed: bool = False

    def send(self, frame: str) -> None:
        if self.overflowed:
            return
        if self.outbox.qsize() >= MAX_QUEUED_FRAMES:
            self.overflowed = True
            log.warning(
                "simulated Polymarket: a client fell %d frames behind; dropping it", MAX_QUEUED_FRAMES
            )
            self.outbox.put_nowait(None)
            return
        self.outbox.put_nowait(frame)


class PolyServer:
    def __init__(self, poly: PolySim) -> None:
        self.poly = poly
        self.sessions: set[_Session] = set()
        self.app = web.Application()
        self.app.router.add_get("/events", self._events)
        self.app.router.add_get("/markets", self._markets)
        self.app.router.add_get("/book", self._book)
        self.app.router.add_get(WS_MARKET_PATH, self._ws)
        #: Order entry as the official SDK posts it (needs eth_account, installed with ``polymarket-client``).
        self.orders: PolyOrderEntry | None = None
        try:
            from kxbtc.sim.poly_orders import PolyOrderEntry
        except ImportError as exc:
            log.info("simulated Polymarket: no order entry (%s); install the polymarket extra", exc)
        else:
            self.orders = PolyOrderEntry(poly)
            self.orders.add_routes(self.app)
        poly.add_listener(self._on_event)

    async def close_all(self) -> None:
        for session in list(self.sessions):
            await session.ws.close()

    # -- HTTP -----------------------------------------------------------------------------------------

    def _windows_for(self, request: web.Request) -> list[PolyWindow]:
        self.poly.step()
        slug = request.query.get("slug")
        if slug is not None:
            window = self.poly.window_by_slug(slug)
            return [window] if window is not None else []
        return [w for _, w in sorted(self.poly.windows.items()) if w.status != RESOLVED]

    async def _events(self, request: web.Request) -> web.Response:
        cfg = self.poly.config
        body = [poly_wire.gamma_event(w, cfg, self.poly.book(w.up_token)) for w in self._windows_for(request)]
        return web.json_response(body)

    async def _markets(self, request: web.Request) -> web.Response:
        cfg = self.poly.config
        body = [
            poly_wire.gamma_market(w, cfg, self.poly.book(w.up_token), with_event=True)
            for w in self._windows_for(request)
        ]
        return web.json_response(body)

    async def _book(self, request: web.Request) -> web.Response:
        self.poly.step()
        token = request.query.get("token_id", "")
        if not token:
            return web.json_response({"error": "Invalid payload"}, status=400)
        window = self.poly.window_of_token(token)
        book = self.poly.book(token)
        if window is None or book is None or window.status == RESOLVED:
            return web.json_response({"error": "No orderbook exists for the requested token id"}, status=404)
        return web.json_response(poly_wire.book_body(book, self.poly.config, self.poly.now_ms))

    # -- WebSocket ------------------------------------------------------------------------------------

    async def _ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        session = _Session(ws)
        self.sessions.add(session)
        writer = asyncio.create_task(self._write(session), name="poly-ws-write")
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    self._command(session, message.data)
                elif message.type == WSMsgType.ERROR:
                    break
        finally:
            self.sessions.discard(session)
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await writer
        return ws

    async def _write(self, session: _Session) -> None:
        while True:
            frame = await session.outbox.get()
            if frame is None:
                await session.ws.close()
                return
            await session.ws.send_str(frame)

    def _command(self, session: _Session, text: str) -> None:
        if text.strip() == "PING":
            session.send("PONG")
            return
        try:
            command = json.loads(text)
        except ValueError:
            log.warning("simulated Polymarket: ignored a frame that is neither PING nor JSON: %r", text[:80])
            return
        if not isinstance(command, dict):
            log.warning("simulated Polymarket: ignored a non-object command: %r", text[:80])
            return
        raw_assets = command.get("assets_ids")
        assets = [a for a in raw_assets if isinstance(a, str)] if isinstance(raw_assets, list) else []
        operation = command.get("operation")
        if operation == "unsubscribe":
            session.assets.difference_update(assets)
            return
        if operation == "subscribe" or str(command.get("type", "")).lower() == "market":
            initial = operation != "subscribe"
            new = [a for a in dict.fromkeys(assets) if initial or a not in session.assets]
            session.assets.update(assets)
            self.poly.step()  # so the dump is the venue's state now (its events are queued before it)
            self._dump(session, new)
            return
        log.warning("simulated Polymarket: ignored an unknown command: %r", text[:80])

    def _dump(self, session: _Session, assets: list[str]) -> None:
        cfg, now = self.poly.config, self.poly.now_ms
        books = []
        for asset in assets:
            window = self.poly.window_of_token(asset)
            book = self.poly.book(asset)
            if window is not None and book is not None and window.status != RESOLVED:
                books.append(poly_wire.book_event(book, cfg, now))
        if books:
            session.send(poly_wire.dump_frame(books))

    # -- the venue's events ---------------------------------------------------------------------------

    def _on_event(self, event: PolyEvent) -> None:
        if not self.sessions:
            return
        window = event.window
        if isinstance(event, WindowResolved):
            frame = json.dumps(poly_wire.market_resolved_event(window, event.ts_ms))
            for session in self.sessions:
                if session.assets.intersection(window.tokens):
                    session.send(frame)
            return
        assert isinstance(event, BookChanged)
        whole: str | None = None
        for session in self.sessions:
            wanted = [u for u in event.updates if u.asset_id in session.assets]
            if not wanted:
                continue
            if len(wanted) == len(event.updates):
                if whole is None:
                    whole = json.dumps(poly_wire.price_change_event(window.condition_id, event.ts_ms, wanted))
                session.send(whole)
            else:
                session.send(
                    json.dumps(poly_wire.price_change_event(window.condition_id, event.ts_ms, wanted))
                )
