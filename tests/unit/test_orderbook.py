from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kxbtc.book.orderbook import OrderBook
from kxbtc.errors import BookError, ProtocolError
from kxbtc.kalshi.ws_messages import (
    OrderbookDelta,
    OrderbookDeltaBody,
    OrderbookSnapshot,
    OrderbookSnapshotBody,
    decode_frame,
)
from kxbtc.units import PriceGrid, UnitError, format_count, format_price

FIXTURE_TICKER = "KXWTACHALLENGERMATCH-26JUN11JIMLEP-LEP"
TICKER = "KXBTC15M-TEST"


def _replay(path: Path, *, use_yes_price: bool) -> list[OrderBook]:
    """The book after each orderbook frame of a recorded capture (a copy per frame)."""
    book = OrderBook(FIXTURE_TICKER, PriceGrid.linear_cent())
    states: list[OrderBook] = []
    for line in path.read_bytes().splitlines():
        if not line.strip():
            continue
        msg = decode_frame(line)
        if isinstance(msg, OrderbookSnapshot):
            book.apply_snapshot_msg(msg.msg, use_yes_price=use_yes_price, seq=msg.seq)
        elif isinstance(msg, OrderbookDelta):
            book.apply_delta_msg(msg.msg, use_yes_price=use_yes_price, seq=msg.seq)
        else:
            continue
        assert not book.stale, book.stale_reason
        copy = OrderBook(FIXTURE_TICKER)
        yes, no = book.to_levels()
        copy.apply_snapshot(yes, no, no_in_yes_prices=False, seq=book.last_seq)
        states.append(copy)
    return states


def _book(yes: list[tuple[int, int]], no: list[tuple[int, int]], grid: PriceGrid | None = None) -> OrderBook:
    book = OrderBook(TICKER, grid)
    book.apply_snapshot(yes, no, no_in_yes_prices=False)
    return book


def _delta(price: str, delta: str, side: str, ticker: str = TICKER) -> OrderbookDeltaBody:
    return OrderbookDeltaBody(market_ticker=ticker, price_dollars=price, delta_fp=delta, side=side)


# ---------------------------------------------------------------------------------------------
# Recorded demo captures: the same market seen with use_yes_price true (06:29) and false (06:31)


def test_yes_price_capture_reads_the_no_side_as_yes_asks(fixtures_dir: Path) -> None:
    states = _replay(fixtures_dir / "ws__orderbook_trade_yes.jsonl", use_yes_price=True)
    snap = states[0]
    # "0.5200" on the NO side is the YES ask itself: converting it again would give 0.48.
    assert snap.yes_ask() == 5200
    assert snap.best_no_bid() == 4800
    assert snap.yes_ask_size() == 100
    assert (snap.best_yes_bid(), snap.yes_bid_size(), snap.no_ask()) == (4700, 300, 5300)
    assert states[1].yes_ask() is None  # the only NO level was taken
    assert (states[2].yes_ask(), states[2].yes_ask_size()) == (5200, 200)


def test_noleg_capture_reads_the_no_side_in_no_prices(fixtures_dir: Path) -> None:
    states = _replay(fixtures_dir / "ws__orderbook_trade_noleg.jsonl", use_yes_price=False)
    assert (states[0].yes_ask(), states[0].yes_ask_size(), states[0].best_yes_bid()) == (5200, 200, 4700)
    assert states[2].to_levels() == ([], [])  # both sides emptied by seq 2 and 3
    assert states[-1].to_levels() == ([(4700, 300)], [(4800, 100)])
    assert [s.last_seq for s in states] == [1, 2, 3, 4, 5]


def test_both_captures_describe_the_same_book(fixtures_dir: Path) -> None:
    yes_mode = _replay(fixtures_dir / "ws__orderbook_trade_yes.jsonl", use_yes_price=True)
    noleg = _replay(fixtures_dir / "ws__orderbook_trade_noleg.jsonl", use_yes_price=False)
    # Nothing traded between the captures: where the yes-mode stream ends, the no-leg snapshot starts.
    assert yes_mode[-1] == noleg[0]
    assert yes_mode[-1].to_levels() == ([(4700, 300)], [(4800, 200)])
    # And the REST book (NO-leg prices) agrees on the price scale: YES ask 0.52.
    body = json.loads((fixtures_dir / "orderbook__base.json").read_text())["orderbook_fp"]
    rest = OrderBook(FIXTURE_TICKER)
    rest.apply_snapshot_wire(body["yes_dollars"], body["no_dollars"], no_in_yes_prices=False)
    assert (rest.yes_ask(), rest.best_yes_bid()) == (5200, 4700)


def test_reading_the_yes_capture_with_the_wrong_flag_gives_a_wrong_but_uncrossed_ask(
    fixtures_dir: Path,
) -> None:
    # Errata item 1: the mistake is invisible to the crossed-book check, so the flag must match the wire.
    wrong = _replay(fixtures_dir / "ws__orderbook_trade_yes.jsonl", use_yes_price=False)[0]
    assert wrong.yes_ask() == 4800
    assert not wrong.stale


# ---------------------------------------------------------------------------------------------
# Property: deltas on a snapshot equal the snapshot of the result, in both wire modes


GRIDS = {
    "linear_cent": PriceGrid.linear_cent(),
    "deci_cent": PriceGrid.from_wire([{"start": "0.0000", "end": "1.0000", "step": "0.0010"}]),
    "tapered_deci_cent": PriceGrid.from_wire(
        [
            {"start": "0.0000", "end": "0.1000", "step": "0.0010"},
            {"start": "0.1000", "end": "0.9000", "step": "0.0100"},
            {"start": "0.9000", "end": "1.0000", "step": "0.0010"},
        ]
    ),
}
TICKS: dict[str, list[int]] = {name: list(grid.ticks()) for name, grid in GRIDS.items()}
SIZES = st.integers(min_value=1, max_value=1_000_000)  # Count: 0.01 .. 10,000 contracts


def _wire_snapshot(yes: dict[int, int], no: dict[int, int], use_yes_price: bool) -> OrderbookSnapshotBody:
    """The snapshot the exchange would send for this canonical book (side keys absent when empty)."""
    no_wire = [(10_000 - p if use_yes_price else p, s) for p, s in no.items()]
    return OrderbookSnapshotBody(
        market_ticker=TICKER,
        yes_dollars_fp=[(format_price(p), format_count(s)) for p, s in yes.items()] or None,
        no_dollars_fp=[(format_price(p), format_count(s)) for p, s in no_wire] or None,
    )


def _new_level_price(
    data: st.DataObject, ticks: list[int], mine: dict[int, int], other_best: int
) -> int | None:
    """A free grid price on this side that keeps the book uncrossed, if any."""
    room = [t for t in ticks if t + other_best < 10_000 and t not in mine]
    return data.draw(st.sampled_from(room)) if room else None


@settings(max_examples=150, deadline=None)
@given(data=st.data(), grid_name=st.sampled_from(sorted(GRIDS)), use_yes_price=st.booleans())
def test_deltas_on_a_snapshot_equal_the_snapshot_of_the_result(
    data: st.DataObject, grid_name: str, use_yes_price: bool
) -> None:
    ticks = TICKS[grid_name]
    # A random uncrossed book: YES bids below a split point, NO bids (NO-leg) below its complement.
    split = data.draw(st.sampled_from(ticks[1:]))
    yes_ticks = [t for t in ticks if t < split]
    no_ticks = [t for t in ticks if t < 10_000 - split]
    yes: dict[int, int] = data.draw(st.dictionaries(st.sampled_from(yes_ticks), SIZES, max_size=30))
    no: dict[int, int] = {}
    if no_ticks:
        no = data.draw(st.dictionaries(st.sampled_from(no_ticks), SIZES, max_size=30))

    book = OrderBook(TICKER, GRIDS[grid_name])
    book.apply_snapshot_msg(_wire_snapshot(yes, no, use_yes_price), use_yes_price=use_yes_price)

    for _ in range(data.draw(st.integers(min_value=0, max_value=60))):
        side = data.draw(st.sampled_from(["yes", "no"]))
        mine, other = (yes, no) if side == "yes" else (no, yes)
        other_best = max(other, default=0)
        if bool(mine) and data.draw(st.booleans()):
            price = data.draw(st.sampled_from(sorted(mine)))
            removing = data.draw(st.booleans())
            change = (
                -mine[price] if removing else data.draw(st.integers(-mine[price] + 1, 10_000).filter(bool))
            )
        else:
            new_price = _new_level_price(data, ticks, mine, other_best)
            if new_price is None:
                continue
            price, change = new_price, data.draw(SIZES)
        if mine.get(price, 0) + change:
            mine[price] = mine.get(price, 0) + change
        else:
            del mine[price]
        wire_price = 10_000 - price if side == "no" and use_yes_price else price
        book.apply_delta_msg(
            _delta(format_price(wire_price), format_count(change), side), use_yes_price=use_yes_price
        )

        assert not book.stale
        best_yes, best_no = book.best_yes_bid(), book.best_no_bid()
        assert book.yes_ask() == (None if best_no is None else 10_000 - best_no)
        assert book.no_ask() == (None if best_yes is None else 10_000 - best_yes)
        if best_yes is not None and best_no is not None:
            assert best_yes + best_no < 10_000
            yes_ask = book.yes_ask()
            assert yes_ask is not None and best_yes < yes_ask

    assert book.to_levels() == (sorted(yes.items()), sorted(no.items()))
    for mode in (use_yes_price, not use_yes_price):
        rebuilt = OrderBook(TICKER, GRIDS[grid_name])
        rebuilt.apply_snapshot_msg(_wire_snapshot(yes, no, mode), use_yes_price=mode)
        assert rebuilt == book


# ---------------------------------------------------------------------------------------------
# Integrity: every bad update raises a typed error, leaves the content and marks the book stale


def _hand_book() -> OrderBook:
    # Levels out of order on purpose: the best bid is the highest price, never an array position.
    return _book([(4500, 1000), (4700, 300), (4600, 500)], [(5000, 400), (5200, 200), (5100, 600)])


@pytest.mark.parametrize(
    ("price", "delta", "side", "cause"),
    [
        pytest.param("0.4700", "-3.01", "yes", None, id="negative-level"),
        pytest.param("0.5300", "1.00", "yes", None, id="locked: YES bid at the YES ask"),
        pytest.param("0.5400", "1.00", "yes", None, id="crossed: YES bid above the YES ask"),
        pytest.param("0.5300", "2.00", "no", None, id="crossed: NO bid at the NO ask"),
        pytest.param("0.4750", "1.00", "yes", None, id="off-grid"),
        pytest.param("0.0000", "1.00", "yes", None, id="zero-price"),
        pytest.param("1.0000", "1.00", "no", None, id="price-of-one-dollar"),
        pytest.param("0.4700", "0.00", "yes", None, id="zero-delta"),
        pytest.param("0.4700", "1.00", "maybe", None, id="unknown-side"),
        pytest.param("abc", "1.00", "yes", UnitError, id="non-numeric-price"),
        pytest.param("0.47OO", "1.00", "yes", UnitError, id="letter-O-in-price"),
        pytest.param("0.4700", "1.001", "yes", UnitError, id="count-beyond-2dp"),
        pytest.param("0.4700", "", "yes", UnitError, id="empty-count"),
    ],
)
def test_a_bad_delta_raises_keeps_the_content_and_marks_stale(
    price: str, delta: str, side: str, cause: type[Exception] | None
) -> None:
    book = _book([(4700, 300)], [(4700, 200)], PriceGrid.linear_cent())
    before = book.to_levels()
    with pytest.raises(BookError) as info:
        book.apply_delta_msg(_delta(price, delta, side), use_yes_price=False)
    assert isinstance(info.value, ProtocolError)
    if cause is not None:
        assert isinstance(info.value.__cause__, cause)
    assert book.stale and book.stale_reason
    assert book.to_levels() == before


def test_a_stale_book_skips_deltas_until_a_snapshot() -> None:
    book = _hand_book()
    with pytest.raises(BookError):
        book.apply_delta(side="yes", price=4700, delta=-400, no_in_yes_prices=False)
    assert book.stale and "negative" in book.stale_reason
    book.apply_delta_msg(_delta("0.4700", "1.00", "yes"), use_yes_price=False)
    book.apply_delta(side="yes", price=4700, delta=100, no_in_yes_prices=False)
    assert book.skipped_while_stale == 2
    assert book.yes_bid_size() == 300
    book.apply_snapshot([(4800, 100)], [], no_in_yes_prices=False)
    assert (book.stale, book.stale_reason) == (False, "")
    assert book.to_levels() == ([(4800, 100)], [])


def test_a_new_book_is_stale_until_its_first_snapshot() -> None:
    book = OrderBook(TICKER)
    assert book.stale and book.stale_reason
    book.apply_delta_msg(_delta("0.4700", "1.00", "yes"), use_yes_price=True)
    assert book.to_levels() == ([], [])
    book.apply_snapshot_wire(None, None, no_in_yes_prices=True)
    assert (book.stale, book.stale_reason) == (False, "")
    book.mark_stale("sequence gap")
    assert (book.stale, book.stale_reason) == (True, "sequence gap")


@pytest.mark.parametrize(
    ("yes", "no", "use_yes_price"),
    [
        pytest.param([("0.5000", "1.00")], [("0.5000", "1.00")], False, id="locked"),
        pytest.param([("0.5500", "1.00")], [("0.5000", "1.00")], True, id="crossed-yes-prices"),
        pytest.param([("0.4700", "-1.00")], None, False, id="negative-size"),
        pytest.param([("0.4700", "0.00")], None, False, id="zero-size"),
        pytest.param([("0.4700", "1.00"), ("0.47", "2.00")], None, False, id="repeated-level"),
        pytest.param([("0.4750", "1.00")], None, False, id="off-grid"),
        pytest.param([("x", "1.00")], None, False, id="non-numeric"),
    ],
)
def test_a_bad_snapshot_raises_keeps_the_content_and_marks_stale(
    yes: list[tuple[str, str]], no: list[tuple[str, str]] | None, use_yes_price: bool
) -> None:
    book = _hand_book()
    book.set_grid(PriceGrid.linear_cent())
    before = book.to_levels()
    body = OrderbookSnapshotBody(market_ticker=TICKER, yes_dollars_fp=yes, no_dollars_fp=no)
    with pytest.raises(BookError):
        book.apply_snapshot_msg(body, use_yes_price=use_yes_price)
    assert book.stale
    assert book.to_levels() == before


def test_a_message_for_another_market_is_refused_without_touching_the_book() -> None:
    book = _hand_book()
    with pytest.raises(BookError, match="wrong book"):
        book.apply_delta_msg(_delta("0.4700", "1.00", "yes", ticker="OTHER"), use_yes_price=True)
    with pytest.raises(BookError, match="wrong book"):
        book.apply_snapshot_msg(OrderbookSnapshotBody(market_ticker="OTHER"), use_yes_price=True)
    assert not book.stale and book == _hand_book()


def test_null_and_absent_snapshot_sides_are_empty() -> None:
    frame = (
        b'{"type":"orderbook_snapshot","sid":1,"seq":1,"msg":{"market_ticker":"%s","yes_dollars_fp":null}}'
    )
    msg = decode_frame(frame % TICKER.encode())
    book = _hand_book()
    book.apply_snapshot_msg(msg.msg, use_yes_price=True)
    assert book.to_levels() == ([], [])
    assert (book.yes_ask(), book.no_ask(), book.mid(), book.microprice(), book.imbalance()) == (None,) * 5
    assert (book.yes_bid_size(), book.yes_ask_size()) == (0, 0)


# ---------------------------------------------------------------------------------------------
# Depth and signals on a hand-built book with known answers


def test_top_of_book_and_depth() -> None:
    book = _hand_book()
    assert (book.best_yes_bid(), book.yes_bid_size()) == (4700, 300)
    assert (book.best_no_bid(), book.no_bid_size()) == (5200, 200)
    assert (book.yes_ask(), book.yes_ask_size()) == (4800, 200)
    assert (book.no_ask(), book.no_ask_size()) == (5300, 300)
    assert book.yes_bids() == [(4700, 300), (4600, 500), (4500, 1000)]
    assert book.yes_bids(2) == [(4700, 300), (4600, 500)]
    assert book.yes_bids(0) == []
    assert book.no_bids(1) == [(5200, 200)]
    assert book.yes_asks() == [(4800, 200), (4900, 600), (5000, 400)]
    assert book.no_asks(2) == [(5300, 300), (5400, 500)]
    assert book.to_levels() == (
        [(4500, 1000), (4600, 500), (4700, 300)],
        [(5000, 400), (5100, 600), (5200, 200)],
    )


def test_imbalance_microprice_and_mid() -> None:
    book = _hand_book()
    assert book.imbalance() == pytest.approx(300 / 500)
    assert book.imbalance(2) == pytest.approx(800 / 1600)
    assert book.imbalance(3) == pytest.approx(1800 / 3000)
    assert book.imbalance(10) == book.imbalance(3)
    assert book.mid() == pytest.approx(0.475)
    # The bid (3) is deeper than the ask (2): the microprice leans to the ask, (0.47*2 + 0.48*3) / 5.
    assert book.microprice() == pytest.approx(0.476)
    with pytest.raises(ValueError):
        book.imbalance(0)


def test_a_one_sided_book_has_no_mid_but_a_full_imbalance() -> None:
    book = _book([(9900, 500)], [])
    assert (book.mid(), book.microprice(), book.yes_ask()) == (None, None, None)
    assert book.imbalance() == 1.0
    assert book.no_ask() == 100


def test_deltas_move_the_best_levels_both_ways() -> None:
    book = _hand_book()
    book.apply_delta_msg(_delta("0.4700", "-3.00", "yes"), use_yes_price=True)
    assert (book.best_yes_bid(), book.no_ask()) == (4600, 5400)
    # use_yes_price: a NO-side "0.4750" is a YES ask at 0.475 (this book has no grid, so sub-cent is fine).
    book.apply_delta_msg(_delta("0.4750", "1.50", "no"), use_yes_price=True)
    assert (book.yes_ask(), book.yes_ask_size(), book.best_no_bid()) == (4750, 150, 5250)
    book.apply_delta_msg(_delta("0.4650", "2.00", "yes"), use_yes_price=True)
    assert book.yes_bids(2) == [(4650, 200), (4600, 500)]
    assert book.microprice() == pytest.approx((0.465 * 150 + 0.475 * 200) / 350)


def test_a_grid_change_applies_to_later_updates() -> None:
    book = _book([(4700, 300)], [(4800, 100)], PriceGrid.linear_cent())
    with pytest.raises(BookError):
        book.apply_delta(side="yes", price=4750, delta=100, no_in_yes_prices=False)
    book = _book([(4700, 300)], [(4800, 100)], PriceGrid.linear_cent())
    book.set_grid(GRIDS["deci_cent"])
    book.apply_delta(side="yes", price=4750, delta=100, no_in_yes_prices=False)
    assert book.best_yes_bid() == 4750


def test_books_compare_on_content_only() -> None:
    a, b = _hand_book(), _hand_book()
    b.mark_stale("for the test")
    assert a == b
    b.apply_snapshot([(4700, 300)], [], no_in_yes_prices=False)
    assert a != b
    assert a != "not a book"
