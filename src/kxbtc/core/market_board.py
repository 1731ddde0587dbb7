"""The live markets as the operator sees them: each followed market's book, the model's fair value, the
settlement window as it forms and the index's health, written to the store's ``market_state`` table.

It runs on the core's timer, at most once per ``every_s`` seconds of the engine's clock, never on the
book path: one batch of upserts per publication, through the writer thread. The dashboard's markets
view reads the table (``kxbtc.store.live_view``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from kxbtc.clock import NS_PER_S, Clock, SystemClock
from kxbtc.domain.instrument import Instrument
from kxbtc.store.live_view import MarketStateRecord
from kxbtc.store.writes import StoreWrites
from kxbtc.strategy.base import model_probability
from kxbtc.units import PRICE_SCALE

if TYPE_CHECKING:
    from kxbtc.core.trading_core import TradingCore

#: Levels of each side of the book kept per market.
DEPTH = 5
#: The fair value shown uses the fair-value strategy's tails (Student-t, 6 degrees of freedom).
TAIL_DF = 6.0


class MarketBoard:
    def __init__(
        self,
        core: TradingCore,
        store: StoreWrites,
        *,
        engine_id: str,
        every_s: float = 1.0,
        feeds: Callable[[], dict[str, str]] | None = None,
        min_wall_s: float = 0.0,
        wall_clock: Clock | None = None,
    ) -> None:
        self.core = core
        self.store = store
        self.engine_id = engine_id
        self.every_ns = int(every_s * NS_PER_S)
        self._feeds = feeds
        self._last_ns: int | None = None
        #: A simulated clock far faster than the wall's (the demo) would publish hundreds of times per
        #: real second for a page that reads once a second: at most one publication per ``min_wall_s``.
        self._min_wall_s = min_wall_s
        self._wall = wall_clock or SystemClock()
        self._last_wall = -math.inf
        self.publications = 0

    def maybe_publish(self, now_ns: int) -> None:
        """Publish when ``every_s`` has passed since the last publication (the core's timer calls this)."""
        if self._last_ns is None or now_ns - self._last_ns >= self.every_ns:
            if self._min_wall_s <= 0:
                self.publish(now_ns)
            elif (wall := self._wall.monotonic()) - self._last_wall >= self._min_wall_s:
                self._last_wall = wall
                self.publish(now_ns)

    def publish(self, now_ns: int) -> None:
        self._last_ns = now_ns
        self.publications += 1
        feeds = self._feeds() if self._feeds is not None else {}
        states = [self.state_of(instrument, now_ns, feeds) for instrument in self.core.instruments.values()]
        self.store.publish_market_states(self.engine_id, states)

    def state_of(self, instrument: Instrument, now_ns: int, feeds: dict[str, str]) -> MarketStateRecord:
        core, ticker = self.core, instrument.ticker
        index = core.index
        window_sum, window_count = index.observed(instrument.close_ns)
        book = core.books.get(ticker)
        fair = None
        if book is not None and instrument.is_open_at(now_ns):
            p = model_probability(instrument, index.view(now_ns, [instrument.close_ns]), now_ns, 0.0, TAIL_DF)
            fair = None if p is None else round(p * PRICE_SCALE)
        if book is None:
            book_state, note = "no book", "no snapshot yet"
        elif book.stale:
            book_state, note = "stale", book.stale_reason
        elif book.crossed:
            book_state, note = "crossed", "crossed for a moment (awaiting the removals)"
        else:
            book_state, note = "ok", ""
        return MarketStateRecord(
            ticker=ticker,
            series=instrument.series,
            title=instrument.title,
            strike_type=instrument.strike_type,
            floor_strike=instrument.floor_strike,
            cap_strike=instrument.cap_strike,
            open_ns=instrument.open_ns,
            close_ns=instrument.close_ns,
            ts_ns=now_ns,
            yes_bids=book.yes_bids(DEPTH) if book is not None else [],
            yes_asks=book.yes_asks(DEPTH) if book is not None else [],
            fair_yes=fair,
            window_count=window_count,
            window_sum_cents=round(window_sum * 100),
            index_cents=None if index.spot is None else round(index.spot * 100),
            index_source=core.index_source,
            index_ts_ns=index.last_ts_ns,
            index_stale=index.is_stale(now_ns),
            book_state=book_state,
            book_note=note,
            position=int(core.portfolio.position(ticker)),
            feeds=feeds,
        )
