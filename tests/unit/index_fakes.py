"""A spot feed for index tests: a book set by hand, no socket."""

from __future__ import annotations

import asyncio

from kxbtc.clock import Clock
from kxbtc.oracle.feeds.base import SpotFeed
from kxbtc.oracle.feeds.book import BookUpdate, VenueBook


class FixedBookFeed(SpotFeed):
    """A venue whose book is set by the test: one level each side, current as of the clock's now.

    It never connects; ``run`` waits until cancelled, as a live feed would stream until stopped.
    """

    venue = "fixed"
    default_url = "ws://127.0.0.1:9/unused"
    default_symbol = "BTC-USD"

    def __init__(self, clock: Clock, mid: float | None) -> None:
        super().__init__(clock)
        self.mid = mid

    def subscribe_messages(self) -> list[str]:
        return []

    def parse(self, raw: str | bytes) -> list[BookUpdate]:
        return []

    def snapshot(self, depth: int | None = None) -> VenueBook | None:
        if self.mid is None:
            return None
        half = 0.5
        return VenueBook(
            self.venue, ((self.mid - half, 5.0),), ((self.mid + half, 5.0),), self.clock.time_ns()
        )

    async def run(self) -> None:
        await asyncio.Event().wait()
