"""A nowcast of CF Benchmarks' BRTI from the constituent venues' order books.

Method (settlement-and-pricing.md §1.2-§1.3, CME CF Real Time Index methodology):

1. Drop books that are stale (no message within ``stale_after_s``), erroneous (a side empty, or
   crossed) or potentially erroneous (mid more than ``outlier_threshold`` from the median of the
   remaining mids; once excluded, a venue comes back only below half that threshold, as CF does).
2. Merge the rest into one consolidated book and cap each level's size at the order size cap
   (fixed, or dynamic: winsorized mean + 5 winsorized standard deviations of the level sizes).
   Venue feeds give aggregated levels, not single orders, so the cap applies per level.
3. On the volume grid v = s, 2s, ...: askPV(v) / bidPV(v) = the marginal price to buy / sell v,
   midPV = (askPV + bidPV) / 2, midSV = askPV / midPV - 1.
4. Utilized depth v_T = the largest grid volume with midSV(v) <= D (D = 0.5 %), and at least s: a
   book already wider than D at the first step still gives midPV(s) (as published replications do).
5. BRTI = sum of midPV(v) * w(v) over v in (0, v_T], w(v) = lambda * exp(-lambda v) normalized,
   lambda = 1 / (0.3 v_T). Rounded to $0.01.

When no curve can be formed (less than one grid step of depth on a side) the estimate falls back to
the median of the included mids. All inputs are floats: this is model input, not money.

Choices the digests leave open, made here: the outlier test compares each mid with the median of
all valid mids (itself included), which stays robust with only three or four venues; the dynamic
cap's statistics use the levels inside the band that can reach the utilized depth; a consolidated
book that crosses between venues is used as is.
"""

from __future__ import annotations

import enum
import math
import statistics
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from kxbtc.clock import NS_PER_S, Clock
from kxbtc.oracle.feeds.book import Level, VenueBook

_VOLUME_EPS = 1e-9  # BTC: absorbs float error when cumulative sizes land exactly on a grid point
_SV_EPS = 1e-12


@dataclass(frozen=True, slots=True)
class BrtiParams:
    volume_step: float = 1.0  # s, in BTC
    spread_deviation: float = 0.005  # D
    decay_factor: float = 0.3  # lambda = 1 / (decay_factor * v_T)
    stale_after_s: float = 10.0  # retrieval lag threshold
    outlier_threshold: float = 0.05  # potentially erroneous data parameter (5 % since 2024-06)
    #: A fixed per-level size cap in BTC; None derives it from the books each time.
    size_cap: float | None = None
    size_cap_sigmas: float = 5.0
    winsor_fraction: float = 0.01


class Exclusion(enum.Enum):
    STALE = "stale"
    EMPTY = "empty"
    CROSSED = "crossed"
    OUTLIER = "outlier"


class Method(enum.Enum):
    CURVE = "curve"
    MEDIAN_OF_MIDS = "median_of_mids"


@dataclass(frozen=True, slots=True)
class BrtiEstimate:
    value: float  # rounded to $0.01, as published
    raw_value: float
    method: Method
    ts_ns: int
    included: tuple[str, ...]
    excluded: dict[str, Exclusion]
    utilized_depth: float = 0.0
    size_cap: float = 0.0


@dataclass
class GapStats:
    """How far our estimate sits from Kalshi's published BRTI: estimate - official, in dollars."""

    alpha: float = 0.05
    count: int = 0
    last_gap: float | None = None
    ewma_abs_gap: float | None = None
    max_abs_gap: float = 0.0

    def observe(self, gap: float) -> None:
        self.count += 1
        self.last_gap = gap
        g = abs(gap)
        self.ewma_abs_gap = (
            g if self.ewma_abs_gap is None else self.ewma_abs_gap + self.alpha * (g - self.ewma_abs_gap)
        )
        self.max_abs_gap = max(self.max_abs_gap, g)


@dataclass(frozen=True, slots=True)
class Curve:
    """The price-volume curves at grid points v_k = k * volume_step, k = 1..len."""

    volumes: tuple[float, ...]
    ask_pv: tuple[float, ...]
    bid_pv: tuple[float, ...]

    @property
    def mid_pv(self) -> tuple[float, ...]:
        return tuple((a + b) / 2.0 for a, b in zip(self.ask_pv, self.bid_pv, strict=True))

    @property
    def mid_sv(self) -> tuple[float, ...]:
        return tuple(a / m - 1.0 for a, m in zip(self.ask_pv, self.mid_pv, strict=True))


def build_curve(
    bids: Sequence[Level], asks: Sequence[Level], volume_step: float, spread_deviation: float | None = None
) -> Curve:
    """askPV/bidPV at v = s, 2s, ... up to the shallower side's depth (levels best first).

    The marginal price at v is the price of the level at which the cumulative size first reaches v.
    With ``spread_deviation``, stops before the first point past s whose midSV exceeds it: nothing
    past the utilized depth is needed.
    """
    volumes: list[float] = []
    ask_pv: list[float] = []
    bid_pv: list[float] = []
    ai = bi = -1
    a_cum = b_cum = 0.0
    v = volume_step
    while True:
        while a_cum + _VOLUME_EPS < v and ai + 1 < len(asks):
            ai += 1
            a_cum += asks[ai][1]
        while b_cum + _VOLUME_EPS < v and bi + 1 < len(bids):
            bi += 1
            b_cum += bids[bi][1]
        if a_cum + _VOLUME_EPS < v or b_cum + _VOLUME_EPS < v:
            break  # one side's depth is exhausted
        a, b = asks[ai][0], bids[bi][0]
        if (
            volumes
            and spread_deviation is not None
            and a / ((a + b) / 2.0) - 1.0 > spread_deviation + _SV_EPS
        ):
            break
        volumes.append(v)
        ask_pv.append(a)
        bid_pv.append(b)
        v = volume_step * (len(volumes) + 1)
    return Curve(tuple(volumes), tuple(ask_pv), tuple(bid_pv))


def usable_band(books: Sequence[VenueBook], spread_deviation: float) -> tuple[float, float]:
    """(lowest bid, highest ask) that can lie within the utilized depth.

    midSV(v) <= D means ask(v) <= bid(v) (1+D)/(1-D); since bid(v) <= the best bid anywhere and
    ask(v) >= the best ask anywhere, deeper levels can never count, so they are dropped before sorting.
    """
    best_bid = max(b.bids[0][0] for b in books)
    best_ask = min(b.asks[0][0] for b in books)
    ratio = (1.0 + spread_deviation) / (1.0 - spread_deviation)
    return best_ask / ratio, best_bid * ratio


def utilized_points(curve: Curve, spread_deviation: float) -> int:
    """How many grid points of a full curve lie within the utilized depth (midSV never falls as v
    grows); at least one when the curve has any."""
    n = 0
    for sv in curve.mid_sv:
        if sv > spread_deviation + _SV_EPS:
            break
        n += 1
    return max(n, min(1, len(curve.volumes)))


def weighted_mid(curve: Curve, points: int, decay_factor: float) -> float:
    v_t = curve.volumes[points - 1]
    lam = 1.0 / (decay_factor * v_t)
    weights = [lam * math.exp(-lam * v) for v in curve.volumes[:points]]
    mids = curve.mid_pv[:points]
    return sum(m * w for m, w in zip(mids, weights, strict=True)) / sum(weights)


def dynamic_size_cap(sizes: Iterable[float], sigmas: float, winsor_fraction: float) -> float:
    """Winsorized mean + ``sigmas`` winsorized standard deviations of ``sizes``."""
    ordered = sorted(sizes)
    if not ordered:
        return math.inf
    k = int(len(ordered) * winsor_fraction)
    lo, hi = ordered[k], ordered[len(ordered) - 1 - k]
    clipped = [min(max(x, lo), hi) for x in ordered]
    mean = statistics.fmean(clipped)
    std = statistics.pstdev(clipped, mean) if len(clipped) > 1 else 0.0
    return mean + sigmas * std


def consolidate(
    books: Iterable[VenueBook], cap: float, band: tuple[float, float] = (0.0, math.inf)
) -> tuple[list[Level], list[Level]]:
    """All venues' levels inside ``band`` merged best first, each size capped at ``cap``."""
    lo, hi = band
    bids = sorted(((p, min(s, cap)) for b in books for p, s in b.bids if p >= lo), key=lambda lv: -lv[0])
    asks = sorted((p, min(s, cap)) for b in books for p, s in b.asks if p <= hi)
    return bids, asks


class BrtiEstimator:
    """Stateful only in the outlier hysteresis, the recent-estimate history and the gap statistics."""

    def __init__(self, clock: Clock, params: BrtiParams | None = None, gap_alpha: float = 0.05) -> None:
        self.clock = clock
        self.params = params or BrtiParams()
        self.gap = GapStats(alpha=gap_alpha)
        self.last: BrtiEstimate | None = None
        self._outliers: set[str] = set()
        self._history: deque[BrtiEstimate] = deque(maxlen=64)

    def estimate(self, books: Iterable[VenueBook | None]) -> BrtiEstimate | None:
        """The index now from these books; None when every book is excluded (calculation failure)."""
        now_ns = self.clock.time_ns()
        included, excluded = self._screen([b for b in books if b is not None], now_ns)
        if not included:
            return None
        p = self.params
        curve, cap = self._curve(included, usable_band(included, p.spread_deviation))
        if not curve.volumes:
            # The band can cut away the first step of a book already wider than D; v_T is at least
            # one step, so look again at everything.
            curve, cap = self._curve(included, (0.0, math.inf))
        points = len(curve.volumes)
        names = tuple(b.venue for b in included)
        if points == 0:
            raw = statistics.median(_mid(b) for b in included)
            est = BrtiEstimate(round(raw, 2), raw, Method.MEDIAN_OF_MIDS, now_ns, names, excluded, 0.0, cap)
        else:
            raw = weighted_mid(curve, points, p.decay_factor)
            depth = curve.volumes[points - 1]
            est = BrtiEstimate(round(raw, 2), raw, Method.CURVE, now_ns, names, excluded, depth, cap)
        self.last = est
        self._history.append(est)
        return est

    def _curve(self, books: list[VenueBook], band: tuple[float, float]) -> tuple[Curve, float]:
        p = self.params
        lo, hi = band
        if p.size_cap is not None:
            cap = p.size_cap
        else:
            # The cap's statistics come from the levels that can matter (inside the band), not the
            # venue-dependent tail of the book each feed happens to carry.
            sizes = [s for b in books for px, s in (*b.bids, *b.asks) if lo <= px <= hi]
            cap = dynamic_size_cap(sizes, p.size_cap_sigmas, p.winsor_fraction)
        bids, asks = consolidate(books, cap, band)
        return build_curve(bids, asks, p.volume_step, p.spread_deviation), cap

    def record_official(self, time_ms: int, value: float, max_lag_s: float = 2.0) -> float | None:
        """Compare Kalshi's published value at ``time_ms`` with our latest estimate made at or before it.

        Returns the gap (estimate - official) and updates ``self.gap``, or None without a recent estimate.
        """
        t_ns = time_ms * 1_000_000
        for est in reversed(self._history):
            if est.ts_ns <= t_ns:
                if t_ns - est.ts_ns > max_lag_s * NS_PER_S:
                    return None
                gap = est.value - value
                self.gap.observe(gap)
                return gap
        return None

    def _screen(self, books: list[VenueBook], now_ns: int) -> tuple[list[VenueBook], dict[str, Exclusion]]:
        p = self.params
        excluded: dict[str, Exclusion] = {}
        valid: list[VenueBook] = []
        for b in books:
            if (now_ns - b.as_of_ns) > p.stale_after_s * NS_PER_S:
                excluded[b.venue] = Exclusion.STALE
            elif not b.bids or not b.asks:
                excluded[b.venue] = Exclusion.EMPTY
            elif b.bids[0][0] >= b.asks[0][0]:
                excluded[b.venue] = Exclusion.CROSSED
            else:
                valid.append(b)
        if len(valid) < 2:
            return valid, excluded
        median = statistics.median(_mid(b) for b in valid)
        kept: list[VenueBook] = []
        for b in valid:
            deviation = abs(_mid(b) / median - 1.0)
            # Hysteresis: an excluded venue returns only once well inside the band, so it does not flap.
            limit = p.outlier_threshold / 2.0 if b.venue in self._outliers else p.outlier_threshold
            if deviation > limit:
                self._outliers.add(b.venue)
                excluded[b.venue] = Exclusion.OUTLIER
            else:
                self._outliers.discard(b.venue)
                kept.append(b)
        return kept, excluded


def _mid(book: VenueBook) -> float:
    return (book.bids[0][0] + book.asks[0][0]) / 2.0


__all__ = [
    "BrtiEstimate",
    "BrtiEstimator",
    "BrtiParams",
    "Curve",
    "Exclusion",
    "GapStats",
    "Method",
    "build_curve",
    "consolidate",
    "dynamic_size_cap",
]
