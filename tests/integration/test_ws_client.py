"""The WebSocket client against a local Kalshi-like server: signed handshakes, books that match the
server's through seq gaps, refused snapshots, disconnects, dead peers and bad input."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from ws_stub import ServerBook, StubKalshiWs

from kxbtc.clock import ManualClock, now_ms
from kxbtc.kalshi.auth import Signer
from kxbtc.kalshi.ws import KalshiWsClient, QueueHandler, WsCommandError
from kxbtc.kalshi.ws_messages import CfbenchmarksValue, Fill, MarketLifecycle, Ticker, Trade
from kxbtc.units import PriceGrid

KEY_ID = "a952bcbe-ec3b-4b5b-b8f9-11dae589608c"
A = "KXBTC15M-26NOV251515-15"
B = "KXBTC15M-26NOV251530-30"


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class Rig:
    clock: ManualClock
    server: StubKalshiWs
    client: KalshiWsClient
    events: QueueHandler

    async def until(self, cond: Callable[[], bool], what: str, advance: float = 0.05) -> None:
        """Let real I/O run and simulated time pass in small steps until ``cond`` holds."""
        for _ in range(1500):
            if cond():
                return
            self.clock.advance(advance)
            await asyncio.sleep(0.002)
        raise AssertionError(f"timed out waiting for {what}")

    def books_match(self, *tickers: str) -> bool:
        for ticker in tickers:
            book = self.client.books.get(ticker)
            if book is None or book.stale or book.to_levels() != self.server.books[ticker].levels():
                return False
        return True


def initial_books() -> dict[str, ServerBook]:
    return {
        A: ServerBook(yes={4700: 300, 4600: 1000}, no={4800: 200, 4500: 500}),
        B: ServerBook(yes={3000: 100}, no={6500: 700}),
    }


@pytest.fixture
async def rig(rsa_key: rsa.RSAPrivateKey) -> AsyncIterator[Rig]:
    clock = ManualClock()
    server = StubKalshiWs(rsa_key.public_key(), KEY_ID, lambda: now_ms(clock), initial_books())
    url = await server.start()
    pem = rsa_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    events = QueueHandler()
    # A long liveness window in simulated time: the test clock runs ahead of real I/O, and a loaded
    # machine must not make a live server look dead.
    client = KalshiWsClient(
        url,
        Signer(KEY_ID, pem, clock=clock),
        clock,
        handler=events,
        rng=random.Random(7),
        ping_after=10.0,
        liveness_timeout=60.0,
    )
    client.start()
    r = Rig(clock, server, client, events)
    try:
        yield r
    finally:
        await client.close()
        await server.stop()


async def subscribed_rig(rig: Rig, *tickers: str) -> Rig:
    await rig.until(lambda: rig.client.connected, "connect")
    await rig.client.subscribe("orderbook_delta", market_tickers=list(tickers))
    await rig.until(lambda: rig.books_match(*tickers), "initial snapshots")
    return rig


def drain(events: QueueHandler) -> list[tuple[str, object]]:
    out = []
    while not events.queue.empty():
        out.append(events.queue.get_nowait())
    return out


# -------------------------------------------------------------------------------------------------


async def test_signed_handshake_subscribe_and_live_books(rig: Rig) -> None:
    await subscribed_rig(rig, A, B)
    hs = rig.server.handshakes
    assert len(hs) == 1 and hs[0].verified and hs[0].key_id == KEY_ID and hs[0].path == "/trade-api/ws/v2"
    sub_cmd = rig.server.commands[0]
    assert sub_cmd["cmd"] == "subscribe" and isinstance(sub_cmd["id"], int) and sub_cmd["id"] > 0
    assert sub_cmd["params"] == {
        "channels": ["orderbook_delta"],
        "market_tickers": [A, B],
        "use_yes_price": True,
    }

    await rig.server.delta(A, "yes", 4700, -100)
    await rig.server.delta(A, "no", 4900, 400)  # a new best NO bid: YES ask 0.51
    await rig.server.delta(B, "yes", 3000, -100)
    await rig.until(lambda: rig.books_match(A, B), "deltas applied")
    book = rig.client.books[A]
    assert (book.best_yes_bid(), book.yes_ask(), book.best_no_bid()) == (4700, 5100, 4900)
    assert rig.client.is_tradeable(A) and rig.client.is_tradeable(B)
    assert rig.client.stats.seq_gaps == 0 and not rig.client.stats.errors
    kinds = [k for k, _ in drain(rig.events)]
    assert kinds.count("orderbook") == 5 and kinds[0] == "connection"


async def test_noleg_subscription_keeps_the_same_canonical_book(rig: Rig) -> None:
    await rig.until(lambda: rig.client.connected, "connect")
    await rig.client.subscribe("orderbook_delta", market_tickers=[A], use_yes_price=False)
    assert rig.server.commands[0]["params"]["use_yes_price"] is False
    await rig.server.delta(A, "no", 4800, 100)
    await rig.until(lambda: rig.books_match(A), "noleg book")
    assert rig.client.books[A].yes_ask() == 5200


@pytest.mark.parametrize("acked", [True, False], ids=["ok-ack", "no-ack"])
async def test_seq_gap_marks_books_stale_and_rebuilds_them_from_get_snapshot(rig: Rig, acked: bool) -> None:
    rig.server.ack_get_snapshot = acked
    await subscribed_rig(rig, A, B)
    rig.server.hold_snapshots = True
    await rig.server.delta(A, "yes", 4650, 50, lose=True)  # never sent: the next frame shows a gap
    await rig.server.delta(B, "no", 6500, 10)
    await rig.until(lambda: rig.client.stats.seq_gaps == 1, "gap detected")
    # Every book on the sid is stale, and nothing may trade on it, until its snapshot arrives.
    await rig.until(
        lambda: any(c["cmd"] == "update_subscription" for c in rig.server.commands), "get_snapshot"
    )
    assert rig.client.books[A].stale and rig.client.books[B].stale
    assert not rig.client.is_tradeable(A) and not rig.client.is_tradeable(B)
    resync = [c for c in rig.server.commands if c["cmd"] == "update_subscription"]
    assert resync[0]["params"]["action"] == "get_snapshot"
    assert sorted(resync[0]["params"]["market_tickers"]) == [A, B]
    await rig.server.delta(A, "yes", 4700, 5)  # arrives before the snapshot: skipped, not applied
    await rig.server.release_snapshots()
    await rig.server.delta(A, "no", 4800, -200)
    await rig.until(lambda: rig.books_match(A, B), "books rebuilt")
    assert rig.client.is_tradeable(A) and rig.client.is_tradeable(B)
    assert rig.client.stats.seq_gaps == 1 and rig.client.stats.connects == 1
    assert rig.client.stats.errors == {"SeqGapError": 1}
    stale = [p for k, p in drain(rig.events) if k == "book_stale"]
    assert {t for t, _ in stale} == {A, B}  # type: ignore[misc]


async def test_refused_get_snapshot_falls_back_to_unsubscribe_and_resubscribe(rig: Rig) -> None:
    await subscribed_rig(rig, A)
    rig.server.refuse_get_snapshot = True
    await rig.server.delta(A, "yes", 4700, 1, lose=True)
    await rig.server.delta(A, "yes", 4700, 2)
    await rig.until(lambda: rig.books_match(A) and rig.client.stats.resubscribes == 1, "resubscribed")
    cmds = [c["cmd"] for c in rig.server.commands]
    assert cmds == ["subscribe", "update_subscription", "unsubscribe", "subscribe"]
    assert rig.server.commands[2]["params"] == {"sids": [1]}
    assert rig.server.commands[3]["params"]["use_yes_price"] is True
    (sub,) = rig.client.subscriptions
    assert sub.sid == 2
    assert rig.client.stats.errors["WsCommandError"] == 1
    err = next(e for e in rig.client.stats.recent_errors if isinstance(e, WsCommandError))
    assert err.ws_code == 13 and err.code == "13"
    await rig.server.delta(A, "no", 4500, -500)
    await rig.until(lambda: rig.books_match(A), "deltas on the new sid")


async def test_disconnect_reconnects_with_fresh_signature_and_resubscribes(rig: Rig) -> None:
    await subscribed_rig(rig, A, B)
    first = rig.server.handshakes[0]
    await rig.server.drop()
    await rig.until(lambda: not rig.client.connected, "disconnect seen", advance=0.0)
    # From the disconnect until the new snapshot, no book may be traded on.
    assert all(rig.client.books[t].stale for t in (A, B))
    assert not rig.client.is_tradeable(A)
    # The exchange's books move while we are away.
    rig.server.books[A].yes[4750] = 900
    rig.server.books[B].no.pop(6500)
    await rig.until(lambda: rig.client.stats.connects == 2 and rig.books_match(A, B), "reconnected")
    second = rig.server.handshakes[-1]
    assert second.verified
    assert second.timestamp != first.timestamp and second.signature != first.signature
    assert int(second.timestamp) > int(first.timestamp)
    subs = [c for c in rig.server.commands if c["cmd"] == "subscribe"]
    assert len(subs) == 2 and subs[1]["params"]["use_yes_price"] is True
    assert sorted(subs[1]["params"]["market_tickers"]) == [A, B]
    await rig.server.delta(A, "yes", 4750, -900)
    await rig.until(lambda: rig.books_match(A, B), "deltas after reconnect")
    assert rig.client.is_tradeable(A) and rig.client.is_tradeable(B)
    assert rig.client.stats.errors["NetworkError"] >= 1  # the lost connection, logged as a typed error


async def test_dead_peer_is_detected_by_ping_timeout_and_replaced(rig: Rig) -> None:
    await subscribed_rig(rig, A)
    rig.server.stop_reading()
    await rig.until(lambda: rig.client.stats.liveness_timeouts == 1, "liveness timeout", advance=0.5)
    assert rig.client.stats.pings_sent >= 1
    await rig.until(lambda: rig.client.stats.connects == 2 and rig.books_match(A), "replacement connection")
    assert len(rig.server.handshakes) == 2


async def test_quiet_but_alive_connection_is_kept_by_pongs(rig: Rig) -> None:
    await subscribed_rig(rig, A)
    for _ in range(400):  # 100 simulated seconds without data: pings are answered, no reconnect
        rig.clock.advance(0.25)
        await asyncio.sleep(0.002)
    assert rig.client.stats.pings_sent >= 2
    assert rig.client.stats.liveness_timeouts == 0 and rig.client.stats.connects == 1


async def test_handshake_refused_then_backoff_until_the_server_accepts(rsa_key: rsa.RSAPrivateKey) -> None:
    clock = ManualClock()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    wrong_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = rsa_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    client = KalshiWsClient(
        f"ws://127.0.0.1:{port}/trade-api/ws/v2",
        Signer(KEY_ID, pem, clock=clock),
        clock,
        rng=random.Random(1),
    )
    delays = [client.backoff_delay(n) for n in range(8)]
    assert all(0.25 * 2**n <= d <= 0.5 * 2**n for n, d in enumerate(delays[:6]))
    assert 15 <= delays[7] <= 30  # capped at backoff_max
    client._rng = random.Random(1)
    rig = Rig(
        clock, StubKalshiWs(wrong_key.public_key(), KEY_ID, lambda: now_ms(clock)), client, QueueHandler()
    )
    client.start()
    try:
        await rig.until(lambda: client.stats.connect_failures >= 2, "refused connects")  # nothing listens
        await rig.server.start(port)  # listening now, but trusting another key: 401
        await rig.until(lambda: client.stats.errors["AuthError"] >= 1, "401")
        assert not client.connected and not rig.server.handshakes[-1].verified
        rig.server.public_key = rsa_key.public_key()
        await rig.until(lambda: client.connected, "accepted")
        assert client.stats.errors["NetworkError"] >= 2
    finally:
        await client.close()
        await rig.server.stop()


async def test_subscription_commands_and_other_channels(rig: Rig) -> None:
    await subscribed_rig(rig, A)
    (book_sub,) = rig.client.subscriptions
    await rig.client.add_markets(book_sub, [B])
    await rig.until(lambda: rig.books_match(A, B), "snapshot of the added market")
    assert book_sub.market_tickers == [A, B]
    await rig.client.get_snapshot(book_sub, [B])
    await rig.until(lambda: rig.books_match(B), "requested snapshot")
    await rig.client.delete_markets(book_sub, [A])
    assert book_sub.market_tickers == [B] and not rig.client.is_tradeable(A)

    subs = await rig.client.subscribe(["ticker", "trade", "fill", "market_lifecycle_v2"])
    cfb = await rig.client.subscribe("cfbenchmarks_value", index_ids=["BRTI"])
    listed = await rig.client.list_subscriptions()
    assert [(s.channel, s.sid) for s in listed] == [
        ("orderbook_delta", 1),
        ("ticker", 2),
        ("trade", 3),
        ("fill", 4),
        ("market_lifecycle_v2", 5),
        ("cfbenchmarks_value", 6),
    ]
    assert [s.sid for s in subs + cfb] == [2, 3, 4, 5, 6]
    drain(rig.events)

    await rig.server.publish("ticker", {"type": "ticker", "msg": ticker_body(B)})
    await rig.server.publish("trade", {"type": "trade", "msg": trade_body(B)}, sequenced=True)
    await rig.server.publish("fill", {"type": "fill", "msg": fill_body(B)})
    await rig.server.publish("cfbenchmarks_value", cfb_frame(), sequenced=True)
    grid = {"start": "0.0000", "end": "1.0000", "step": "0.0100"}
    await rig.server.publish(
        "market_lifecycle_v2",
        {
            "type": "market_lifecycle_v2",
            "msg": {
                "event_type": "price_level_structure_updated",
                "market_ticker": B,
                "price_ranges": [grid],
            },
        },
    )
    await rig.server.publish(
        "market_lifecycle_v2",
        {
            "type": "market_lifecycle_v2",
            "msg": {"event_type": "determined", "market_ticker": B, "result": "no"},
        },
    )
    await rig.until(lambda: rig.events.queue.qsize() >= 7, "channel messages")
    got = drain(rig.events)
    by_kind = {k: p for k, p in got}
    assert isinstance(by_kind["ticker"], Ticker) and isinstance(by_kind["trade"], Trade)
    assert isinstance(by_kind["fill"], Fill) and isinstance(by_kind["cfbenchmarks"], CfbenchmarksValue)
    assert isinstance(by_kind["lifecycle"], MarketLifecycle)
    assert ("book_stale", (B, "market determined")) in got
    assert rig.client.books[B].grid == PriceGrid.linear_cent()
    assert not rig.client.is_tradeable(B)  # determined: the book is live but the market is not
    assert not rig.client.stats.errors


# -------------------------------------------------------------------------------------------------
# Bad input: every case is a logged, typed error; the client stays up and keeps processing.


def bad_delta(price: str, **extra: object) -> Callable[[int, int], str]:
    def make(sid: int, seq: int) -> str:
        body = {
            "market_ticker": A,
            "market_id": "x",
            "price_dollars": price,
            "delta_fp": "5.00",
            "side": "yes",
        }
        body.update(extra)  # type: ignore[arg-type]
        return json.dumps({"type": "orderbook_delta", "sid": sid, "seq": seq, "msg": body})

    return make


def missing_field(sid: int, seq: int) -> str:
    body = {"market_ticker": A, "market_id": "x", "price_dollars": "0.4700", "side": "yes"}
    return json.dumps({"type": "orderbook_delta", "sid": sid, "seq": seq, "msg": body})


def malformed(sid: int, seq: int) -> str:
    return '{"type":"orderbook_delta","sid":' + str(sid) + ',"seq":' + str(seq) + ',"msg":{"market_ticker":'


@pytest.mark.parametrize(
    ("make", "error", "resyncs"),
    [
        pytest.param(malformed, "ProtocolError", True, id="malformed-json"),
        pytest.param(None, "UnknownMessageTypeError", False, id="unknown-type"),
        pytest.param(missing_field, "ProtocolError", True, id="missing-field"),
        pytest.param(bad_delta("0.4x00"), "BookError", True, id="non-numeric-price"),
        pytest.param(bad_delta("0.4750"), "BookError", True, id="off-grid-price"),
    ],
)
async def test_bad_input_is_logged_typed_and_survived(
    rig: Rig,
    caplog: pytest.LogCaptureFixture,
    make: Callable[[int, int], str] | None,
    error: str,
    resyncs: bool,
) -> None:
    rig.client.books.set_grid(A, PriceGrid.linear_cent())
    await subscribed_rig(rig, A)
    caplog.set_level(logging.WARNING, logger="kxbtc.kalshi.ws")
    rig.server.hold_snapshots = True
    if make is None:
        await rig.server.send_raw(json.dumps({"type": "rfq_created", "sid": 1, "msg": {"id": "r1"}}))
    else:
        await rig.server.send_on_sid(make, A)
    await rig.until(lambda: rig.client.stats.errors[error] == 1, f"{error} recorded")
    assert any(error in r.getMessage() for r in caplog.records)
    assert type(rig.client.stats.recent_errors[-1]).__name__ == error
    if resyncs:  # the damaged book is out of trading until its new snapshot
        await rig.until(lambda: "update_subscription" in [c["cmd"] for c in rig.server.commands], "resync")
        assert rig.client.books[A].stale and not rig.client.is_tradeable(A)
        await rig.server.release_snapshots()
    else:
        assert rig.client.is_tradeable(A)
    # Later frames are processed; a damaged book is rebuilt from a fresh snapshot first.
    await rig.server.delta(A, "yes", 4600, -400)
    await rig.server.delta(A, "no", 4700, 100)
    await rig.until(lambda: rig.books_match(A), "book equals the server's")
    assert rig.client.connected and rig.client.stats.connects == 1
    snapshot_requests = [c for c in rig.server.commands if c["cmd"] == "update_subscription"]
    assert bool(snapshot_requests) is resyncs
    assert rig.client.is_tradeable(A)


async def test_handler_exceptions_are_counted_not_fatal(rig: Rig) -> None:
    def boom(*args: object) -> None:
        raise RuntimeError("handler bug")

    rig.events.on_orderbook = boom  # type: ignore[method-assign]
    await subscribed_rig(rig, A)
    await rig.server.delta(A, "yes", 4700, 1)
    await rig.until(lambda: rig.books_match(A) and rig.client.stats.handler_errors >= 2, "handler errors")
    assert rig.client.connected


# -------------------------------------------------------------------------------------------------
# Channel message bodies (4-dp prices as on the wire)


def ticker_body(ticker: str) -> dict[str, object]:
    return {
        "market_ticker": ticker,
        "market_id": "x",
        "price_dollars": "0.3000",
        "yes_bid_dollars": "0.3000",
        "yes_ask_dollars": "0.3500",
        "yes_bid_size_fp": "1.00",
        "yes_ask_size_fp": "7.00",
        "last_trade_size_fp": "1.00",
        "volume_fp": "10.00",
        "open_interest_fp": "5.00",
        "dollar_volume": 3,
        "dollar_open_interest": 1,
        "ts": 1795791600,
        "ts_ms": 1795791600000,
    }


def trade_body(ticker: str) -> dict[str, object]:
    return {
        "trade_id": "t1",
        "market_ticker": ticker,
        "yes_price_dollars": "0.3000",
        "no_price_dollars": "0.7000",
        "count_fp": "1.00",
        "taker_outcome_side": "no",
        "taker_book_side": "ask",
        "is_block_trade": False,
        "ts": 1795791600,
        "ts_ms": 1795791600000,
    }


def fill_body(ticker: str) -> dict[str, object]:
    return {
        "trade_id": "t1",
        "order_id": "o1",
        "market_ticker": ticker,
        "exchange_index": 2,
        "is_taker": True,
        "outcome_side": "yes",
        "book_side": "bid",
        "yes_price_dollars": "0.3500",
        "count_fp": "1.00",
        "fee_cost": "0.016000",
        "post_position_fp": "1.00",
        "ts": 1795791600,
        "ts_ms": 1795791600000,
    }


def cfb_frame() -> dict[str, object]:
    avg = {"value": "86000.00000000", "window_size": 3, "window_start_ts_ms": 1, "window_end_ts_exclusive": 2}
    return {
        "type": "cfbenchmarks_value",
        "msg": {
            "index_id": "BRTI",
            "received_at": 1795791600000,
            "data": json.dumps({"type": "value", "id": "BRTI", "time": 1795791600000, "value": "86000.01"}),
            "avg_60s_data": avg,
        },
    }


# -------------------------------------------------------------------------------------------------
# Server-side failures


async def test_invalid_snapshots_are_retried_then_given_up_leaving_the_book_untradeable(rig: Rig) -> None:
    rig.server.books[A] = ServerBook(yes={6000: 100}, no={5000: 100})  # crossed: 0.60 + 0.50 >= 1
    await rig.until(lambda: rig.client.connected, "connect")
    (sub,) = await rig.client.subscribe("orderbook_delta", market_tickers=[A, B])
    await rig.until(lambda: rig.client.stats.errors["ProtocolError"] == 1, "give up after 3 bad snapshots")
    assert rig.client.stats.errors["BookError"] == 3
    assert [c["params"]["action"] for c in rig.server.commands[1:]] == ["get_snapshot", "get_snapshot"]
    assert not rig.client.is_tradeable(A) and rig.client.books[A].stale
    assert rig.client.is_tradeable(B)  # the other book on the sid is unaffected
    rig.server.books[A] = ServerBook(yes={4000: 100}, no={5000: 100})
    await rig.client.get_snapshot(sub, [A])
    await rig.until(lambda: rig.books_match(A), "repaired by an explicit get_snapshot")
    assert rig.client.is_tradeable(A)


async def test_terminal_subscription_error_resubscribes(rig: Rig) -> None:
    await subscribed_rig(rig, A)
    await rig.server.send_frame(
        {
            "id": 0,
            "sid": 1,
            "seq": 1,
            "type": "error",
            "msg": {"code": 25, "msg": "Subscription buffer overflow"},
        }
    )
    await rig.until(lambda: rig.client.stats.resubscribes == 1 and rig.books_match(A), "resubscribed")
    err = next(e for e in rig.client.stats.recent_errors if isinstance(e, WsCommandError))
    assert err.terminal and err.sid == 1
    assert [c["cmd"] for c in rig.server.commands] == ["subscribe", "unsubscribe", "subscribe"]


async def test_refused_subscribe_raises_and_is_not_kept(rig: Rig) -> None:
    await rig.until(lambda: rig.client.connected, "connect")
    rig.server.refuse_channels = {"cfbenchmarks_value"}
    with pytest.raises(WsCommandError) as refused:
        await rig.client.subscribe("cfbenchmarks_value", index_ids=["BRTI"])
    assert refused.value.ws_code == 8
    assert rig.client.subscriptions == [] and rig.client.connected


async def test_subscribing_as_the_connection_opens_sends_one_subscribe(rig: Rig) -> None:
    # Regression: a subscribe racing the reconnect path's resubscribe-all must not be sent twice.
    await rig.client.close()
    rig.server.commands.clear()
    tasks: list[asyncio.Task[object]] = []

    class SubscribeOnConnect(QueueHandler):
        def on_connection(self, connected: bool) -> None:
            if connected:
                tasks.append(
                    asyncio.ensure_future(rig.client.subscribe("orderbook_delta", market_tickers=[A]))
                )

    rig.client.handler = SubscribeOnConnect()
    rig.client.start()
    await rig.until(lambda: bool(tasks) and tasks[0].done() and rig.books_match(A), "subscribed")
    assert [c["cmd"] for c in rig.server.commands] == ["subscribe"]
    assert [s.sid for s in rig.client.subscriptions] == [1]


async def test_snapshot_that_never_comes_escalates_to_resubscribe(rig: Rig) -> None:
    await subscribed_rig(rig, A)
    rig.server.hold_snapshots = True  # get_snapshot is acknowledged, its snapshot never sent
    await rig.server.delta(A, "yes", 4700, 1, lose=True)
    await rig.server.delta(A, "yes", 4700, 1)
    await rig.until(lambda: rig.client.stats.resubscribes == 1, "escalation", advance=0.2)
    await rig.until(lambda: rig.books_match(A), "fresh subscription's snapshot")
    assert [c["cmd"] for c in rig.server.commands] == [
        "subscribe",
        "update_subscription",
        "unsubscribe",
        "subscribe",
    ]
    (sub,) = rig.client.subscriptions
    await rig.client.unsubscribe(sub)
    assert rig.server.commands[-1] == {
        "id": rig.server.commands[-1]["id"],
        "cmd": "unsubscribe",
        "params": {"sids": [2]},
    }
    assert rig.client.subscriptions == [] and not rig.client.is_tradeable(A)


async def test_a_late_subscribe_ack_is_waited_for_with_backoff_not_fatal(rig: Rig) -> None:
    # `kxbtc run` used to exit 1 when a subscribe ack came after the command timeout (a slow link).
    await rig.until(lambda: rig.client.connected, "connect")
    rig.server.subscribe_gate = asyncio.Event()
    task = asyncio.create_task(rig.client.subscribe("orderbook_delta", market_tickers=[A]))
    await rig.until(lambda: bool(rig.server.commands), "subscribe sent")
    for _ in range(60):  # 30 simulated seconds: three times the command timeout
        rig.clock.advance(0.5)
        await asyncio.sleep(0.002)
    assert not task.done()
    rig.server.subscribe_gate.set()
    await rig.until(task.done, "the late ack")
    [sub] = task.result()
    assert sub.sid is not None
    await rig.until(lambda: rig.books_match(A), "snapshot")


async def test_a_cancel_during_the_disconnect_cleanup_stops_the_client(rig: Rig) -> None:
    # Found by the soak: at shutdown, a cancel that reached the connection while it was still waiting for
    # a session task to finish was swallowed, and the client reconnected instead of stopping.
    await rig.until(lambda: rig.client.connected, "connect")
    runner = rig.client.start()  # the running task (start() returns it while it runs)
    release, stopping = asyncio.Event(), asyncio.Event()

    async def slow_to_stop() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            stopping.set()
            await release.wait()  # like a handler finishing a write before it lets go

    rig.client._ctx.spawn(slow_to_stop())
    await rig.server.drop()
    await rig.until(stopping.is_set, "the connection's cleanup under way", advance=0.0)
    runner.cancel()
    for _ in range(50):
        await asyncio.sleep(0)
    release.set()
    for _ in range(50):
        await asyncio.sleep(0)
    assert runner.done() and runner.cancelled()
    assert rig.client.stats.connects == 1  # no reconnect after the cancel
