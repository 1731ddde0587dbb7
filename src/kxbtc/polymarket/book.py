"""The L2 book of one Polymarket outcome token (bids and asks in integer Price / Count).

Unlike Kalshi, a Polymarket token has a real two-sided book: bids (BUY) and asks (SELL) on the same token.
``book`` events (and the REST ``/book``) replace it whole; a ``price_change`` item sets one level to its
new aggregate size, and size 0 removes the level (docs §5, errata Part 4 §5.5). Level order on the wire is
not reliable (errata Part 4 §4.2), so the best bid is always the maximum and the best ask the minimum.

Checks before any mutation: prices strictly inside (0, 1) for resting levels and on the 1e-4 grid, sizes
non-negative and on the 1e-2 grid, a new (non-zero) level on the current tick, a known side, the right
asset. A refused message raises ``BookError``, leaves the content unchanged, and marks the book stale
until the next snapshot. Each ``price_change`` item also carries the venue's best bid/ask after the
change; when ours disagrees a message was lost, and the book goes stale (``drift``).

Stale also means: no snapshot yet, disconnected, or a crossed book. ``is_tradeable`` says whether a
strategy may use it now.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NoReturn

from kxbtc.errors import BookError
from kxbtc.polymarket.messages import (
    BookEvent,
    ClobBook,
    Level,
    PolyValueError,
    PriceChange,
    parse_poly_price,
    parse_poly_size,
    parse_timestamp_ms,
)
from kxbtc.units import PRICE_SCALE, Count, Price

__all__ = ["DEFAULT_TICK", "PolyBook"]

#: BTC up/down markets trade on a 0.01 tick (errata Part 4 §4.1) unless the book says otherwise.
DEFAULT_TICK = Price(100)
_NO_SNAPSHOT = "no snapshot yet"
BUY, SELL = "BUY", "SELL"


class PolyBook:
    __slots__ = (
        "asks",
        "asset_id",
        "bids",
        "hash",
        "market",
        "min_order_size",
        "skipped_while_stale",
        "stale",
        "stale_reason",
        "tick",
        "updated_ts_ms",
    )

    def __init__(self, asset_id: str, tick: Price = DEFAULT_TICK) -> None:
        self.asset_id = asset_id
        self.market = ""
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.tick = tick
        self.min_order_size: Count | None = None
        self.hash: str | None = None
        #: Venue time (ms) of the last message applied: the staleness clock.
        self.updated_ts_ms: int | None = None
        self.stale = True
        self.stale_reason = _NO_SNAPSHOT
        self.skipped_while_stale = 0

    # -----------------------------------------------------------------------------------------
    # Updates

    def mark_stale(self, reason: str) -> None:
        self.stale = True
        self.stale_reason = reason

    def apply_snapshot(self, msg: BookEvent | ClobBook) -> None:
        """Replace the book from a WS ``book`` event or a REST ``/book`` answer."""
        if msg.asset_id != self.asset_id:
            raise BookError(f"{self.asset_id}: book for {msg.asset_id!r} applied to the wrong book")
        try:
            tick = self.tick if not msg.tick_size else self._tick_of(msg.tick_size)
            bids = self._levels("bid", msg.bids)
            asks = self._levels("ask", msg.asks)
            ts_ms = parse_timestamp_ms(msg.timestamp)
            min_size = parse_poly_size(msg.min_order_size, "min_order_size") if msg.min_order_size else None
        except PolyValueError as exc:
            self._fail(f"bad snapshot: {exc}", exc)
        if bids and asks and max(bids) >= min(asks):
            self._fail(f"snapshot is crossed: bid {max(bids)} >= ask {min(asks)}")
        self.bids, self.asks, self.tick = bids, asks, tick
        self.market = msg.market or self.market
        self.hash = msg.hash
        self.updated_ts_ms = ts_ms
        if min_size is not None:
            self.min_order_size = min_size
        self.stale = False
        self.stale_reason = ""

    def apply_change(self, change: PriceChange, timestamp: str | None = None) -> None:
        """Apply one ``price_change`` item: the level's new aggregate size (0 removes it)."""
        self.apply_changes([change], timestamp)

    def apply_changes(self, changes: list[PriceChange], timestamp: str | None = None) -> None:
        """Apply one message's items for this token, then compare with the venue's best bid/ask."""
        if not changes:
            return
        for change in changes:
            if change.asset_id != self.asset_id:
                raise BookError(f"{self.asset_id}: change for {change.asset_id!r} applied to the wrong book")
        if self.stale:
            self.skipped_while_stale += len(changes)
            return
        try:
            ts_ms = parse_timestamp_ms(timestamp)
            parsed = [
                (
                    change.side,
                    parse_poly_price(change.price, "price_change.price"),
                    parse_poly_size(change.size, "price_change.size"),
                )
                for change in changes
            ]
        except PolyValueError as exc:
            self._fail(f"bad price_change: {exc}", exc)
        for side, price, size in parsed:
            name = "bid" if side == BUY else "ask" if side == SELL else self._fail(f"unknown side {side!r}")
            if not 0 < price < PRICE_SCALE:
                self._fail(f"{name} price {price} is outside (0, 1)")
            if size and price % self.tick:
                self._fail(f"{name} price {price} is off the tick {self.tick}")
        for side, price, size in parsed:
            levels = self.bids if side == BUY else self.asks
            if size:
                levels[price] = size
            else:
                levels.pop(price, None)
        self.hash = changes[-1].hash or self.hash
        if ts_ms is not None:
            self.updated_ts_ms = ts_ms
        self._check_against_venue(changes[-1])

    def set_tick(self, tick_size: str) -> None:
        """``tick_size_change``: later new levels must sit on the new tick; resting ones are kept."""
        try:
            self.tick = self._tick_of(tick_size)
        except PolyValueError as exc:
            self._fail(f"bad tick size: {exc}", exc)

    # -----------------------------------------------------------------------------------------
    # Reading

    def best_bid(self) -> Price | None:
        return Price(max(self.bids)) if self.bids else None

    def best_ask(self) -> Price | None:
        return Price(min(self.asks)) if self.asks else None

    def best_bid_size(self) -> Count:
        return Count(self.bids[max(self.bids)]) if self.bids else Count(0)

    def best_ask_size(self) -> Count:
        return Count(self.asks[min(self.asks)]) if self.asks else Count(0)

    def crossed(self) -> bool:
        return bool(self.bids and self.asks and max(self.bids) >= min(self.asks))

    def is_tradeable(self) -> bool:
        return not self.stale and not self.crossed()

    def age_ms(self, now_ms: int) -> int | None:
        return None if self.updated_ts_ms is None else now_ms - self.updated_ts_ms

    def bid_levels(self) -> list[tuple[int, int]]:
        """Bids, best (highest) first."""
        return sorted(self.bids.items(), reverse=True)

    def ask_levels(self) -> list[tuple[int, int]]:
        """Asks, best (lowest) first."""
        return sorted(self.asks.items())

    def __repr__(self) -> str:
        state = f"stale: {self.stale_reason}" if self.stale else "live"
        return (
            f"PolyBook({self.asset_id[:12]}..., {state}, bid={self.best_bid()}x{self.best_bid_size()}, "
            f"ask={self.best_ask()}x{self.best_ask_size()})"
        )

    # -----------------------------------------------------------------------------------------

    @staticmethod
    def _tick_of(text: str) -> Price:
        tick = parse_poly_price(text, "tick_size")
        if not 0 < tick < PRICE_SCALE:
            raise PolyValueError("tick_size", text, "must be inside (0, 1)")
        return tick

    def _levels(self, name: str, levels: Iterable[Level]) -> dict[int, int]:
        out: dict[int, int] = {}
        for level in levels:
            price = parse_poly_price(level.price, f"{name}.price")
            size = parse_poly_size(level.size, f"{name}.size")
            if not 0 < price < PRICE_SCALE:
                self._fail(f"snapshot {name} price {price} is outside (0, 1)")
            if size <= 0:
                self._fail(f"snapshot {name} level {price} has size {size}")
            if price in out:
                self._fail(f"snapshot repeats {name} level {price}")
            out[price] = size
        return out

    def _check_against_venue(self, change: PriceChange) -> None:
        """The item's best bid/ask is the venue's state after it: ours must agree."""
        for name, reported, ours in (
            ("bid", change.best_bid, self.best_bid()),
            ("ask", change.best_ask, self.best_ask()),
        ):
            if not reported:
                continue
            try:
                theirs = parse_poly_price(reported, f"best_{name}")
            except PolyValueError:
                continue  # a garbled hint is not evidence of a lost message
            # An empty side is reported as 0 (bids) or 1 (asks).
            empty_mark = 0 if name == "bid" else PRICE_SCALE
            if (ours is None and theirs != empty_mark) or (ours is not None and ours != theirs):
                self._fail(f"drift: venue best {name} {theirs}, ours {ours}")

    def _fail(self, reason: str, cause: Exception | None = None) -> NoReturn:
        self.mark_stale(reason)
        raise BookError(f"{self.asset_id}: {reason}") from cause
