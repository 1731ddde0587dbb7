"""The L2 order book of one Kalshi market, kept from WebSocket snapshots and deltas.

Kalshi books hold only bids: YES bids and NO bids. A NO bid at q is a YES ask at 1 - q. Storage is
canonical: YES bids in YES-leg prices and NO bids in NO-leg prices. The wire's NO-side price scale
depends on ``use_yes_price`` (errata item 1: with it, NO levels arrive already in YES-leg prices), and
``_no_leg`` is the one place that converts it.

Each side is a dict price -> size plus an ascending list of its prices: a size change touches only
the dict, a new or emptied level also does one bisect on the list, and the best bid is the list's last
element, so nothing is ever rescanned.

On any rejected update (negative level, zero delta, price outside (0, 1) or off the grid, crossed or
locked book, bad wire string, unknown side) the book raises ``BookError``, keeps its previous content
(every check runs before the first mutation) and is marked stale: it no longer matches the exchange
and must be rebuilt from a fresh snapshot. Deltas that arrive while the book is stale are skipped and
counted (``skipped_while_stale``); only a snapshot clears the flag. Readers must check ``stale``.
A bad wire string raises ``BookError`` too, with the ``UnitError`` as its cause. The one refusal that
leaves the book live is a message for another market: a routing bug upstream, not a gap in this book.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable
from typing import NoReturn, Protocol

from kxbtc.errors import BookError
from kxbtc.units import (
    PRICE_SCALE,
    PriceGrid,
    UnitError,
    format_count,
    format_price,
    parse_count,
    parse_price,
)

__all__ = ["OrderBook"]

#: A level as a venue writes it: (price, size) as decimal strings.
WireLevel = tuple[str, str]


class SnapshotBody(Protocol):
    """The fields of a venue's book snapshot the book reads (Kalshi's ``orderbook_snapshot``): declared
    here so the book depends on no venue package; the Kalshi adapter's messages satisfy it."""

    @property
    def market_ticker(self) -> str: ...
    @property
    def yes_dollars_fp(self) -> list[WireLevel] | None: ...
    @property
    def no_dollars_fp(self) -> list[WireLevel] | None: ...


class DeltaBody(Protocol):
    """The fields of a venue's book delta the book reads (Kalshi's ``orderbook_delta``)."""

    @property
    def market_ticker(self) -> str: ...
    @property
    def price_dollars(self) -> str: ...
    @property
    def delta_fp(self) -> str: ...
    @property
    def side(self) -> str: ...
    @property
    def ts_ms(self) -> int | None: ...


_ONE = PRICE_SCALE
_NO_SNAPSHOT = "no snapshot yet"
#: Valid prices without a grid: strictly inside (0, 1). One set lookup checks range and grid at once.
_ANY_PRICE = frozenset(range(1, PRICE_SCALE))


def _no_leg(wire_price: int, no_in_yes_prices: bool) -> int:
    """A NO-side wire price in NO-leg terms. With ``use_yes_price`` the wire already sends the YES ask."""
    return _ONE - wire_price if no_in_yes_prices else wire_price


# Wire strings repeat endlessly (a market has at most 9,999 prices and sizes cluster), so each distinct
# string is parsed strictly once and then looked up: a dict hit costs a fraction of a parse. Only valid
# strings are stored, and a full cache is simply emptied, which bounds memory on odd input.
_CACHE_LIMIT = 1 << 16
_price_cache: dict[str, int] = {}
_count_cache: dict[str, int] = {}


def _wire_price(text: str) -> int:
    value = _price_cache.get(text)
    if value is None:
        value = parse_price(text, "price_dollars")
        if len(_price_cache) >= _CACHE_LIMIT:
            _price_cache.clear()
        _price_cache[text] = value
    return value


def _wire_count(text: str) -> int:
    value = _count_cache.get(text)
    if value is None:
        value = parse_count(text, "delta_fp")
        if len(_count_cache) >= _CACHE_LIMIT:
            _count_cache.clear()
        _count_cache[text] = value
    return value


class OrderBook:
    """Bids on both sides of one market; asks are implied from the other side's bids."""

    __slots__ = (
        "_no",
        "_no_px",
        "_valid_no",
        "_valid_yes",
        "_yes",
        "_yes_px",
        "grid",
        "last_seq",
        "skipped_while_stale",
        "stale",
        "stale_reason",
        "ticker",
        "tolerate_cross",
        "updated_ts_ms",
    )

    def __init__(self, ticker: str, grid: PriceGrid | None = None, *, tolerate_cross: bool = False) -> None:
        self.ticker = ticker
        #: Kalshi publishes a crossing order's add before the removals of the levels it takes, within one
        #: exchange millisecond (shared/data/kalshi_l2_2026-05: 300 such episodes, every one cleared by the
        #: next deltas). With ``tolerate_cross`` such a delta is applied and the book reads as ``crossed``
        #: until the removals arrive; without it the delta is refused and the book goes stale.
        self.tolerate_cross = tolerate_cross
        self.stale = True
        self.stale_reason = _NO_SNAPSHOT
        #: ``seq`` of the last frame applied, when the caller passes it (gap detection is per sid, upstream).
        self.last_seq: int | None = None
        #: Exchange time (``ts_ms``) of the last delta applied, or of the snapshot when given.
        self.updated_ts_ms: int | None = None
        self.skipped_while_stale = 0
        self._yes: dict[int, int] = {}
        self._no: dict[int, int] = {}
        self._yes_px: list[int] = []
        self._no_px: list[int] = []
        self.grid: PriceGrid | None = None
        self._valid_yes = self._valid_no = _ANY_PRICE
        self.set_grid(grid)

    # -----------------------------------------------------------------------------------------
    # Updates

    def set_grid(self, grid: PriceGrid | None) -> None:
        """Change the price grid (``price_level_structure_updated``). Resting levels are kept as they are."""
        self.grid = grid
        if grid is None:
            self._valid_yes = self._valid_no = _ANY_PRICE
        else:
            ticks = grid.ticks()
            self._valid_yes = frozenset(ticks)
            self._valid_no = frozenset(_ONE - p for p in ticks)

    def mark_stale(self, reason: str) -> None:
        self.stale = True
        self.stale_reason = reason

    def apply_snapshot(
        self,
        yes: Iterable[tuple[int, int]],
        no: Iterable[tuple[int, int]],
        *,
        no_in_yes_prices: bool,
        seq: int | None = None,
        ts_ms: int | None = None,
    ) -> None:
        """Replace the whole book. ``no`` is in YES-leg prices when ``no_in_yes_prices``, else NO-leg."""
        yes_sizes = self._checked_side("yes", yes, self._valid_yes)
        no_sizes = self._checked_side(
            "no", ((_no_leg(p, no_in_yes_prices), s) for p, s in no), self._valid_no
        )
        yes_px, no_px = sorted(yes_sizes), sorted(no_sizes)
        if yes_px and no_px and yes_px[-1] + no_px[-1] >= _ONE:
            self._fail(f"snapshot is crossed: YES bid {yes_px[-1]} + NO bid {no_px[-1]} >= {_ONE}")
        self._yes, self._no, self._yes_px, self._no_px = yes_sizes, no_sizes, yes_px, no_px
        self.stale = False
        self.stale_reason = ""
        self.last_seq = seq
        self.updated_ts_ms = ts_ms

    def apply_snapshot_wire(
        self,
        yes: Iterable[WireLevel] | None,
        no: Iterable[WireLevel] | None,
        *,
        no_in_yes_prices: bool,
        seq: int | None = None,
        ts_ms: int | None = None,
    ) -> None:
        """Replace the book from wire levels ``[["0.4700", "3.00"], ...]``; a side may be None (empty).

        Also serves REST books (``orderbook_fp.yes_dollars``/``no_dollars``): pass ``no_in_yes_prices=False``.
        """
        try:
            yes_levels = [(parse_price(p, "yes price"), parse_count(s, "yes size")) for p, s in yes or ()]
            no_levels = [(parse_price(p, "no price"), parse_count(s, "no size")) for p, s in no or ()]
        except (UnitError, ValueError, TypeError) as exc:
            self._fail(f"bad snapshot level: {exc}", exc)
        self.apply_snapshot(yes_levels, no_levels, no_in_yes_prices=no_in_yes_prices, seq=seq, ts_ms=ts_ms)

    def apply_snapshot_msg(self, body: SnapshotBody, *, use_yes_price: bool, seq: int | None = None) -> None:
        self._check_ticker(body.market_ticker)
        self.apply_snapshot_wire(
            body.yes_dollars_fp, body.no_dollars_fp, no_in_yes_prices=use_yes_price, seq=seq
        )

    def apply_delta(self, side: str, price: int, delta: int, *, no_in_yes_prices: bool) -> None:
        """Add ``delta`` (signed, Count) to the ``side`` bid level at wire ``price``; 0 removes the level."""
        if self.stale:
            self.skipped_while_stale += 1
            return
        self._apply(side, price, delta, no_in_yes_prices)

    def apply_delta_msg(self, body: DeltaBody, *, use_yes_price: bool, seq: int | None = None) -> None:
        if self.stale:
            self.skipped_while_stale += 1
            return
        if body.market_ticker != self.ticker:
            self._check_ticker(body.market_ticker)
        # The cache lookups are inlined: a call costs as much as the lookup itself.
        price = _price_cache.get(body.price_dollars)
        delta = _count_cache.get(body.delta_fp)
        if price is None or delta is None:
            try:
                price = _wire_price(body.price_dollars)
                delta = _wire_count(body.delta_fp)
            except (UnitError, ValueError, TypeError) as exc:
                self._fail(f"bad delta: {exc}", exc)
        self._apply(body.side, price, delta, use_yes_price)
        if seq is not None:
            self.last_seq = seq
        if body.ts_ms is not None:
            self.updated_ts_ms = body.ts_ms

    def _apply(self, side: str, price: int, delta: int, no_in_yes_prices: bool) -> None:
        # The hot path (positional arguments, no stale check: both callers did it).
        if side == "yes":
            sizes, levels, other, valid = self._yes, self._yes_px, self._no_px, self._valid_yes
        elif side == "no":
            price = _no_leg(price, no_in_yes_prices)
            sizes, levels, other, valid = self._no, self._no_px, self._yes_px, self._valid_no
        else:
            self._fail(f"unknown side {side!r}")
        if price not in valid:
            self._fail(f"{side} price {format_price(price)} is outside (0, 1) or off the grid")
        if not delta:
            self._fail(f"zero delta at {side} {format_price(price)}")
        old = sizes.get(price, 0)
        new = old + delta
        if new < 0:
            self._fail(
                f"{side} level {format_price(price)} would go negative:"
                f" {format_count(old)} + {format_count(delta)}"
            )
        # Only an added size can cross, and only at this price: test before mutating.
        if delta > 0 and other and price + other[-1] >= _ONE and not self.tolerate_cross:
            self._fail(
                f"{side} bid {format_price(price)} crosses the other side's best bid"
                f" {format_price(other[-1])}"
            )
        if new == 0:
            del sizes[price]
            del levels[bisect_left(levels, price)]
        else:
            sizes[price] = new
            if old == 0:
                if not levels or price > levels[-1]:
                    levels.append(price)
                else:
                    insort(levels, price)

    # -----------------------------------------------------------------------------------------
    # Top of book (prices are Price ints, sizes Count ints)

    @property
    def crossed(self) -> bool:
        """Best YES bid + best NO bid >= $1: a momentary state inside one exchange millisecond."""
        return bool(self._yes_px and self._no_px and self._yes_px[-1] + self._no_px[-1] >= _ONE)

    def best_yes_bid(self) -> int | None:
        return self._yes_px[-1] if self._yes_px else None

    def best_no_bid(self) -> int | None:
        """Best NO bid in NO-leg price."""
        return self._no_px[-1] if self._no_px else None

    def yes_ask(self) -> int | None:
        return _ONE - self._no_px[-1] if self._no_px else None

    def no_ask(self) -> int | None:
        return _ONE - self._yes_px[-1] if self._yes_px else None

    def yes_bid_size(self) -> int:
        return self._yes[self._yes_px[-1]] if self._yes_px else 0

    def no_bid_size(self) -> int:
        return self._no[self._no_px[-1]] if self._no_px else 0

    def yes_ask_size(self) -> int:
        return self.no_bid_size()

    def no_ask_size(self) -> int:
        return self.yes_bid_size()

    def yes_bid_size_at(self, price: int) -> int:
        """Size of the YES bid level at ``price`` (0 when empty)."""
        return self._yes.get(price, 0)

    def yes_ask_size_at(self, price: int) -> int:
        """Size of the YES ask level at YES price ``price``: the NO bids at ``1 - price`` (0 when empty)."""
        return self._no.get(_ONE - price, 0)

    # -----------------------------------------------------------------------------------------
    # Depth

    def yes_bids(self, n: int | None = None) -> list[tuple[int, int]]:
        """YES bids, best (highest) first."""
        return self._top(self._yes, self._yes_px, n)

    def no_bids(self, n: int | None = None) -> list[tuple[int, int]]:
        """NO bids in NO-leg prices, best (highest) first."""
        return self._top(self._no, self._no_px, n)

    def yes_asks(self, n: int | None = None) -> list[tuple[int, int]]:
        """YES asks in YES prices, best (lowest) first."""
        return [(_ONE - p, s) for p, s in self._top(self._no, self._no_px, n)]

    def no_asks(self, n: int | None = None) -> list[tuple[int, int]]:
        """NO asks in NO-leg prices, best (lowest) first."""
        return [(_ONE - p, s) for p, s in self._top(self._yes, self._yes_px, n)]

    def to_levels(self) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """Canonical content, ascending: (YES bids in YES prices, NO bids in NO-leg prices)."""
        return [(p, self._yes[p]) for p in self._yes_px], [(p, self._no[p]) for p in self._no_px]

    # -----------------------------------------------------------------------------------------
    # Derived signals (floats: model inputs, never bookkeeping)

    def mid(self) -> float | None:
        """Midpoint of YES bid and YES ask in dollars; None unless both sides quote."""
        if not (self._yes_px and self._no_px):
            return None
        return (self._yes_px[-1] + _ONE - self._no_px[-1]) / (2 * _ONE)

    def microprice(self) -> float | None:
        """Size-weighted mid in YES dollars: leans toward the ask when the bid is deeper, and back."""
        if not (self._yes_px and self._no_px):
            return None
        bid, ask = self._yes_px[-1], _ONE - self._no_px[-1]
        bid_qty, ask_qty = self._yes[bid], self._no[_ONE - ask]
        return (bid * ask_qty + ask * bid_qty) / ((bid_qty + ask_qty) * _ONE)

    def imbalance(self, levels: int = 1) -> float | None:
        """bid_qty / (bid_qty + ask_qty) over the top ``levels`` YES bids and YES asks; None if both empty.

        A one-sided book gives 0.0 or 1.0.
        """
        if levels < 1:
            raise ValueError("levels must be >= 1")
        bid_qty = sum(self._yes[p] for p in self._yes_px[-levels:])
        ask_qty = sum(self._no[p] for p in self._no_px[-levels:])
        total = bid_qty + ask_qty
        return bid_qty / total if total else None

    # -----------------------------------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, OrderBook):
            return NotImplemented
        return self.ticker == other.ticker and self._yes == other._yes and self._no == other._no

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        state = f"stale: {self.stale_reason}" if self.stale else "live"
        return (
            f"OrderBook({self.ticker!r}, {state}, yes_bid={self.best_yes_bid()}, yes_ask={self.yes_ask()}, "
            f"levels={len(self._yes_px)}/{len(self._no_px)})"
        )

    # -----------------------------------------------------------------------------------------

    @staticmethod
    def _top(sizes: dict[int, int], prices: list[int], n: int | None) -> list[tuple[int, int]]:
        chosen = prices if n is None else prices[-n:] if n > 0 else []
        return [(p, sizes[p]) for p in reversed(chosen)]

    def _checked_side(
        self, side: str, levels: Iterable[tuple[int, int]], valid: frozenset[int]
    ) -> dict[int, int]:
        sizes: dict[int, int] = {}
        for price, size in levels:
            if price not in valid:
                self._fail(f"snapshot {side} price {format_price(price)} is off the grid")
            if size <= 0:
                self._fail(f"snapshot {side} level {format_price(price)} has size {format_count(size)}")
            if price in sizes:
                self._fail(f"snapshot repeats {side} level {format_price(price)}")
            sizes[price] = size
        return sizes

    def _check_ticker(self, ticker: str) -> None:
        # A message for another market is a routing bug upstream; this book's content is still right.
        if ticker != self.ticker:
            raise BookError(f"{self.ticker}: message for {ticker!r} applied to the wrong book")

    def _fail(self, reason: str, cause: Exception | None = None) -> NoReturn:
        self.mark_stale(reason)
        raise BookError(f"{self.ticker}: {reason}") from cause
