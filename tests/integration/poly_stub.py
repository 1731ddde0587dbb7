"""A small Polymarket-like server on 127.0.0.1: Gamma ``/events?slug=``, CLOB ``/book?token_id=`` and the
market WebSocket ``/ws/market``, on one aiohttp app.

It speaks the documented wire shapes (docs/polymarket.md §4-§6, errata Part 4): Gamma events carry
``clobTokenIds``/``outcomes``/``outcomePrices`` as JSON-encoded strings; REST books list levels in an
order a client must not rely on (bids ascending, asks descending); the socket answers the text ``PING``
with ``PONG``, answers the ``type: market`` subscription with an initial dump (a JSON array of ``book``
events), handles ``operation: subscribe|unsubscribe``, and publishes ``price_change`` items with the
venue's best bid/ask after the change. Its books are the truth the client's books are compared with.

Faults are injected by the test: a dropped connection, a peer that stops answering PING, a change applied
without being published (a lost message), raw frames.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import loopback
from aiohttp import WSMsgType, web

from kxbtc.units import PRICE_SCALE


def wire_decimal(value: int, scale: int) -> str:
    """Polymarket-style decimal: 4800 at 1e4 -> "0.48", 3000 at 1e2 -> "30", 334340 -> "3343.4"."""
    whole, frac = divmod(value, scale)
    digits = len(str(scale)) - 1
    text = f"{whole}.{frac:0{digits}d}".rstrip("0").rstrip(".")
    return text


def px(price: int) -> str:
    return wire_decimal(price, PRICE_SCALE)


def sz(count: int) -> str:
    return wire_decimal(count, 100)


@dataclass
class StubBook:
    """One token's book: Price ints -> Count ints."""

    bids: dict[int, int] = field(default_factory=dict)
    asks: dict[int, int] = field(default_factory=dict)
    tick: str = "0.01"
    market: str = "0xcondition"
    hash_n: int = 0

    def best_bid(self) -> str:
        return px(max(self.bids)) if self.bids else "0"

    def best_ask(self) -> str:
        return px(min(self.asks)) if self.asks else "1"

    def next_hash(self) -> str:
        self.hash_n += 1
        return f"{self.hash_n:040x}"


@dataclass
class WsSession:
    ws: web.WebSocketResponse
    request: web.Request
    assets: list[str] = field(default_factory=list)
    frames: list[str] = field(default_factory=list)


class PolyStub:
    def __init__(self, now_ms: Callable[[], int]) -> None:
        self.now_ms = now_ms
        self.events: dict[str, dict[str, Any]] = {}
        self.books: dict[str, StubBook] = {}
        self.sessions: list[WsSession] = []
        self.http_requests: list[tuple[str, dict[str, str]]] = []
        self.answer_pings = True
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -----------------------------------------------------------------------------------------
    # Lifecycle

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/events", self._events)
        app.router.add_get("/book", self._book)
        app.router.add_get("/ws/market", self._ws)
        self._runner, self.port = await loopback.serve(app)

    async def stop(self) -> None:
        for session in self.sessions:
            if session.request.transport is not None:
                session.request.transport.abort()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/market"

    @property
    def current(self) -> WsSession:
        return self.sessions[-1]

    # -----------------------------------------------------------------------------------------
    # HTTP

    async def _events(self, request: web.Request) -> web.Response:
        self.http_requests.append((request.path, dict(request.query)))
        slug = request.query.get("slug", "")
        found = [self.events[slug]] if slug in self.events else []
        return web.json_response(found)

    async def _book(self, request: web.Request) -> web.Response:
        self.http_requests.append((request.path, dict(request.query)))
        token = request.query.get("token_id", "")
        book = self.books.get(token)
        if book is None:
            return web.json_response({"error": "No orderbook exists for the requested token id"}, status=404)
        body = self.book_body(token)
        # REST level order is not to be relied on: bids ascending, asks descending here.
        body["bids"] = sorted(body["bids"], key=lambda lv: float(lv["price"]))
        body["asks"] = sorted(body["asks"], key=lambda lv: -float(lv["price"]))
        body.pop("event_type")
        body.update({"min_order_size": "5", "neg_risk": False, "tick_size": book.tick})
        return web.json_response(body)

    def book_body(self, token: str) -> dict[str, Any]:
        book = self.books.setdefault(token, StubBook())
        return {
            "event_type": "book",
            "asset_id": token,
            "market": book.market,
            "bids": [{"price": px(p), "size": sz(s)} for p, s in sorted(book.bids.items())],
            "asks": [{"price": px(p), "size": sz(s)} for p, s in sorted(book.asks.items(), reverse=True)],
            "timestamp": str(self.now_ms()),
            "hash": book.next_hash(),
            "tick_size": book.tick,
        }

    # -----------------------------------------------------------------------------------------
    # WebSocket

    async def _ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        session = WsSession(ws, request)
        self.sessions.append(session)
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            session.frames.append(msg.data)
            if msg.data == "PING":
                if self.answer_pings:
                    await ws.send_str("PONG")
                continue
            try:
                cmd = json.loads(msg.data)
            except ValueError:
                continue
            await self._command(session, cmd)
        return ws

    async def _command(self, session: WsSession, cmd: dict[str, Any]) -> None:
        assets = [a for a in cmd.get("assets_ids", []) if isinstance(a, str)]
        operation = cmd.get("operation")
        if cmd.get("type") == "market" or operation == "subscribe":
            new = [a for a in assets if a not in session.assets]
            session.assets += new
            dump = [self.book_body(a) for a in (assets if cmd.get("type") == "market" else new)]
            if dump:
                await session.ws.send_str(json.dumps(dump))
        elif operation == "unsubscribe":
            session.assets = [a for a in session.assets if a not in assets]

    async def drop(self) -> None:
        """The venue drops the connection without a close frame."""
        transport = self.current.request.transport
        assert transport is not None
        transport.abort()

    async def send_raw(self, text: str) -> None:
        await self.current.ws.send_str(text)

    async def publish(self, obj: Any) -> None:
        await self.current.ws.send_str(json.dumps(obj))

    def set_level(self, token: str, side: str, price: int, size: int) -> dict[str, Any]:
        """Change a level on the server (size 0 removes) and return its ``price_changes`` item."""
        book = self.books.setdefault(token, StubBook())
        levels = book.bids if side == "BUY" else book.asks
        if size:
            levels[price] = size
        else:
            levels.pop(price, None)
        return {
            "asset_id": token,
            "price": px(price),
            "size": sz(size),
            "side": side,
            "hash": book.next_hash(),
            "best_bid": book.best_bid(),
            "best_ask": book.best_ask(),
        }

    async def price_change(self, token: str, side: str, price: int, size: int, *, lose: bool = False) -> None:
        """Set a level and publish it to subscribers; ``lose`` changes the server without publishing."""
        item = self.set_level(token, side, price, size)
        if lose:
            return
        frame = {
            "event_type": "price_change",
            "market": self.books[token].market,
            "price_changes": [item],
            "timestamp": str(self.now_ms()),
        }
        for session in self.sessions:
            if token in session.assets and not session.ws.closed:
                await session.ws.send_str(json.dumps(frame))
