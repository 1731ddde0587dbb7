"""``KalshiStream`` rules the live client relies on: an unreadable book frame stales only its own book,
an undecodable frame is routed by the fields still readable, and non-book sids never own books."""

from __future__ import annotations

import json

from kxbtc.domain.events import BookStale
from kxbtc.kalshi.stream import BadBookFrame, KalshiStream, SeqGap, StreamNotice
from kxbtc.kalshi.ws_messages import decode_frame

A = "KXBTC15M-26NOV251515-15"
B = "KXBTC15M-26NOV251530-30"


def frame(kind: str, sid: int, seq: int | None, **msg: object) -> bytes:
    body: dict[str, object] = {"type": kind, "sid": sid, "msg": msg}
    if seq is not None:
        body["seq"] = seq
    return json.dumps(body).encode()


def subscribed(stream: KalshiStream, sid: int, channel: str) -> None:
    msg = {"type": "subscribed", "id": 1, "msg": {"channel": channel, "sid": sid}}
    stream.on_message(decode_frame(json.dumps(msg)), 0)


def book_stream(notices: list[StreamNotice]) -> KalshiStream:
    stream = KalshiStream(use_yes_price=True, on_notice=notices.append)
    subscribed(stream, 1, "orderbook_delta")
    stream.track_book_sid(1, [A, B], use_yes_price=True)
    for seq, ticker in ((1, A), (2, B)):
        snap = frame("orderbook_snapshot", 1, seq, market_ticker=ticker, market_id="x", yes_dollars_fp=[])
        stream.on_message(decode_frame(snap), 0)
    return stream


def stale_of(events: list[object]) -> list[str]:
    return [e.ticker for e in events if isinstance(e, BookStale)]


def test_an_unreadable_book_frame_stales_only_its_book() -> None:
    notices: list[StreamNotice] = []
    stream = book_stream(notices)
    bad = frame(
        "orderbook_delta",
        1,
        3,
        market_ticker=A,
        market_id="x",
        price_dollars="0.4x00",
        delta_fp="1",
        side="yes",
    )
    assert stale_of(stream.on_message(decode_frame(bad), 5)) == [A]
    assert notices == [BadBookFrame(1, A, notices[0].reason, False)]  # type: ignore[union-attr]
    assert stream.stale_tickers == {A}


def test_a_gap_is_noticed_and_stales_the_sids_books_but_not_the_repaired_one() -> None:
    notices: list[StreamNotice] = []
    stream = book_stream(notices)
    snap = frame("orderbook_snapshot", 1, 9, market_ticker=B, market_id="x", yes_dollars_fp=[])
    assert stale_of(stream.on_message(decode_frame(snap), 5)) == [A]
    assert notices == [SeqGap(1, 3, 9)]


def test_undecodable_frames_are_routed_by_what_is_readable() -> None:
    stream = book_stream([])
    assert stale_of(
        stream.bad_frame(
            0,
            "x",
            b'{"type":"orderbook_delta","sid":1,"seq":3,"msg":{"market_ticker":"'
            + A.encode()
            + b'","side":7}}',
        )
    ) == [A]
    assert stale_of(stream.bad_frame(0, "x", b'{"type":"ticker","msg":{}}')) == []  # no book's frame
    assert stale_of(stream.bad_frame(0, "x", b"{not json")) == [A, B]  # could have been any book's
    assert stale_of(stream.bad_frame(0, "x")) == [A, B]  # no frame given: every book


def test_ok_replies_on_a_trade_sid_give_it_no_books() -> None:
    stream = KalshiStream(use_yes_price=True)
    subscribed(stream, 2, "trade")
    ok = {"type": "ok", "id": 3, "sid": 2, "seq": 1, "msg": {"market_tickers": [A]}}
    stream.on_message(decode_frame(json.dumps(ok)), 0)
    later = frame("rfq_created", 2, 5, id="r")  # a gap on the trade sid, seen on a type we do not know
    assert stale_of(stream.on_message(decode_frame(later), 0)) == []
    assert stream.stats.seq_gaps == 1


def delta(seq: int, ticker: str = A) -> bytes:
    return frame(
        "orderbook_delta",
        1,
        seq,
        market_ticker=ticker,
        market_id="x",
        price_dollars="0.4200",
        delta_fp="1.00",
        side="yes",
    )


def test_a_delta_overtaken_by_its_successor_costs_one_gap_and_is_never_applied() -> None:
    notices: list[StreamNotice] = []
    stream = book_stream(notices)
    # Seq 3 and 4 were sent; 4 arrives first: one gap, the sid's books stale (a resync is due).
    assert stale_of(stream.on_message(decode_frame(delta(4)), 5)) == [A, B]
    # Then the late 3: dropped, no second gap, no book event; and 5 after it is in sequence.
    assert stream.on_message(decode_frame(delta(3)), 6) == []
    [event] = stream.on_message(decode_frame(delta(5)), 7)
    assert not isinstance(event, BookStale)
    assert notices == [SeqGap(1, 3, 4)]
    assert stream.stats.seq_gaps == 1 and stream.stats.late_frames == 1
