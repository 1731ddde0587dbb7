"""The settlement average of one market, as its final minute is observed.

Kalshi settles KXBTC15M/KXBTCD/KXBTC on the simple mean of the 60 one-second BRTI prints in
(close - 60 s, close], rounded to $0.01 (settlement-and-pricing.md §2, errata "Pricing" G2). The
tracker keeps those prints in exact integer cents, so ties at the strike (which go to YES on
``greater_or_equal``) are decided exactly.

Prints are official (Kalshi's ``cfbenchmarks_value``, the settlement series itself) or estimated
(our BRTI nowcast, through ``IndexSampler``). Rules for imperfect input, deterministic:

- A print outside the window is ignored, except that the latest print before the window is kept
  as the value to carry into the window's first seconds.
- Duplicate second: an official print replaces an estimated one; otherwise the first print for a
  second is kept and later ones are counted in ``duplicates`` and dropped (Kalshi likewise ignores
  repeated upstream timestamps).
- Missing second: filled with the last print before it (carry forward), or the print carried in
  from before the window. Seconds at the start with nothing before them take the window's earliest
  print (carry backward). The window runs to the latest print so far; ``finalize()`` (after close)
  extends it to close. The fill is recomputed from the prints on each change, so arrival order does
  not matter. Filled seconds count in ``count``/``total_cents``; ``observed`` counts real prints and
  ``official`` the official ones.
- Rounding: half up, to the cent. ``round_to_cent=False`` makes ``outcome``/``required_average``
  compare the unrounded mean (the hourly series' rules do not state the rounding); ``settlement_cents``
  is always the rounded value.

``IndexSampler`` turns a stream of index estimates at arbitrary times into one-per-second prints:
the print for second t is the last estimate at or before t.000.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from kxbtc.clock import NS_PER_S

WINDOW_SECONDS = 60


@dataclass(frozen=True, slots=True)
class IndexSample:
    second: int  # unix second this print belongs to
    cents: int
    official: bool = True  # Kalshi's published value, not our estimate

    @property
    def value(self) -> float:
        return self.cents / 100.0


@dataclass(frozen=True, slots=True)
class WindowSample:
    second: int
    cents: int
    filled: bool  # True when carried from a neighbouring second, not observed
    official: bool = False


class IndexSampler:
    """Index estimates at arbitrary times -> one print per whole second (the as-of value at t.000).

    A second is final once a later estimate arrives, or ``flush(now)`` passes it. A second more than
    ``max_carry_s`` after the last estimate gets no print: the settlement tracker then fills it by its
    own rule, and the gap shows up in its ``observed`` count.
    """

    def __init__(self, max_carry_s: float = 5.0) -> None:
        self.max_carry_ns = int(max_carry_s * NS_PER_S)
        self._last_ts_ns: int | None = None
        self._last_value = 0.0
        self._next_second = 0

    def add(self, ts_ns: int, value: float) -> list[IndexSample]:
        if self._last_ts_ns is None:
            self._last_ts_ns, self._last_value = ts_ns, value
            self._next_second = -(-ts_ns // NS_PER_S)
            return []
        if ts_ns < self._last_ts_ns:
            return []  # out of order: the as-of value for any open second is already newer
        # Every second strictly before this estimate is now final.
        out = self._emit_through((ts_ns - 1) // NS_PER_S)
        self._last_ts_ns, self._last_value = ts_ns, value
        return out

    def flush(self, now_ns: int) -> list[IndexSample]:
        if self._last_ts_ns is None:
            return []
        return self._emit_through(now_ns // NS_PER_S)

    def _emit_through(self, last_second: int) -> list[IndexSample]:
        assert self._last_ts_ns is not None
        carry_limit = (self._last_ts_ns + self.max_carry_ns) // NS_PER_S
        cents = round(self._last_value * 100)
        out = [
            IndexSample(s, cents, official=False)
            for s in range(self._next_second, min(last_second, carry_limit) + 1)
        ]
        self._next_second = max(self._next_second, last_second + 1)
        return out


def _takes_over(new: IndexSample, old: IndexSample) -> bool:
    """Whether ``new`` replaces ``old`` as the print carried into the window: later, or official."""
    return new.second > old.second or (new.second == old.second and new.official and not old.official)


class StrikeType(enum.Enum):
    GREATER = "greater"  # "above": strictly greater
    GREATER_OR_EQUAL = "greater_or_equal"  # "at least": ties win
    LESS = "less"
    LESS_OR_EQUAL = "less_or_equal"
    BETWEEN = "between"  # inclusive at both ends


def _to_cents(value: float | str | None) -> int | None:
    if value is None:
        return None
    return int((Decimal(str(value)) * 100).to_integral_value())


@dataclass(frozen=True, slots=True)
class StrikeRule:
    strike_type: StrikeType
    floor_cents: int | None = None  # the threshold for greater*, the low end for between
    cap_cents: int | None = None  # the threshold for less*, the high end for between

    @classmethod
    def from_market(
        cls, strike_type: str, floor_strike: float | str | None = None, cap_strike: float | str | None = None
    ) -> StrikeRule:
        """From a Kalshi market's ``strike_type``, ``floor_strike`` and ``cap_strike``."""
        rule = cls(StrikeType(strike_type), _to_cents(floor_strike), _to_cents(cap_strike))
        needs_floor = rule.strike_type in (
            StrikeType.GREATER,
            StrikeType.GREATER_OR_EQUAL,
            StrikeType.BETWEEN,
        )
        needs_cap = rule.strike_type in (StrikeType.LESS, StrikeType.LESS_OR_EQUAL, StrikeType.BETWEEN)
        if (needs_floor and rule.floor_cents is None) or (needs_cap and rule.cap_cents is None):
            raise ValueError(
                f"strike_type {strike_type!r} needs floor/cap strikes, got {floor_strike}/{cap_strike}"
            )
        return rule

    def average_bounds(self, round_to_cent: bool) -> tuple[Fraction | None, bool, Fraction | None, bool]:
        """(low, low_inclusive, high, high_inclusive) on the unrounded final average, in cents, for YES.

        With half-up rounding, rounded(A) >= K iff A >= K - 1/2 and rounded(A) <= K iff A < K + 1/2.
        """
        half = Fraction(1, 2) if round_to_cent else Fraction(0)
        lo: Fraction | None = None
        hi: Fraction | None = None
        lo_inc = hi_inc = True
        t = self.strike_type
        if t in (StrikeType.GREATER_OR_EQUAL, StrikeType.BETWEEN):
            assert self.floor_cents is not None
            lo = self.floor_cents - half
        elif t is StrikeType.GREATER:
            assert self.floor_cents is not None
            lo, lo_inc = self.floor_cents + half, round_to_cent
        if t in (StrikeType.LESS_OR_EQUAL, StrikeType.BETWEEN):
            assert self.cap_cents is not None
            hi, hi_inc = self.cap_cents + half, not round_to_cent
        elif t is StrikeType.LESS:
            assert self.cap_cents is not None
            hi, hi_inc = self.cap_cents - half, False
        return lo, lo_inc, hi, hi_inc


@dataclass(frozen=True, slots=True)
class RequiredAverage:
    """YES iff the mean of the ``remaining`` unobserved prints lies in this range (dollars).

    ``None`` bounds are open. A bound below every plausible price means YES is already locked in on
    that side; one above means it is already lost.
    """

    remaining: int
    low: float | None
    low_inclusive: bool
    high: float | None
    high_inclusive: bool

    def contains(self, mean_remaining: float) -> bool:
        if self.low is not None and (
            mean_remaining < self.low or (mean_remaining == self.low and not self.low_inclusive)
        ):
            return False
        return not (
            self.high is not None
            and (mean_remaining > self.high or (mean_remaining == self.high and not self.high_inclusive))
        )


class SettlementTracker:
    """The 60 one-second prints of one market's settlement window, (close - 60 s, close]."""

    def __init__(
        self,
        close_ts_s: int,
        rule: StrikeRule | None = None,
        *,
        window_seconds: int = WINDOW_SECONDS,
        round_to_cent: bool = True,
    ) -> None:
        self.close_ts_s = close_ts_s
        self.rule = rule
        self.window_seconds = window_seconds
        self.round_to_cent = round_to_cent
        self.first_second = close_ts_s - window_seconds + 1
        self.duplicates = 0
        self._prints: dict[int, IndexSample] = {}  # real prints only
        self._carry_in: IndexSample | None = None  # latest print before the window
        self._finalized = False
        self._view: tuple[WindowSample, ...] | None = None

    # -- input -----------------------------------------------------------------------------------

    def in_window(self, second: int) -> bool:
        return self.first_second <= second <= self.close_ts_s

    def record(self, sample: IndexSample) -> bool:
        """Add one print. Returns True if it changed the window."""
        s = sample.second
        if s < self.first_second:
            if self._carry_in is None or _takes_over(sample, self._carry_in):
                self._carry_in = sample
                self._view = None
            return False
        if s > self.close_ts_s:
            return False
        existing = self._prints.get(s)
        if existing is not None and not (sample.official and not existing.official):
            self.duplicates += 1
            return False
        self._prints[s] = sample
        self._view = None
        return True

    def finalize(self) -> None:
        """Carry the last print into any seconds left empty up to close. Call once close has passed."""
        self._finalized = True
        self._view = None

    # -- state -----------------------------------------------------------------------------------

    @property
    def samples(self) -> tuple[WindowSample, ...]:
        """The window so far, gaps filled by the module's rule; recomputed from the real prints, so the
        result does not depend on arrival order."""
        if self._view is None:
            self._view = self._fill()
        return self._view

    def _fill(self) -> tuple[WindowSample, ...]:
        if self._prints:
            last_second = self.close_ts_s if self._finalized else max(self._prints)
            carry: int | None = self._prints[min(self._prints)].cents
        elif self._finalized and self._carry_in is not None:
            last_second, carry = self.close_ts_s, None
        else:
            return ()
        if self._carry_in is not None:
            carry = self._carry_in.cents
        out: list[WindowSample] = []
        for s in range(self.first_second, last_second + 1):
            got = self._prints.get(s)
            if got is None:
                assert carry is not None
                out.append(WindowSample(s, carry, filled=True))
            else:
                out.append(WindowSample(s, got.cents, filled=False, official=got.official))
                carry = got.cents
        return tuple(out)

    @property
    def count(self) -> int:
        """Seconds in the window so far, real or filled."""
        return len(self.samples)

    @property
    def observed(self) -> int:
        return len(self._prints)

    @property
    def official(self) -> int:
        return sum(1 for p in self._prints.values() if p.official)

    @property
    def total_cents(self) -> int:
        return sum(x.cents for x in self.samples)

    @property
    def remaining(self) -> int:
        return self.window_seconds - self.count

    @property
    def complete(self) -> bool:
        return self.remaining == 0

    @property
    def running_average(self) -> float | None:
        """Mean of the prints so far, in dollars (what Kalshi streams as the final-minute average)."""
        return None if not self.samples else self.total_cents / self.count / 100.0

    @property
    def settlement_cents(self) -> int | None:
        """The final settlement value, once all 60 seconds are in."""
        if not self.complete:
            return None
        return math.floor(Fraction(self.total_cents, self.window_seconds) + Fraction(1, 2))

    def outcome(self, rule: StrikeRule | None = None) -> bool | None:
        """YES (True) / NO (False) once complete, else None."""
        rule = rule or self.rule
        if rule is None:
            raise ValueError("no strike rule")
        if not self.complete:
            return None
        avg = Fraction(self.total_cents, self.window_seconds)
        lo, lo_inc, hi, hi_inc = rule.average_bounds(self.round_to_cent)
        if lo is not None and (avg < lo or (avg == lo and not lo_inc)):
            return False
        return not (hi is not None and (avg > hi or (avg == hi and not hi_inc)))

    def required_average(self, rule: StrikeRule | None = None) -> RequiredAverage | None:
        """The range the mean of the remaining prints must fall in for YES; None once complete."""
        rule = rule or self.rule
        if rule is None:
            raise ValueError("no strike rule")
        r = self.remaining
        if r == 0:
            return None
        n, total = self.window_seconds, self.total_cents
        lo, lo_inc, hi, hi_inc = rule.average_bounds(self.round_to_cent)

        def needed(bound: Fraction | None) -> float | None:
            # (N * bound - sum so far) / r, from cents to dollars.
            return None if bound is None else float((n * bound - total) / r) / 100.0

        return RequiredAverage(r, needed(lo), lo_inc, needed(hi), hi_inc)
