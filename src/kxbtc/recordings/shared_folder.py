"""Reader of the research recording format of ``shared/data/kalshi_l2_2026-05`` (its README).

A folder holds ``kalshi_ws_<day>.jsonl.gz`` (one ``{"t", "conn", "frame"}`` object per line, sorted by
``t``), ``spot_<day>.csv.gz`` (``t_ns,exchange_ts,source,price``) and ``markets.csv`` (one row per
KXBTC15M window: times, ``floor_strike``, ``expiration_value``, ``result``). Either the folder or single
day files can be given; a day file's folder supplies ``markets.csv`` and the same day's spot file.

KXBTC15M settles YES when the settlement value is at or above the strike (checked on every row of the
source: ``result == (expiration_value >= floor_strike)``), so its strike type is ``greater_or_equal``.
The book subscription did not set ``use_yes_price``: NO levels are NO-leg prices. The files carry no
``subscribed`` replies, so a sid starts with its first frame.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import heapq
import re
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path

import msgspec

from kxbtc.clock import parse_utc_ns
from kxbtc.errors import KxbtcError
from kxbtc.recordings.source import MarketInfo, RecordedEvent, SpotTick, WsFrame

_DAY = re.compile(r"^kalshi_ws_(\d{4}-\d{2}-\d{2})\.jsonl(\.gz)?$")


class SharedFormatError(KxbtcError):
    """A file of the shared format that cannot be read."""


#: Unreadable bytes: a broken or not-gzip ``.gz``, text that is not UTF-8, a NUL in a CSV.
_UNREADABLE = (OSError, EOFError, zlib.error, UnicodeDecodeError, csv.Error)


@contextlib.contextmanager
def reading(path: Path) -> Iterator[None]:
    """Turn a failure to read ``path``'s bytes into a SharedFormatError naming the file."""
    try:
        yield
    except _UNREADABLE as exc:
        raise SharedFormatError(f"{path}: unreadable: {type(exc).__name__}: {exc}") from None


class _Line(msgspec.Struct):
    t: int
    conn: str
    frame: msgspec.Raw


_decode_line = msgspec.json.Decoder(_Line).decode


def is_shared_folder(path: Path) -> bool:
    return path.is_dir() and (path / "markets.csv").exists() and any(path.glob("kalshi_ws_*.jsonl*"))


def is_shared_day_file(path: Path) -> bool:
    return path.is_file() and _DAY.match(path.name) is not None


class SharedRecording:
    """Some days of the shared format, read lazily (a day file is streamed, never loaded whole)."""

    use_yes_price = False
    accept_unannounced_sids = True

    def __init__(self, day_files: Sequence[Path], markets_csv: Path | None) -> None:
        if not day_files:
            raise SharedFormatError("no kalshi_ws_<day>.jsonl.gz files given")
        self.day_files = sorted(day_files, key=lambda p: p.name)
        self.markets_csv = markets_csv
        self._markets: dict[str, MarketInfo] | None = None

    @classmethod
    def open(cls, path: Path) -> SharedRecording:
        if path.is_dir():
            return cls(sorted(path.glob("kalshi_ws_*.jsonl*")), path / "markets.csv")
        markets = path.parent / "markets.csv"
        return cls([path], markets if markets.exists() else None)

    @property
    def name(self) -> str:
        return ",".join(p.name for p in self.day_files)

    @property
    def days(self) -> list[str]:
        return [m.group(1) for p in self.day_files if (m := _DAY.match(p.name))]

    def markets(self) -> dict[str, MarketInfo]:
        if self._markets is None:
            self._markets = read_markets_csv(self.markets_csv) if self.markets_csv is not None else {}
        return self._markets

    @property
    def has_spot(self) -> bool:
        return any(next(read_spot_file(path), None) is not None for path in self.spot_files())

    def spot_files(self) -> list[Path]:
        out = []
        for day_file, day in zip(self.day_files, self.days, strict=True):
            spot = day_file.parent / f"spot_{day}.csv.gz"
            if spot.exists():
                out.append(spot)
        return out

    def events(self) -> Iterator[RecordedEvent]:
        streams: list[Iterator[RecordedEvent]] = [
            *(read_ws_file(p) for p in self.day_files),
            *(read_spot_file(p) for p in self.spot_files()),
        ]
        # Ties: frames before spot prints at the same nanosecond (a stable, stated order).
        yield from heapq.merge(*streams, key=lambda e: (e.t_ns, 0 if isinstance(e, WsFrame) else 1))

    def frames(self) -> Iterator[WsFrame]:
        for path in self.day_files:
            yield from read_ws_file(path)

    def spot(self) -> Iterator[SpotTick]:
        streams = [read_spot_file(p) for p in self.spot_files()]
        yield from heapq.merge(*streams, key=lambda s: s.t_ns)


def read_ws_file(path: Path) -> Iterator[WsFrame]:
    opener = gzip.open if path.suffix == ".gz" else open
    with reading(path), opener(path, "rb") as fh:
        for number, raw in enumerate(fh, 1):
            try:
                line = _decode_line(raw)
            except msgspec.DecodeError as exc:
                raise SharedFormatError(f"{path}: line {number}: {exc}") from None
            yield WsFrame(line.t, line.conn, bytes(line.frame))


def read_spot_file(path: Path) -> Iterator[SpotTick]:
    with reading(path), gzip.open(path, "rt", newline="") as fh:
        for number, row in enumerate(csv.DictReader(fh), 2):
            try:
                yield SpotTick(
                    int(row["t_ns"]), parse_utc_ns(row["exchange_ts"]), float(row["price"]), row["source"]
                )
            except (KeyError, ValueError, TypeError, AttributeError) as exc:  # short rows give None
                raise SharedFormatError(f"{path}: line {number}: {exc!r}") from None


def read_markets_csv(path: Path) -> dict[str, MarketInfo]:
    out: dict[str, MarketInfo] = {}
    with reading(path), path.open(newline="", encoding="utf-8") as fh:
        for number, row in enumerate(csv.DictReader(fh), 2):
            try:
                ticker = row["ticker"]
                out[ticker] = MarketInfo(
                    ticker=ticker,
                    series=ticker.split("-", 1)[0],
                    open_ns=parse_utc_ns(row["open_time"]),
                    close_ns=parse_utc_ns(row["close_time"]),
                    strike_type="greater_or_equal",
                    floor_strike=_float(row.get("floor_strike", "")),
                    cap_strike=None,
                    result=row.get("result") or None,
                    settlement_value=_float(row.get("expiration_value", "")),
                )
            except (KeyError, ValueError, TypeError, AttributeError) as exc:  # short rows give None
                raise SharedFormatError(f"{path}: line {number}: {exc!r}") from None
    return out


def _float(text: str | None) -> float | None:
    return float(text) if text not in (None, "") else None
