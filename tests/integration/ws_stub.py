"""A small Kalshi-like WebSocket server on 127.0.0.1 for client tests.

It speaks the real wire protocol (kalshi-api.md §7 with errata Part 2): it refuses unsigned or badly
signed upgrades with 401 (RSA-PSS verified with ``cryptography``), answers subscribe / unsubscribe /
update_subscription (add_markets, delete_markets, get_snapshot) / list_subscriptions, and serves
orderbook snapshots and signed deltas with one ``seq`` stream per sid. Its books are the truth the
client's books are compared with. Faults are injected by the test: a delta whose frame is never sent (a
seq gap), raw bad frames, a dropped connection, a peer that stops reading (no pongs), a refused
``get_snapshot``.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from kxbtc.units import PRICE_SCALE, format_count, format_price

WS_PATH = "/trade-api/ws/v2"
#: The client must sign with salt length = digest length (kalshi-api.md §2.3); verify exactly that.
_PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)


@dataclass
class Handshake:
    path: str
    key_id: str
    timestamp: str
    signature: str
    verified: bool


@dataclass
class ServerBook:
    """Canonical book: YES bids in YES prices, NO bids in NO-leg prices (Price ints -> Count ints)."""

    yes: dict[int, int] = field(default_factory=dict)
    no: dict[int, int] = field(default_factory=dict)

    def levels(self) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        return sorted(self.yes.items()), sorted(self.no.items())


@dataclass
class StubSub:
    sid: int
    channel: str
    tickers: list[str]
    use_yes_price: bool
    seq: int = 0

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq


@dataclass
class Session:
    conn: ServerConnection
    subs: dict[int, StubSub] = field(default_factory=dict)
    next_sid: int = 1


class StubKalshiWs:
    def __init__(
        self,
        public_key: rsa.RSAPublicKey,
        key_id: str,
        now_ms: Callable[[], int],
        books: dict[str, ServerBook] | None = None,
    ) -> None:
        self.public_key = public_key
        self.key_id = key_id
        self.now_ms = now_ms
        self.books: dict[str, ServerBook] = books or {}
        self.handshakes: list[Handshake] = []
        self.commands: list[dict[str, Any]] = []
        self.sessions: list[Session] = []
        self.refuse_get_snapshot = False
        #: Whether Kalshi acknowledges get_snapshot with an ``ok`` is undocumented: test both.
        self.ack_get_snapshot = True
        #: Channels answered with error 8 (unknown channel name).
        self.refuse_channels: set[str] = set()
        #: While set, get_snapshot is acknowledged but its snapshots wait until ``release_snapshots``.
        self.hold_snapshots = False
        #: While given and not set, subscribe commands wait for it before their acks (a slow link).
        self.subscribe_gate: asyncio.Event | None = None
        self._held: list[tuple[Session, StubSub, list[str]]] = []
        self._server: Server | None = None
        self.port = 0

    # -----------------------------------------------------------------------------------------
    # Lifecycle

    async def start(self, port: int = 0) -> str:
        self._server = await serve(
            self._handler,
            "127.0.0.1",
            port,
            process_request=self._check_auth,
            ping_interval=None,
            close_timeout=0.5,
        )
        self.port = self._server.sockets[0].getsockname()[1] if port == 0 else port
        return self.url

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}{WS_PATH}"

    async def stop(self) -> None:
        for session in self.sessions:
            session.conn.transport.abort()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    @property
    def current(self) -> Session:
        return self.sessions[-1]

    async def drop(self) -> None:
        """The exchange drops the connection without a close frame."""
        self.current.conn.transport.abort()

    def stop_reading(self) -> None:
        """The peer hangs: it reads nothing more, so it answers no ping."""
        self.current.conn.transport.pause_reading()

    # -----------------------------------------------------------------------------------------
    # Handshake

    def _check_auth(self, conn: ServerConnection, request: Request) -> Response | None:
        headers: Headers = request.headers
        key = headers.get("KALSHI-ACCESS-KEY", "")
        ts = headers.get("KALSHI-ACCESS-TIMESTAMP", "")
        sig = headers.get("KALSHI-ACCESS-SIGNATURE", "")
        path = request.path.split("?", 1)[0]
        verified = False
        if key == self.key_id and ts.isdigit() and sig:
            try:
                self.public_key.verify(
                    base64.b64decode(sig, validate=True), f"{ts}GET{path}".encode(), _PSS, hashes.SHA256()
                )
                verified = abs(int(ts) - self.now_ms()) <= 10_000
            except (InvalidSignature, ValueError):
                verified = False
        self.handshakes.append(Handshake(path, key, ts, sig, verified))
        if not verified or path != WS_PATH:
            body = {"error": {"code": "authentication_error", "message": "authentication_error"}}
            return conn.respond(401, json.dumps(body))
        return None

    # -----------------------------------------------------------------------------------------
    # Commands

    async def _handler(self, conn: ServerConnection) -> None:
        session = Session(conn)
        self.sessions.append(session)
        try:
            async for raw in conn:
                cmd = json.loads(raw)
                self.commands.append(cmd)
                await self._command(session, cmd)
        except ConnectionClosed:
            pass

    async def _send(self, session: Session, obj: dict[str, Any]) -> None:
        await session.conn.send(json.dumps(obj, separators=(",", ":")))

    async def _command(self, session: Session, cmd: dict[str, Any]) -> None:
        cmd_id = cmd.get("id", 0)
        params = cmd.get("params", {})
        kind = cmd.get("cmd")
        if kind == "subscribe":
            if self.subscribe_gate is not None:
                await self.subscribe_gate.wait()
            tickers = params.get("market_tickers") or []
            refused = [c for c in params["channels"] if c in self.refuse_channels]
            if refused:
                await self._error(session, cmd_id, 8, f"Unknown channel name {refused[0]}")
                return
            for channel in params["channels"]:
                sid = session.next_sid
                session.next_sid += 1
                sub = StubSub(sid, channel, list(tickers), bool(params.get("use_yes_price", False)))
                session.subs[sid] = sub
                await self._send(
                    session, {"type": "subscribed", "id": cmd_id, "msg": {"channel": channel, "sid": sid}}
                )
                if channel == "orderbook_delta":
                    for ticker in tickers:
                        await self._send_snapshot(session, sub, ticker)
        elif kind == "unsubscribe":
            for sid in params["sids"]:
                sub = session.subs.pop(sid)
                await self._send(session, {"id": cmd_id, "sid": sid, "seq": sub.seq, "type": "unsubscribed"})
        elif kind == "list_subscriptions":
            subs = [{"channel": s.channel, "sid": s.sid} for s in session.subs.values()]
            await self._send(session, {"id": cmd_id, "type": "ok", "msg": subs})
        elif kind == "update_subscription":
            await self._update(session, cmd_id, params)
        else:
            await self._send(
                session, {"id": cmd_id, "type": "error", "msg": {"code": 5, "msg": "Unknown command"}}
            )

    async def _update(self, session: Session, cmd_id: int, params: dict[str, Any]) -> None:
        sid = params["sids"][0] if "sids" in params else params["sid"]
        sub = session.subs.get(sid)
        action = params.get("action")
        tickers = list(params.get("market_tickers") or [])
        if sub is None:
            await self._error(session, cmd_id, 7, "Unknown subscription ID")
            return
        if action == "get_snapshot":
            if self.refuse_get_snapshot:
                await self._error(session, cmd_id, 13, "Unsupported action")
                return
            if self.ack_get_snapshot:
                await self._ok(session, cmd_id, sub)
            if self.hold_snapshots:
                self._held.append((session, sub, tickers))
            else:
                for ticker in tickers:
                    await self._send_snapshot(session, sub, ticker)
        elif action == "add_markets":
            new = [t for t in tickers if t not in sub.tickers]
            sub.tickers += new
            await self._ok(session, cmd_id, sub)
            if sub.channel == "orderbook_delta":
                for ticker in new:
                    await self._send_snapshot(session, sub, ticker)
        elif action == "delete_markets":
            sub.tickers = [t for t in sub.tickers if t not in tickers]
            await self._ok(session, cmd_id, sub)
        else:
            await self._error(session, cmd_id, 13, "Unsupported action")

    async def _ok(self, session: Session, cmd_id: int, sub: StubSub) -> None:
        # The reply carries the sid's current seq without taking a number of its own.
        await self._send(
            session,
            {
                "id": cmd_id,
                "sid": sub.sid,
                "seq": sub.seq,
                "type": "ok",
                "msg": {"market_tickers": sub.tickers},
            },
        )

    async def _error(self, session: Session, cmd_id: int, code: int, text: str) -> None:
        await self._send(session, {"id": cmd_id, "type": "error", "msg": {"code": code, "msg": text}})

    async def release_snapshots(self) -> None:
        held, self._held = self._held, []
        for session, sub, tickers in held:
            for ticker in tickers:
                await self._send_snapshot(session, sub, ticker)

    # -----------------------------------------------------------------------------------------
    # Book traffic

    def _wire_no(self, price: int, sub: StubSub) -> int:
        return PRICE_SCALE - price if sub.use_yes_price else price

    async def _send_snapshot(self, session: Session, sub: StubSub, ticker: str) -> None:
        book = self.books.setdefault(ticker, ServerBook())
        body: dict[str, Any] = {"market_ticker": ticker, "market_id": f"id-{ticker}"}
        if book.yes:
            body["yes_dollars_fp"] = [[format_price(p), format_count(s)] for p, s in sorted(book.yes.items())]
        if book.no:
            no = sorted((self._wire_no(p, sub), s) for p, s in book.no.items())
            body["no_dollars_fp"] = [[format_price(p), format_count(s)] for p, s in no]
        await self._send(
            session, {"type": "orderbook_snapshot", "sid": sub.sid, "seq": sub.next_seq(), "msg": body}
        )

    def book_subs(self, ticker: str) -> list[tuple[Session, StubSub]]:
        if not self.sessions:
            return []
        session = self.current
        return [
            (session, s)
            for s in session.subs.values()
            if s.channel == "orderbook_delta" and ticker in s.tickers
        ]

    async def delta(self, ticker: str, side: str, price: int, delta: int, *, lose: bool = False) -> None:
        """Change a level (``price`` YES for yes, NO-leg for no) and publish it; ``lose`` drops the frame."""
        book = self.books.setdefault(ticker, ServerBook())
        levels = book.yes if side == "yes" else book.no
        new = levels.get(price, 0) + delta
        assert new >= 0
        if new:
            levels[price] = new
        else:
            levels.pop(price, None)
        for session, sub in self.book_subs(ticker):
            seq = sub.next_seq()
            if lose:
                continue
            wire_price = price if side == "yes" else self._wire_no(price, sub)
            body = {
                "market_ticker": ticker,
                "market_id": f"id-{ticker}",
                "price_dollars": format_price(wire_price),
                "delta_fp": format_count(delta),
                "side": side,
                "ts": "2026-11-25T15:00:00.123456Z",
                "ts_ms": 1795791600123,
            }
            await self._send(session, {"type": "orderbook_delta", "sid": sub.sid, "seq": seq, "msg": body})

    async def send_frame(self, obj: dict[str, Any]) -> None:
        await self._send(self.current, obj)

    async def send_raw(self, text: str) -> None:
        await self.current.conn.send(text)

    async def send_on_sid(self, make: Callable[[int, int], str], ticker: str) -> None:
        """Send a frame built by ``make(sid, seq)`` on the orderbook sid of ``ticker``, taking a seq."""
        for session, sub in self.book_subs(ticker):
            await session.conn.send(make(sub.sid, sub.next_seq()))

    async def publish(self, channel: str, obj: dict[str, Any], *, sequenced: bool = False) -> None:
        """Send a data message on the current session's subscription to ``channel``."""
        session = self.current
        for sub in session.subs.values():
            if sub.channel == channel:
                frame = {**obj, "sid": sub.sid}
                if sequenced:
                    frame["seq"] = sub.next_seq()
                await self._send(session, frame)
