"""The cross-venue desk's Polymarket windows: the Gamma lookup of each KXBTC15M window's twin in a task of
its own, subscribing its tokens, and retiring ended windows (tokens we hold stay subscribed until the
venue resolves them, or ``RESOLUTION_GRACE_S`` after the end)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Sequence
from typing import Any

from kxbtc.clock import NS_PER_S
from kxbtc.engine.cross_venue_ledger import DeskLedger
from kxbtc.errors import KxbtcError, NotFoundError
from kxbtc.polymarket.gamma import WINDOW_S, GammaClient, UpDownMarket, slug_for_window
from kxbtc.polymarket.venue import PaperPolymarketVenue
from kxbtc.polymarket.ws import PolymarketWsClient
from kxbtc.strategy.base import MarketState
from kxbtc.strategy.cross_venue import KALSHI_15M_SERIES

# The records keep the logger name they had when this code lived in ``kxbtc.engine.cross_venue``.
log = logging.getLogger("kxbtc.engine.cross_venue")

#: Seconds between Gamma lookups of a window whose lookup failed (network, malformed event).
DISCOVERY_RETRY_S = 30.0
#: How long after a window's end held tokens stay subscribed, waiting for ``market_resolved``.
RESOLUTION_GRACE_S = 1_800


def window_start(close_ns: int) -> int:
    """The start (unix s) of the 15-minute window a Kalshi market closing at ``close_ns`` covers."""
    return close_ns // NS_PER_S - WINDOW_S


class DeskWindows(DeskLedger):
    """The window-following side of ``CrossVenueDesk``."""

    # Set by the desk's constructor.
    gamma: GammaClient
    ws: PolymarketWsClient
    windows: dict[int, UpDownMarket | None]
    _discovering: set[int]
    _retry_at: dict[int, int]
    _failed_once: set[int]
    _held_until: dict[str, int]
    _ticker_window: dict[str, int]
    _busy: set[str]
    _stopped: set[str]
    _paired: dict[str, int]
    _tasks: set[asyncio.Task[None]]

    def _follow_windows(self, markets: Sequence[MarketState], now_ns: int) -> None:
        for m in markets:
            if m.contract.series != KALSHI_15M_SERIES:
                continue
            start = window_start(m.contract.close_ns)
            if start in self.windows or start in self._discovering or self._retry_at.get(start, 0) > now_ns:
                continue
            self._discovering.add(start)
            self._spawn(self._discover(start), f"Polymarket discovery of {slug_for_window(start)}")
        self._retire(now_ns)

    async def _discover(self, start: int) -> None:
        slug = slug_for_window(start)
        try:
            market = await self.gamma.updown_15m(start)
        except NotFoundError:
            self._missing(start, f"Polymarket lists no {slug}: the window is not paired")
            return
        except KxbtcError as exc:
            self._retry_at[start] = self.clock.time_ns() + int(DISCOVERY_RETRY_S * NS_PER_S)
            log.warning("Polymarket discovery of %s failed: %s", slug, exc)
            if start not in self._failed_once:
                self._failed_once.add(start)
                self._note("poly_discovery_failed", "warning", f"{slug}: {type(exc).__name__}: {exc}")
            return
        finally:
            self._discovering.discard(start)
        if market.closed:
            self._missing(start, f"Polymarket's {slug} is closed: the window is not paired")
            return
        if market.end_s * NS_PER_S <= self.clock.time_ns():
            return  # the window ended while we looked it up
        self.windows[start] = market
        self._counters.found.add(start)
        if isinstance(self.venue, PaperPolymarketVenue):
            for token in market.tokens:
                self.venue.fee_rates[token] = market.fee_rate
        log.info(
            "cross-venue: %s found (Up %s..., Down %s...)", slug, market.up_token[:12], market.down_token[:12]
        )
        await self.ws.subscribe(market.tokens)

    def _missing(self, start: int, detail: str) -> None:
        self.windows[start] = None
        self._counters.missing.add(start)
        self._note("poly_market_missing", "info", detail)

    def _retire(self, now_ns: int) -> None:
        """Forget ended windows; unsubscribe their tokens, except those we hold (until resolved)."""
        drop: list[str] = []
        for start in [s for s in self.windows if (s + WINDOW_S) * NS_PER_S <= now_ns]:
            market = self.windows.pop(start)
            self._retry_at.pop(start, None)
            self._failed_once.discard(start)
            for ticker in [t for t, s in self._ticker_window.items() if s == start]:
                self._ticker_window.pop(ticker)
                for state in (self._busy, self._stopped):
                    state.discard(ticker)
                self._paired.pop(ticker, None)
            if market is None:
                continue
            for token in market.tokens:
                held = self.positions.get(token)
                if held is not None and held.won is None:
                    self._held_until[token] = (market.end_s + RESOLUTION_GRACE_S) * NS_PER_S
                else:
                    drop.append(token)
        for token, until in list(self._held_until.items()):
            position = self.positions.get(token)
            if until <= now_ns or (position is not None and position.won is not None):
                self._held_until.pop(token)
                drop.append(token)
        if drop:
            self._spawn(self.ws.unsubscribe(drop), "Polymarket unsubscribe")

    def _spawn(self, work: Coroutine[Any, Any, None], what: str) -> None:
        async def guarded() -> None:
            try:
                await work
            except KxbtcError as exc:
                log.error("%s failed: %s", what, exc)
                self._note("engine_error", "warning", f"{what}: {exc}")

        task = asyncio.ensure_future(guarded())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
