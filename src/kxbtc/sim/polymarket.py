"""The simulated Polymarket venue (``PolySim``), driven by the Kalshi simulator's ``Exchange``.

Same clock and same index path as the exchange: for every KXBTC15M window the exchange lists, the venue
lists ``btc-updown-15m-<window start>`` at the same moment (one market, outcomes Up/Down, see
``poly_windows``). Each token has a seeded maker (``poly_books.TokenMaker``) that requotes once per
simulated second around the token's own fair value (P(Up) for Up, 1 - P(Up) for Down). At the window's
end the books are emptied; ``resolution_delay_s`` later the window resolves on the simulated index (Up iff
the value at the end >= the value at the start) and a ``WindowResolved`` event is published.

Time: ``step()`` brings the venue up to the clock one simulated second at a time, after stepping the
exchange (so its listings are current). The books at second ``s`` depend only on the seed, the index
path and the listings, never on how often ``step`` was called: same seed and same clock, same books.

Events (``BookChanged``, ``WindowResolved``) go synchronously to the listeners added with
``add_listener``; the server turns them into WebSocket frames.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

from kxbtc.clock import NS_PER_S, Clock
from kxbtc.domain.updown import DOWN, UP, WINDOW_S
from kxbtc.sim.exchange import Exchange
from kxbtc.sim.poly_books import BUY, LevelUpdate, SimBook, TokenMaker
from kxbtc.sim.poly_config import PolySimConfig
from kxbtc.sim.poly_windows import CLOSED, OPEN, RESOLVED, PolyWindow, up_probability, up_wins
from kxbtc.units import PRICE_SCALE

__all__ = ["BookChanged", "PolyEvent", "PolySim", "PolySimConfig", "WindowResolved"]

log = logging.getLogger(__name__)

KALSHI_15M_SERIES = "KXBTC15M"


@dataclass(frozen=True, slots=True)
class BookChanged:
    """Level changes of one window's tokens at one moment (one ``price_change`` message)."""

    window: PolyWindow
    ts_ms: int
    updates: tuple[LevelUpdate, ...]


@dataclass(frozen=True, slots=True)
class WindowResolved:
    window: PolyWindow
    ts_ms: int


PolyEvent = BookChanged | WindowResolved
Listener = Callable[[PolyEvent], None]


class PolySim:
    def __init__(self, exchange: Exchange, config: PolySimConfig | None = None, *, seed: int = 0) -> None:
        self.exchange = exchange
        self.clock: Clock = exchange.clock
        self.config = config or PolySimConfig()
        self.seed = seed
        self._rng = random.Random(f"kxbtc-polysim:{seed}")
        self.windows: dict[int, PolyWindow] = {}  # by window start (unix s)
        self._by_slug: dict[str, PolyWindow] = {}
        self._by_token: dict[str, PolyWindow] = {}
        self.books: dict[str, SimBook] = {}
        self._makers: dict[str, TokenMaker] = {}
        self._quoted_s: dict[str, int] = {}  # token -> second of its last requote
        self._seen_tickers: set[str] = set()
        self._listeners: list[Listener] = []
        self._last_s = self.clock.time_ns() // NS_PER_S - 1
        self.step()

    # -- reading --------------------------------------------------------------------------------------

    def window_by_slug(self, slug: str) -> PolyWindow | None:
        return self._by_slug.get(slug)

    def window_of_token(self, token: str) -> PolyWindow | None:
        return self._by_token.get(token)

    def book(self, token: str) -> SimBook | None:
        return self.books.get(token)

    def maker_value(self, token: str) -> float | None:
        """The maker's current value of the token (its fair value plus its bias), for tests and tools."""
        maker = self._makers.get(token)
        return None if maker is None else maker.value

    @property
    def now_ms(self) -> int:
        return self.clock.time_ns() // 1_000_000

    # -- taking liquidity (order entry) -------------------------------------------------------------

    def take(self, token: str, side: str, limit: Fraction, count: int) -> list[tuple[int, int]] | None:
        """Fill ``count`` shares of ``token`` at ``limit`` ($ per share) or better, all or nothing.

        BUY takes asks at or below the limit, SELL bids at or above it, best first. The fills as
        (price, count) pairs, or None (nothing taken) when the levels cannot fill it all. Taken levels
        leave the book and the change is published like any other, so the stream shows it.
        """
        self.step()
        window = self._by_token.get(token)
        book = self.books.get(token)
        if window is None or book is None or window.status != OPEN:
            return None
        buying = side == BUY
        levels = book.asks if buying else book.bids
        prices = sorted(levels, reverse=not buying)
        usable = [
            p
            for p in prices
            if (Fraction(p, PRICE_SCALE) <= limit if buying else Fraction(p, PRICE_SCALE) >= limit)
        ]
        if sum(levels[p] for p in usable) < count:
            return None
        fills: list[tuple[int, int]] = []
        left = count
        remaining = dict(levels)
        for price in usable:
            take = min(left, remaining[price])
            fills.append((price, take))
            remaining[price] -= take
            if not remaining[price]:
                del remaining[price]
            left -= take
            if not left:
                break
        updates = book.replace(book.bids, remaining) if buying else book.replace(remaining, book.asks)
        if updates:
            self._publish(BookChanged(window, self.now_ms, tuple(updates)))
        return fills

    # -- listeners ------------------------------------------------------------------------------------

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _publish(self, event: PolyEvent) -> None:
        for listener in list(self._listeners):
            listener(event)

    # -- time -----------------------------------------------------------------------------------------

    def step(self, now_ns: int | None = None) -> None:
        """Bring the venue (and the exchange first) up to ``now_ns`` (default: the clock)."""
        now = self.clock.time_ns() if now_ns is None else now_ns
        self.exchange.step(now)
        self._list_new_windows()
        now_s = now // NS_PER_S
        while self._last_s < now_s:
            self._last_s += 1
            self._second(self._last_s)

    async def run(self, interval_s: float = 0.1) -> None:
        """Step on the clock until cancelled."""
        while True:
            try:
                self.step()
            except Exception:  # the loop must survive one bad step; the error is logged with its type
                log.exception("simulated Polymarket step failed")
            await self.clock.sleep(interval_s)

    def _list_new_windows(self) -> None:
        for market in list(self.exchange.markets.values()):
            if market.series_ticker != KALSHI_15M_SERIES or market.ticker in self._seen_tickers:
                continue
            self._seen_tickers.add(market.ticker)
            start_s = market.close_ns // NS_PER_S - WINDOW_S
            if start_s in self.windows:
                continue
            window = PolyWindow.for_start(start_s, market.created_ns // NS_PER_S)
            self.windows[start_s] = window
            self._by_slug[window.slug] = window
            for token in window.tokens:
                self._by_token[token] = window
                self.books[token] = SimBook(token, window.condition_id)

    def _second(self, s: int) -> None:
        for start in sorted(self.windows):
            window = self.windows[start]
            if window.listed_s > s:
                continue
            if window.status == OPEN:
                if s < window.end_s:
                    self._quote(window, s)
                else:
                    self._close(window, s)
            if window.status == CLOSED and s >= window.end_s + self.config.resolution_delay_s:
                self._resolve(window, s)
            resolved_s = window.resolved_s
            if resolved_s is not None and s - resolved_s > self.config.retain_resolved_s:
                self._forget(window)

    # -- makers, close and resolution -----------------------------------------------------------------

    def _quote(self, window: PolyWindow, s: int) -> None:
        index = self.exchange.index_value
        start_cents = index(window.start_s) if s >= window.start_s else None
        fair_up = up_probability(
            s, window.start_s, window.end_s, index(s), start_cents, self.exchange.prices.annual_vol
        )
        updates: list[LevelUpdate] = []
        for token, fair in ((window.up_token, fair_up), (window.down_token, 1.0 - fair_up)):
            maker = self._makers.get(token)
            if maker is None:
                maker = self._makers[token] = TokenMaker(self.config, self._rng)
            last = self._quoted_s.get(token)
            self._quoted_s[token] = s
            book = self.books[token]
            bids, asks = maker.quote(fair, 0.0 if last is None else float(s - last), book)
            updates += book.replace(bids, asks)
        if updates:
            self._publish(BookChanged(window, s * 1000, tuple(updates)))

    def _close(self, window: PolyWindow, s: int) -> None:
        window.status = CLOSED
        updates = [u for token in window.tokens for u in self.books[token].clear()]
        for token in window.tokens:
            self._makers.pop(token, None)
            self._quoted_s.pop(token, None)
        if updates:
            self._publish(BookChanged(window, s * 1000, tuple(updates)))

    def _resolve(self, window: PolyWindow, s: int) -> None:
        index = self.exchange.index_value
        window.winner = UP if up_wins(index(window.start_s), index(window.end_s)) else DOWN
        window.status = RESOLVED
        window.resolved_s = s
        self._publish(WindowResolved(window, s * 1000))

    def _forget(self, window: PolyWindow) -> None:
        self.windows.pop(window.start_s, None)
        self._by_slug.pop(window.slug, None)
        for token in window.tokens:
            self._by_token.pop(token, None)
            self.books.pop(token, None)
