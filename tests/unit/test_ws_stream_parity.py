"""The live client and the replay keep books by the same rules: the same frames, with a sequence gap,
fed to ``KalshiWsClient``'s dispatch and to ``KalshiStream`` + ``BookSet`` give the same books and the
same stale markets; the client also asks for the snapshots that repair them."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from kxbtc.clock import ManualClock
from kxbtc.core.books import BookSet
from kxbtc.domain.events import BookDelta, BookSnapshot, BookStale
from kxbtc.kalshi.auth import Signer
from kxbtc.kalshi.stream import KalshiStream
from kxbtc.kalshi.ws import KalshiWsClient
from kxbtc.kalshi.ws_messages import decode_frame

A = "KXBTC15M-26NOV251515-15"
B = "KXBTC15M-26NOV251530-30"


class FakeSocket:
    """Stands in for the live socket: records what the client sends."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def send(self, text: str) -> None:
        self.sent.append(json.loads(text))


def snapshot(ticker: str, seq: int, yes: list[list[str]], no: list[list[str]]) -> str:
    body = {"market_ticker": ticker, "market_id": "x", "yes_dollars_fp": yes, "no_dollars_fp": no}
    return json.dumps({"type": "orderbook_snapshot", "sid": 1, "seq": seq, "msg": body})


def delta(ticker: str, seq: int, side: str, price: str, size: str) -> str:
    body = {"market_ticker": ticker, "market_id": "x", "price_dollars": price, "delta_fp": size, "side": side}
    return json.dumps({"type": "orderbook_delta", "sid": 1, "seq": seq, "msg": body})


# use_yes_price: NO levels arrive as the YES ask they imply; both sides turn them into NO-leg prices.
FRAMES = [
    json.dumps({"type": "subscribed", "id": 1, "msg": {"channel": "orderbook_delta", "sid": 1}}),
    snapshot(A, 1, [["0.4700", "300.00"], ["0.4600", "1000.00"]], [["0.5200", "200.00"]]),
    snapshot(B, 2, [["0.3000", "100.00"]], [["0.3500", "700.00"]]),
    delta(A, 3, "yes", "0.4700", "-100.00"),
    delta(B, 4, "no", "0.3500", "10.00"),
    # seq 5 is lost: the next frame shows the gap, and every book of sid 1 is stale
    delta(A, 6, "yes", "0.4600", "50.00"),
    delta(B, 7, "yes", "0.3000", "5.00"),  # skipped on a stale book
    snapshot(A, 8, [["0.4800", "10.00"]], [["0.5500", "20.00"]]),  # repairs A alone
    delta(A, 9, "no", "0.5500", "5.00"),
]


async def settle() -> None:
    """Let the client's background commands (tasks within tasks) run up to their next wait."""
    for _ in range(20):
        await asyncio.sleep(0)


def signer(clock: ManualClock) -> Signer:
    pem = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return Signer("key", pem, clock=clock)


def replay(frames: list[str]) -> tuple[KalshiStream, BookSet]:
    stream = KalshiStream(use_yes_price=True)
    books = BookSet()
    for ticker in (A, B):
        books.add(ticker, None)
    for t, frame in enumerate(frames):
        for event in stream.on_message(decode_frame(frame), t):
            if isinstance(event, BookSnapshot | BookDelta | BookStale):
                books.apply(event)
    return stream, books


async def test_live_dispatch_and_replay_stream_agree_through_a_gap() -> None:
    clock = ManualClock()
    client = KalshiWsClient("ws://127.0.0.1:1/trade-api/ws/v2", signer(clock), clock)
    socket = FakeSocket()
    # The connection part as if a socket were open (no network in a unit test).
    client._conn._ws = socket  # type: ignore[assignment]
    client._conn._connected.set()
    await client.subscribe("orderbook_delta", market_tickers=[A, B], wait=False)
    await settle()
    assert socket.sent[0]["cmd"] == "subscribe"

    for frame in FRAMES:
        client.frame_received(frame)
    await settle()

    stream, books = replay(FRAMES)
    for ticker in (A, B):
        live, replayed = client.books[ticker], books.get(ticker)
        assert replayed is not None
        assert live.to_levels() == replayed.to_levels(), ticker
        assert live.stale == replayed.stale, ticker
    assert client.stream.stale_tickers == stream.stale_tickers == {B}
    assert client.is_tradeable(A) and not client.is_tradeable(B)
    assert books.is_tradeable(A) and not books.is_tradeable(B)
    assert client.books[A].to_levels() == ([(4800, 1000)], [(4500, 2500)])
    assert client.stats.seq_gaps == stream.stats.seq_gaps == 1
    assert client.stats.errors == {"SeqGapError": 1}
    # The live client asked for the lost books' snapshots; the replay only waits for them.
    (resync,) = [c for c in socket.sent if c["cmd"] == "update_subscription"]
    assert resync["params"]["action"] == "get_snapshot"
    assert sorted(resync["params"]["market_tickers"]) == [A, B]

    client.connection_lost(closing=True)  # fails the get_snapshot still waiting for B
    await settle()
    assert not client.is_tradeable(A) and client.stream.stale_tickers == {A, B}
