"""The Polymarket L2 book: snapshots, price_change updates and removals, tick tracking, refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from kxbtc.errors import BookError
from kxbtc.polymarket.book import PolyBook
from kxbtc.polymarket.messages import BookEvent, Level, PriceChange, PriceChangeEvent, decode_ws_frame

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "polymarket"
UP = "71321045679252212594626385532706912750332728571942532289631379312455583992563"
DOWN = "52114319501245915516055106046884209969926127482827954674443846427813813222426"


def live_books() -> tuple[PolyBook, PolyBook]:
    up, down = PolyBook(UP), PolyBook(DOWN)
    for event in decode_ws_frame((FIXTURES / "ws_initial_dump.json").read_bytes()).events:
        assert isinstance(event, BookEvent)
        (up if event.asset_id == UP else down).apply_snapshot(event)
    return up, down


def change(
    price: str, size: str, side: str, *, best_bid: str | None = None, best_ask: str | None = None
) -> PriceChange:
    return PriceChange(UP, price, size, side, "h", best_bid, best_ask)


def test_snapshot_takes_best_levels_by_price_not_position() -> None:
    up, down = live_books()
    assert up.is_tradeable() and not up.stale
    assert (up.best_bid(), up.best_bid_size(), up.best_ask(), up.best_ask_size()) == (5000, 1500, 5200, 2500)
    assert (down.best_bid(), down.best_ask(), down.best_ask_size()) == (4700, 5000, 1200)
    assert up.updated_ts_ms == 1_795_791_605_000 and up.hash and up.tick == 100
    assert up.bid_levels() == [(5000, 1500), (4900, 2000), (4800, 3000)]


def test_price_change_sets_the_aggregate_size_and_zero_removes_the_level() -> None:
    up, down = live_books()
    (pc,) = decode_ws_frame((FIXTURES / "ws_price_change.json").read_bytes()).events
    assert isinstance(pc, PriceChangeEvent)
    up.apply_changes([c for c in pc.price_changes if c.asset_id == UP], pc.timestamp)
    down.apply_changes([c for c in pc.price_changes if c.asset_id == DOWN], pc.timestamp)
    assert (up.best_bid(), up.best_bid_size()) == (5100, 20000)  # a new level above the old best
    assert down.best_ask() == 5100 and 5000 not in down.asks  # "0" removed the 0.50 ask
    assert up.updated_ts_ms == 1_795_791_606_250 and not up.stale and not down.stale
    up.apply_change(change("0.49", "7.5", "BUY"))  # replaces, does not add
    assert up.bids[4900] == 750


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (change("1.5", "10", "BUY"), "above \\$1"),
        (change("0.505", "10", "BUY"), "off the tick"),
        (change("0.00005", "10", "BUY"), "finer than 4"),
        (change("0", "10", "SELL"), "outside \\(0, 1\\)"),
        (change("0.50", "1.001", "BUY"), "finer than 2"),
        (change("0.50", "10", "HOLD"), "unknown side"),
    ],
)
def test_bad_changes_are_refused_leave_the_content_and_make_the_book_stale(
    bad: PriceChange, reason: str
) -> None:
    up, _ = live_books()
    before = (dict(up.bids), dict(up.asks))
    with pytest.raises(BookError, match=reason):
        up.apply_change(bad)
    assert (up.bids, up.asks) == before
    assert up.stale and not up.is_tradeable()
    up.apply_change(change("0.45", "1", "BUY"))  # skipped while stale
    assert up.skipped_while_stale == 1 and 4500 not in up.bids


def test_snapshot_repairs_a_stale_book_and_bad_snapshots_are_refused() -> None:
    up, _ = live_books()
    up.mark_stale("disconnected")
    good = BookEvent(UP, bids=[Level("0.3", "1")], asks=[Level("0.7", "2")], timestamp="5")
    up.apply_snapshot(good)
    assert up.is_tradeable() and up.bids == {3000: 100} and up.asks == {7000: 200}
    for bad, reason in [
        (BookEvent(UP, bids=[Level("0.6", "1")], asks=[Level("0.5", "1")]), "crossed"),
        (BookEvent(UP, bids=[Level("0.3", "0")]), "has size 0"),
        (BookEvent(UP, bids=[Level("0.3", "1"), Level(".30", "2")]), "repeats"),
        (BookEvent(UP, asks=[Level("x", "1")]), "bad snapshot"),
    ]:
        with pytest.raises(BookError, match=reason):
            up.apply_snapshot(bad)
        assert up.stale and up.bids == {3000: 100}
    with pytest.raises(BookError, match="wrong book"):
        up.apply_snapshot(BookEvent(DOWN))


def test_tick_size_change_allows_finer_levels_afterwards() -> None:
    up, _ = live_books()
    with pytest.raises(BookError, match="off the tick"):
        up.apply_change(change("0.505", "10", "BUY"))
    up, _ = live_books()
    up.set_tick("0.001")
    up.apply_change(change("0.505", "10", "BUY"))
    assert up.best_bid() == 5050 and up.tick == 10
    with pytest.raises(BookError, match="bad tick size"):
        up.set_tick("2")


def test_a_change_that_disagrees_with_the_venues_best_prices_is_drift() -> None:
    up, _ = live_books()
    up.apply_change(change("0.51", "5", "BUY", best_bid="0.51", best_ask="0.52"))
    assert up.is_tradeable()
    with pytest.raises(BookError, match="drift: venue best ask 5300"):
        up.apply_change(change("0.47", "5", "BUY", best_bid="0.51", best_ask="0.53"))
    assert up.stale and up.stale_reason.startswith("drift")


def test_an_emptied_side_reported_as_zero_or_one_is_not_drift() -> None:
    book = PolyBook(UP)
    book.apply_snapshot(BookEvent(UP, bids=[Level("0.4", "1")], asks=[Level("0.6", "1")]))
    book.apply_change(change("0.6", "0", "SELL", best_bid="0.4", best_ask="1"))
    book.apply_change(change("0.4", "0", "BUY", best_bid="0", best_ask="1"))
    assert book.is_tradeable() and book.best_bid() is None and book.best_ask() is None
