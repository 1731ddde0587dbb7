"""Reading a one-minute candle file (``open_time,open,high,low,close[,volume]``) for the calibration.

Every refusal names the file and the line (1 = the header), so a bad row can be found and fixed.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from kxbtc.errors import ConfigError

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

REQUIRED_COLUMNS = ("open_time", "open", "high", "low", "close")


class CandleFileError(ConfigError):
    """The candle file cannot be used: the message names the line (1 = header) when there is one."""

    def __init__(self, message: str, *, line: int | None = None, path: str = "") -> None:
        where = f"{path}:" if path else ""
        where += f"line {line}: " if line is not None else (" " if path else "")
        super().__init__(f"{where}{message}")
        self.line = line
        self.path = path


@dataclass(frozen=True, slots=True)
class Candles:
    """One-minute candles sorted by open time (epoch seconds), without duplicates."""

    times: IntArray
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray

    def __len__(self) -> int:
        return int(self.times.size)


Progress = Callable[[int, int], None]


def _parse_time(text: str, line: int, path: str) -> int:
    raw = text.strip()
    try:
        if raw.isdigit():
            value = int(raw)
            return value // 1000 if value > 10**11 else value  # epoch milliseconds or seconds
        stamp = datetime.fromisoformat(raw)
    except ValueError:
        raise CandleFileError(f"open_time {text!r} is not a timestamp", line=line, path=path) from None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)  # the protocol is in UTC; naive times are read as UTC
    return int(stamp.timestamp())


def _parse_price(text: str, column: str, line: int, path: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise CandleFileError(f"{column} {text!r} is not a number", line=line, path=path) from None
    if not math.isfinite(value) or value <= 0:
        raise CandleFileError(f"{column} {text!r} is not a positive finite price", line=line, path=path)
    return value


def load_candles(path: str | Path, progress: Progress | None = None) -> Candles:
    """Read ``open_time,open,high,low,close[,volume]`` rows; raise CandleFileError naming the bad line."""
    name = str(path)
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError) as exc:
        raise CandleFileError(f"cannot read the file: {exc}", path=name) from exc
    if not rows:
        raise CandleFileError("the file is empty", path=name)
    header = [h.strip().lower() for h in rows[0]]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise CandleFileError(f"header lacks column(s) {', '.join(missing)}", line=1, path=name)
    cols = [header.index(c) for c in REQUIRED_COLUMNS]
    n = len(rows) - 1
    times = np.empty(n, dtype=np.int64)
    prices = np.empty((4, n), dtype=np.float64)
    count = 0
    for line, row in enumerate(rows[1:], start=2):
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) < len(header):
            raise CandleFileError(f"expected {len(header)} columns, found {len(row)}", line=line, path=name)
        t = _parse_time(row[cols[0]], line, name)
        if t % 60:
            raise CandleFileError(
                f"open_time {row[cols[0]]!r} is not on a whole minute", line=line, path=name
            )
        if count and t <= times[count - 1]:
            what = "duplicates" if t == times[count - 1] else "is earlier than"
            raise CandleFileError(
                f"open_time {row[cols[0]]!r} {what} the previous row's; "
                "rows must be sorted by time, one per minute",
                line=line,
                path=name,
            )
        o, h, lo, c = (
            _parse_price(row[i], col, line, name)
            for i, col in zip(cols[1:], REQUIRED_COLUMNS[1:], strict=True)
        )
        if h < max(o, c, lo) or lo > min(o, c):
            raise CandleFileError("high/low do not bracket open and close", line=line, path=name)
        times[count] = t
        prices[:, count] = (o, h, lo, c)
        count += 1
        if progress is not None and count % 5000 == 0:
            progress(count, n)
    if count == 0:
        raise CandleFileError("no candle rows after the header", path=name)
    return Candles(times[:count], prices[0, :count], prices[1, :count], prices[2, :count], prices[3, :count])
