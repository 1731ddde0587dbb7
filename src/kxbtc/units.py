"""Fixed-point units on the wire's own grid. Money is never a float.

- ``Price``: 1/10,000 dollar (the wire's 4 decimal places: ``"0.5600"`` -> 5600).
- ``Count``: 1/100 contract (``"10.00"`` -> 1000). Signed: deltas and positions can be negative.
- ``Money``: 1/1,000,000 dollar, for costs, fees, balances and P&L (``"0.017500"`` -> 17500).
  Balances arrive with 4 decimals and are held as Money too, so there is one currency type.

All three are plain ``int`` at run time (``NewType``): the hot path pays nothing for the type safety.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NewType

Price = NewType("Price", int)
Count = NewType("Count", int)
Money = NewType("Money", int)

PRICE_SCALE = 10_000
COUNT_SCALE = 100
MONEY_SCALE = 1_000_000
ONE_DOLLAR = Price(PRICE_SCALE)
#: Money units per Price unit (a price times a count is in Price*Count units; see ``notional``).
MONEY_PER_PRICE = MONEY_SCALE // PRICE_SCALE


_POW10 = tuple(10**i for i in range(10))


class UnitError(ValueError):
    """A wire string is not a valid fixed-point number for its field."""

    def __init__(self, field: str, raw: object, reason: str) -> None:
        super().__init__(f"{field}: {raw!r} is not valid: {reason}")
        self.field = field
        self.raw = raw
        self.reason = reason


def parse_fixed(text: str, decimals: int, field: str = "value") -> int:
    """Parse a decimal string exactly into an integer with ``decimals`` implied places.

    Accepts an optional sign and 0..``decimals`` fractional digits. Rejects anything else
    (exponents, spaces, too many digits, non-strings) rather than rounding silently.
    """
    if type(text) is not str:
        raise UnitError(field, text, "expected a decimal string")
    neg = text.startswith("-")
    body = text[1:] if neg or text.startswith("+") else text
    whole, dot, frac = body.partition(".")
    if not whole.isdigit() or not whole.isascii():
        raise UnitError(field, text, "not a decimal number")
    if dot:
        if len(frac) > decimals:
            # Trailing zeros beyond our precision are harmless ("0.56000"); anything else would round.
            extra = frac[decimals:]
            if extra.strip("0"):
                raise UnitError(field, text, f"more than {decimals} decimal places")
            frac = frac[:decimals]
        if frac and (not frac.isdigit() or not frac.isascii()):
            raise UnitError(field, text, "not a decimal number")
    value: int = int(whole) * _POW10[decimals] + (int(frac) * _POW10[decimals - len(frac)] if frac else 0)
    return -value if neg else value


def format_fixed(value: int, decimals: int) -> str:
    """Format an integer with ``decimals`` implied places: ``format_fixed(5600, 4) == "0.5600"``."""
    sign = "-" if value < 0 else ""
    whole, frac = divmod(abs(value), 10**decimals)
    if decimals == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{frac:0{decimals}d}"


def parse_price(text: str, field: str = "price") -> Price:
    # Fast path for the canonical "0.DDDD" shape that carries almost every book level.
    if type(text) is str and len(text) == 6 and text[1] == "." and text[0] in "01":
        tail = text[2:]
        if tail.isdigit() and tail.isascii():
            return Price(int(text[0]) * PRICE_SCALE + int(tail))
    return Price(parse_fixed(text, 4, field))


def parse_count(text: str, field: str = "count") -> Count:
    return Count(parse_fixed(text, 2, field))


# Wire strings repeat endlessly (a market has at most 9,999 prices and sizes cluster), so the stream's
# hot path parses each distinct string strictly once and then looks it up: a dict hit costs a fraction of
# a parse. Only valid strings are stored (a bad one raises as ``parse_*`` does), and a full cache is simply
# emptied, which bounds memory on odd input. The order book keeps its own pair for its wire methods.
_CACHE_LIMIT = 1 << 16
_price_cache: dict[str, Price] = {}
_count_cache: dict[str, Count] = {}


def parse_price_cached(text: str, field: str = "price") -> Price:
    value = _price_cache.get(text)
    if value is None:
        value = parse_price(text, field)
        if len(_price_cache) >= _CACHE_LIMIT:
            _price_cache.clear()
        _price_cache[text] = value
    return value


#: The caches' plain lookups, for a hot loop that inlines a hit: None until ``parse_*_cached`` has seen the
#: string (the caches are emptied in place, never replaced, so these stay bound to them).
cached_price = _price_cache.get
cached_count = _count_cache.get


def parse_count_cached(text: str, field: str = "count") -> Count:
    value = _count_cache.get(text)
    if value is None:
        value = parse_count(text, field)
        if len(_count_cache) >= _CACHE_LIMIT:
            _count_cache.clear()
        _count_cache[text] = value
    return value


def parse_money(text: str, field: str = "amount") -> Money:
    return Money(parse_fixed(text, 6, field))


def format_price(value: int) -> str:
    return format_fixed(value, 4)


def format_count(value: int) -> str:
    return format_fixed(value, 2)


def format_money(value: int, decimals: int = 6) -> str:
    """Money with 6 places (fees, costs, P&L) or 4 (balances); refuses to drop non-zero digits."""
    drop = 6 - decimals
    if drop < 0:
        raise ValueError("Money has at most 6 decimal places")
    if value % 10**drop:
        raise ValueError(f"{value} micro-dollars is not representable with {decimals} decimals")
    return format_fixed(value // 10**drop, decimals)


def format_usd(micros: int) -> str:
    """Money for people: ``-1_250_000`` -> ``-$1.25``; rounded half away from zero to the cent, thousands
    separated, the sign before the symbol (so a loss is never read as a gain)."""
    cents, rest = divmod(abs(micros), _MICROS_PER_CENT)
    if 2 * rest >= _MICROS_PER_CENT:
        cents += 1
    sign = "-" if micros < 0 and cents else ""
    whole, frac = divmod(cents, 100)
    return f"{sign}${whole:,}.{frac:02d}"


def format_usd_exact(micros: int) -> str:
    """Money to the micro-dollar for people, where a difference below a cent matters (a ledger against the
    exchange): cents as ``format_usd`` does, more places only when they are not zero (``-$0.000001``)."""
    sign = "-" if micros < 0 else ""
    whole, frac = divmod(abs(micros), MONEY_SCALE)
    digits = f"{frac:06d}".rstrip("0").ljust(2, "0")
    return f"{sign}${whole:,}.{digits}"


def format_usd_float(dollars: float) -> str:
    """A statistic in dollars (a mean, an interval end) for people, through ``format_usd``."""
    return format_usd(round(dollars * MONEY_SCALE))


def format_price_usd(price: int) -> str:
    """A Price (1e-4 $) for people: cents when it is a whole cent (``5600`` -> ``$0.56``), all four places
    when the grid is finer (``150`` -> ``$0.0150`` on a sub-penny band; an average ``4918`` -> ``$0.4918``).
    """
    sign = "-" if price < 0 else ""
    whole, frac = divmod(abs(price), PRICE_SCALE)
    if frac % 100 == 0:
        return f"{sign}${whole:,}.{frac // 100:02d}"
    return f"{sign}${whole:,}.{frac:04d}"


def format_qty(count: int) -> str:
    """A Count (1e-2 contracts) as a bare number for table columns: ``8600`` -> ``86``, ``50`` -> ``0.50``,
    ``109700`` -> ``1,097``. The column header names the unit."""
    whole, frac = divmod(abs(count), COUNT_SCALE)
    sign = "-" if count < 0 else ""
    return f"{sign}{whole:,}" if frac == 0 else f"{sign}{whole:,}.{frac:02d}"


def format_contracts(count: int) -> str:
    """A Count (1e-2 contracts) for people: ``8600`` -> ``86 contracts``, ``50`` -> ``0.50 contracts``."""
    unit = "contract" if count == COUNT_SCALE else "contracts"
    return f"{format_qty(count)} {unit}"


#: The one way a moment is shown to people: UTC, which is the market's clock (Kalshi's BTC markets close
#: on UTC quarter hours), to the second.
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def format_time(ts_ns: int) -> str:
    """``2026-05-13 12:28:51Z``: UTC to the second (the ``Z`` says the zone)."""
    return _utc(ts_ns).strftime(TIME_FORMAT) + "Z"


def format_clock(ts_ns: int) -> str:
    """``12:28:51Z``: the time of day of ``format_time``, for live lines whose date is obvious."""
    return _utc(ts_ns).strftime("%H:%M:%S") + "Z"


def _utc(ts_ns: int) -> datetime:
    return datetime.fromtimestamp(ts_ns // 1_000_000_000, UTC)


_MICROS_PER_CENT = MONEY_SCALE // 100


def price_to_money(price: int) -> Money:
    return Money(price * MONEY_PER_PRICE)


def notional(price: int, count: int) -> Money:
    """Cost of ``count`` contracts at ``price``: Price(1e-4) * Count(1e-2) = 1e-6 dollars exactly."""
    return Money(price * count)


def cents_to_price(cents: int) -> Price:
    return Price(cents * 100)


def complement(price: int) -> Price:
    """The other leg's price: a YES price p is a NO price 1 - p."""
    return Price(PRICE_SCALE - price)


def money_to_dollars_float(value: int) -> float:
    """For display and for model maths only, never for bookkeeping."""
    return value / MONEY_SCALE


# ---------------------------------------------------------------------------------------------
# Price grids from a market's `price_ranges`


@dataclass(frozen=True, slots=True)
class PriceRange:
    start: Price
    end: Price
    step: Price


class PriceGridError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class PriceGrid:
    """The valid limit prices of one market: the union of its ``price_ranges`` bands.

    Bands are half-open on the left where they touch ([0, 0.10] step 0.001 then [0.10, 0.90] step 0.01):
    a price is valid when it lies on the step lattice of any band that contains it. Tradeable prices are
    strictly inside (0, 1).
    """

    ranges: tuple[PriceRange, ...]

    @staticmethod
    def from_wire(price_ranges: list[dict[str, str]]) -> PriceGrid:
        if not price_ranges:
            raise PriceGridError("price_ranges is empty")
        bands: list[PriceRange] = []
        for raw in price_ranges:
            try:
                start = parse_price(raw["start"], "price_ranges.start")
                end = parse_price(raw["end"], "price_ranges.end")
                step = parse_price(raw["step"], "price_ranges.step")
            except KeyError as exc:
                raise PriceGridError(f"price range {raw!r} lacks {exc.args[0]!r}") from None
            bands.append(PriceRange(start, end, step))
        return PriceGrid.from_ranges(bands)

    @staticmethod
    def from_ranges(bands: list[PriceRange]) -> PriceGrid:
        ordered = sorted(bands, key=lambda r: r.start)
        for band in ordered:
            if band.step <= 0:
                raise PriceGridError(f"step must be positive: {band}")
            if not 0 <= band.start < band.end <= PRICE_SCALE:
                raise PriceGridError(f"band outside [0, 1] or empty: {band}")
            if (band.end - band.start) % band.step:
                raise PriceGridError(f"band width is not a multiple of its step: {band}")
        for left, right in itertools.pairwise(ordered):
            if right.start < left.end:
                raise PriceGridError(f"overlapping bands: {left} and {right}")
        return PriceGrid(tuple(ordered))

    @staticmethod
    def linear_cent() -> PriceGrid:
        return PriceGrid((PriceRange(Price(0), Price(PRICE_SCALE), Price(100)),))

    def is_valid(self, price: int) -> bool:
        if not 0 < price < PRICE_SCALE:
            return False
        return any(r.start <= price <= r.end and (price - r.start) % r.step == 0 for r in self.ranges)

    def next_up(self, price: int) -> Price | None:
        """Smallest valid price strictly above ``price``, or None at the top."""
        best: int | None = None
        for r in self.ranges:
            if price >= r.end:
                continue
            cand = r.start if price < r.start else r.start + ((price - r.start) // r.step + 1) * r.step
            if cand <= r.end and (best is None or cand < best):
                best = cand
        if best is None or best >= PRICE_SCALE:
            return None
        return Price(best)

    def next_down(self, price: int) -> Price | None:
        """Largest valid price strictly below ``price``, or None at the bottom."""
        best: int | None = None
        for r in self.ranges:
            if price <= r.start:
                continue
            cand = r.end if price > r.end else r.start + ((price - r.start - 1) // r.step) * r.step
            if cand >= r.start and (best is None or cand > best):
                best = cand
        if best is None or best <= 0:
            return None
        return Price(best)

    def snap(self, price: int, direction: str = "down") -> Price | None:
        """Snap to the grid: ``"down"`` (never pay more when buying), ``"up"``, or ``"nearest"``."""
        if self.is_valid(price):
            return Price(price)
        if direction == "down":
            return self.next_down(price)
        if direction == "up":
            return self.next_up(price)
        if direction == "nearest":
            lo, hi = self.next_down(price), self.next_up(price)
            if lo is None:
                return hi
            if hi is None:
                return lo
            return lo if price - lo <= hi - price else hi
        raise ValueError(f"unknown snap direction {direction!r}")

    def ticks(self) -> list[Price]:
        """Every valid price, ascending (at most 9,999)."""
        out: set[int] = set()
        for r in self.ranges:
            out.update(range(r.start, r.end + 1, r.step))
        return [Price(p) for p in sorted(out) if 0 < p < PRICE_SCALE]
