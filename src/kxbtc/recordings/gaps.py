"""Spans where a recording is known to lack book messages (the shared format's ``gaps.csv``).

A missing delta file leaves a snapshot followed by silence: the stream cannot tell the book is frozen
until the next frame of that sid shows the jump in ``seq``, so a replay that reads the book in between
would read a book that no longer matches the exchange. ``gaps.csv`` names each such span per market,
from the last good frame (``t_last_ok_ns``) to the snapshot that rebuilt the book (``t_resync_ns``).
Masking it is about what was recorded, never about what the market did, so it looks ahead at nothing
a forecast uses.
"""

from __future__ import annotations

import csv
from bisect import bisect_right
from pathlib import Path

from kxbtc.recordings.shared_folder import SharedFormatError, SharedRecording, reading
from kxbtc.recordings.source import MarketRecording


class KnownGaps:
    """Per market, sorted half-open spans [start, end) of local receive time without a valid book."""

    def __init__(self, spans: dict[str, list[tuple[int, int]]] | None = None) -> None:
        self._starts: dict[str, list[int]] = {}
        self._ends: dict[str, list[int]] = {}
        for ticker, items in (spans or {}).items():
            ordered = sorted(items)
            self._starts[ticker] = [s for s, _ in ordered]
            self._ends[ticker] = [e for _, e in ordered]

    def __len__(self) -> int:
        return sum(len(v) for v in self._starts.values())

    def starts(self) -> list[tuple[int, str]]:
        """Every gap's first instant with its market, in time order."""
        return sorted((start, ticker) for ticker, starts in self._starts.items() for start in starts)

    def covers(self, ticker: str, t_ns: int) -> bool:
        starts = self._starts.get(ticker)
        if not starts:
            return False
        i = bisect_right(starts, t_ns) - 1
        return i >= 0 and t_ns < self._ends[ticker][i]


def read_gaps_csv(path: Path) -> KnownGaps:
    spans: dict[str, list[tuple[int, int]]] = {}
    with reading(path), path.open(newline="", encoding="utf-8") as fh:
        for number, row in enumerate(csv.DictReader(fh), 2):
            try:
                start, end = int(row["t_last_ok_ns"]), int(row["t_resync_ns"] or 0)
                ticker = row["market_ticker"]
            except (KeyError, ValueError, TypeError, AttributeError) as exc:  # short rows give None
                raise SharedFormatError(f"{path}: line {number}: {exc!r}") from None
            spans.setdefault(ticker, []).append((start, end if end > start else 2**63 - 1))
    return KnownGaps(spans)


def known_gaps(recording: MarketRecording) -> KnownGaps:
    """The recording's known gaps: ``gaps.csv`` beside a shared folder's day files, else none."""
    if isinstance(recording, SharedRecording):
        path = recording.day_files[0].parent / "gaps.csv"
        if path.exists():
            return read_gaps_csv(path)
    return KnownGaps()
