"""The live markets the demo publishes for the dashboard: about once a second of its clock (not per
book update), every followed market with its book, fair value and settlement window, and a settled
market's row gone once the engine stops following it (after its settlement)."""

from __future__ import annotations

from pathlib import Path

from kxbtc.clock import NS_PER_S, ManualClock
from kxbtc.config import Config
from kxbtc.session.runner import DEFAULT_START_NS, SimSession
from kxbtc.store.db import SqliteStore
from kxbtc.store.live_view import read_market_states

START = DEFAULT_START_NS + 14 * 60 * NS_PER_S  # 12:14:00, a minute before the 15-minute market closes


def test_markets_are_published_once_a_second_and_a_settled_one_is_dropped(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "kxbtc.db")
    session = SimSession(
        Config(strategies={}), store=store, seed=2, start_ns=START, operator_view=True,
        wall_clock=ManualClock(),
    )  # fmt: skip
    assert session.view is not None
    board = session.view.board

    session.run_until(START + 50 * NS_PER_S)
    store.flush()
    assert 49 <= board.publications <= 51  # one per second of the session's clock
    assert session.counts.market_events > 5 * board.publications  # not on every book update
    (before,) = read_market_states(store._reader)
    assert before.ticker.startswith("KXBTC15M") and before.book_state == "ok"
    assert before.yes_bids and before.yes_asks and before.fair_yes is not None
    assert 0 < before.window_count <= 60 and before.index_source == "simulator"

    # 12:15:01.5: closed at 12:15:00, its settlement (at 12:15:01) not yet across the network when the
    # board last published
    session.run_until(START + 61 * NS_PER_S + NS_PER_S // 2)
    store.flush()
    closed = {s.ticker: s for s in read_market_states(store._reader)}[before.ticker]
    assert closed.window_count == 60 and closed.fair_yes is None  # the whole window, nothing to price
    assert len(read_market_states(store._reader)) == 2  # and the next 15-minute market

    session.run_until(START + 122 * NS_PER_S)  # settled: the session forgets it, traded or not
    session.finish()
    store.flush()
    left = [s.ticker for s in read_market_states(store._reader)]
    assert len(left) == 1 and before.ticker not in left
    store.close()
