"""The simulated BRTI: one index value per second, in integer cents.

``SyntheticPath`` is a seeded random walk with stochastic volatility (log-volatility mean-reverting) and
rare jumps, around a ~$100k level and ~50-60 % annualised volatility. It is generated lazily and
deterministically: the value at second ``s`` depends only on the seed and the start second.
``CsvPath`` replays ``timestamp,price`` rows (Unix seconds or milliseconds, or RFC 3339), holding the last
value between rows. Both give values for any second at or after their first one; ``history_s`` seconds
before the simulation start exist so the first windows have a strike.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import random
from array import array
from pathlib import Path
from typing import Protocol

SECONDS_PER_YEAR = 31_536_000


class PricePath(Protocol):
    #: The volatility the path is built with (annualised, log), for counterparties' fair values.
    annual_vol: float

    def value_cents(self, second: int) -> int:
        """The index value published at Unix second ``second``."""
        ...

    def first_second(self) -> int: ...


class SyntheticPath:
    """Seeded BTC-like index. ``vol_of_vol`` and ``jump_*`` shape the tails; defaults look like 2026 BTC."""

    def __init__(
        self,
        start_second: int,
        *,
        seed: int = 0,
        start_price: float = 100_000.0,
        annual_vol: float = 0.52,
        vol_of_vol: float = 0.25,
        vol_half_life_s: float = 1800.0,
        jumps_per_day: float = 1.0,
        jump_sd: float = 0.003,
    ) -> None:
        self.annual_vol = annual_vol
        self._start = start_second
        self._rng = random.Random(seed)
        self._log_vol_mean = math.log(annual_vol / math.sqrt(SECONDS_PER_YEAR))
        self._kappa = math.log(2) / vol_half_life_s
        # Stationary sd of the log-vol OU process is vol_of_vol / sqrt(2 kappa) scaled per second.
        self._vv = vol_of_vol * math.sqrt(2 * self._kappa)
        self._jump_p = jumps_per_day / 86_400
        self._jump_sd = jump_sd
        self._log_vol = self._log_vol_mean
        self._log_price = math.log(start_price)
        # One machine integer per second (a list of ints costs 36 bytes a second, 3 MB a simulated day).
        self._values = array("q", [round(start_price * 100)])

    def first_second(self) -> int:
        return self._start

    def _extend_to(self, index: int) -> None:
        rng = self._rng
        while len(self._values) <= index:
            self._log_vol += self._kappa * (self._log_vol_mean - self._log_vol) + self._vv * rng.gauss(0, 1)
            vol = math.exp(self._log_vol)
            step = vol * rng.gauss(0, 1) - 0.5 * vol * vol
            if rng.random() < self._jump_p:
                step += rng.gauss(0, self._jump_sd)
            self._log_price += step
            self._values.append(round(math.exp(self._log_price) * 100))

    def value_cents(self, second: int) -> int:
        index = second - self._start
        if index < 0:
            raise ValueError(f"second {second} is before the path starts ({self._start})")
        self._extend_to(index)
        return self._values[index]


class CsvPath:
    """Replays a CSV of ``timestamp,price``; a header row is allowed. Values hold until the next row."""

    def __init__(self, path: Path, *, annual_vol: float = 0.55) -> None:
        self.annual_vol = annual_vol
        rows: list[tuple[int, int]] = []
        with path.open(newline="") as fh:
            for line_no, row in enumerate(csv.reader(fh), start=1):
                if not row or row[0].strip().startswith("#"):
                    continue
                try:
                    second = _parse_ts(row[0].strip())
                    cents = round(float(row[1]) * 100)
                except (ValueError, IndexError):
                    if line_no == 1:
                        continue  # header
                    raise ValueError(f"{path}:{line_no}: expected timestamp,price, got {row!r}") from None
                rows.append((second, cents))
        if not rows:
            raise ValueError(f"{path}: no price rows")
        rows.sort()
        self._start = rows[0][0]
        self._end = rows[-1][0]
        values: list[int] = []
        it = iter(rows)
        current = next(it)
        pending = next(it, None)
        for second in range(self._start, self._end + 1):
            while pending is not None and pending[0] <= second:
                current, pending = pending, next(it, None)
            values.append(current[1])
        self._values = values

    def first_second(self) -> int:
        return self._start

    def value_cents(self, second: int) -> int:
        if second < self._start:
            raise ValueError(f"second {second} is before the price file starts ({self._start})")
        index = min(second - self._start, len(self._values) - 1)
        return self._values[index]


def _parse_ts(text: str) -> int:
    try:
        value = float(text)
    except ValueError:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        return int(parsed.timestamp())
    return int(value / 1000) if value > 1e11 else int(value)
