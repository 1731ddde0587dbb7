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
from operator import attrgetter
from pathlib import Path
from typing import TypeVar

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


class _Line(WsFrame, frozen=True, rename={"t_ns": "t"}):
    """A line decoded straight into the frame event, its ``frame`` the frame's JSON text as a
    ``msgspec.Raw`` (bytes-like, not copied out of the block): no second object and no copy per line.
    (A field renamed in a subclass must be declared again for msgspec to apply the new name.)"""

    t_ns: int
    frame: msgspec.Raw


_line_decoder = msgspec.json.Decoder(_Line)
_decode_line = _line_decoder.decode
#: Compressed bytes read at a time: decoding a whole block of lines at once (``decode_lines``) costs a
#: fraction of a line-by-line read through ``gzip``'s buffered reader.
_BLOCK = 1 << 18
_by_time = attrgetter("t_ns")


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
        # Ties: frames before spot prints at the same nanosecond (a stable, stated order); among frames
        # (or prints) of several days, the earlier file's first.
        return _interleave(_merged([read_ws_file(p) for p in self.day_files]), self.spot())

    def frames(self) -> Iterator[WsFrame]:
        for path in self.day_files:
            yield from read_ws_file(path)

    def spot(self) -> Iterator[SpotTick]:
        return _merged([read_spot_file(p) for p in self.spot_files()])


_T = TypeVar("_T", WsFrame, SpotTick)


def _merged(streams: list[Iterator[_T]]) -> Iterator[_T]:
    """Time-ordered streams as one, by ``t_ns`` (stable: ties keep the streams' order)."""
    if len(streams) == 1:
        return streams[0]
    return heapq.merge(*streams, key=_by_time)


def _interleave(frames: Iterator[WsFrame], spot: Iterator[SpotTick]) -> Iterator[RecordedEvent]:
    """Two time-ordered streams as one; at the same ``t_ns`` the frames come first."""
    tick = next(spot, None)
    for frame in frames:
        while tick is not None and tick.t_ns < frame.t_ns:
            yield tick
            tick = next(spot, None)
        yield frame
    if tick is not None:
        yield tick
        yield from spot


def read_ws_file(path: Path) -> Iterator[WsFrame]:
    number = 0  # lines before the current block
    with reading(path):
        for block in _line_blocks(path):
            try:
                lines = _line_decoder.decode_lines(block)
            except msgspec.DecodeError:
                lines = _decode_each(path, block, number)
            number += len(lines)
            yield from lines


def _decode_each(path: Path, block: bytes, before: int) -> list[_Line]:
    """A block with a bad line, line by line: the error names the line."""
    out = []
    for number, raw in enumerate(block.splitlines(), before + 1):
        try:
            out.append(_decode_line(raw))
        except msgspec.DecodeError as exc:
            raise SharedFormatError(f"{path}: line {number}: {exc}") from None
    return out


def _line_blocks(path: Path) -> Iterator[bytes]:
    """The file's content in blocks of whole lines."""
    rest = b""
    for data in _chunks(path):
        data = rest + data
        cut = data.rfind(b"\n") + 1
        if cut:
            yield data[:cut]
        rest = data[cut:]
    if rest.strip():
        yield rest


def _chunks(path: Path) -> Iterator[bytes]:
    """The file's bytes, decompressed when it is gzip (members one after another, as ``gzip`` reads)."""
    with path.open("rb") as fh:
        if path.suffix != ".gz":
            while chunk := fh.read(_BLOCK):
                yield chunk
            return
        inflate = zlib.decompressobj(wbits=31)
        empty = True  # an empty file reads as no lines, as ``gzip`` reads it
        while chunk := fh.read(_BLOCK):  # zlib.error: not gzip (``reading`` names the file)
            empty = False
            yield inflate.decompress(chunk)
            while inflate.eof and inflate.unused_data:  # the next gzip member
                tail = inflate.unused_data
                inflate = zlib.decompressobj(wbits=31)
                yield inflate.decompress(tail)
        if not inflate.eof and not empty:
            raise SharedFormatError(f"{path}: the compressed data ends early (a truncated file)")


def read_spot_file(path: Path) -> Iterator[SpotTick]:
    # Rows as lists, columns found once in the header: a dict per row cost a tenth of a replay's reading.
    with reading(path), gzip.open(path, "rt", newline="") as fh:
        rows = csv.reader(fh)
        header = next(rows, None)
        if header is None:
            return
        try:
            t_col, ts_col, price_col, source_col = (
                header.index(name) for name in ("t_ns", "exchange_ts", "price", "source")
            )
        except ValueError:
            raise SharedFormatError(
                f"{path}: line 1: the header needs t_ns, exchange_ts, price and source, got {header}"
            ) from None
        for number, row in enumerate(rows, 2):
            if not row:  # a blank line, skipped as csv.DictReader skips it
                continue
            try:
                yield SpotTick(
                    int(row[t_col]), parse_utc_ns(row[ts_col]), float(row[price_col]), row[source_col]
                )
            except (IndexError, ValueError, TypeError, AttributeError) as exc:  # a short row
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
