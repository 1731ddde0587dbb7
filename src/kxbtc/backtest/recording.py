"""The recording file: one JSON object per line, plain or gzip (by the ``.gz`` suffix).

Every line has ``t`` (the local receive time, Unix ns, on the recorder's clock) and ``k`` (its kind):

- ``header`` (the first line): ``format``, ``version``, ``series``, ``rest_url``, ``ws_url``,
  ``use_yes_price`` (how the book subscription priced the NO side);
- ``market``: a market's definition, everything needed to rebuild its ``ContractSpec`` (written when
  first discovered and again whenever it changes);
- ``ws``: one WebSocket frame exactly as received, under ``frame`` (book snapshots and deltas,
  ``cfbenchmarks_value``, ``trade``, ``market_lifecycle_v2``, and the ``subscribed``/``ok``/``error``
  replies whose ``seq`` the book sequencing needs);
- ``connection``: the WebSocket went ``up`` (true) or down (false);
- ``result``: a market's result read from REST after its close (``source`` ``"rest"``);
- ``end``: the last line of a recording that was stopped cleanly;
- ``timer``, ``ack`` and ``booked`` (engine journals only, ``kxbtc.engine.journal``): the instants the
  engine's timer ran, the exchange's answers to its orders (client order id, order id, status, counts),
  and the reconciliations that found every fill booked; ``batch`` (``end`` false, then true) brackets
  frames the engine received together and evaluated once, at the end.

A line that is not a JSON object with an integer ``t`` and a known ``k``, or a header of another format
or version, raises ``RecordingError`` naming the file and line.
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from pathlib import Path
from typing import IO, Any, Literal

import msgspec

from kxbtc.errors import KxbtcError
from kxbtc.kalshi.discovery import ContractSpec
from kxbtc.pricing.fees import FeeSchedule
from kxbtc.units import PriceGrid, format_price

FORMAT = "kxbtc-recording"
VERSION = 1
KINDS = frozenset(
    {"header", "market", "ws", "connection", "result", "end", "timer", "ack", "booked", "batch"}
)


class RecordingError(KxbtcError):
    """A recording that cannot be read: bad JSON, an unknown kind, another format or version."""

    def __init__(self, path: Path, line: int, reason: str) -> None:
        super().__init__(f"{path}: line {line}: {reason}")
        self.path = path
        self.line = line


@dataclass(frozen=True, slots=True)
class Header:
    start_ns: int
    series: tuple[str, ...]
    rest_url: str
    ws_url: str
    use_yes_price: bool
    #: The run whose decisions an engine journal holds (its client order ids derive from it).
    run_id: str = ""

    def to_json(self) -> dict[str, Any]:
        extra = {"run_id": self.run_id} if self.run_id else {}
        return {
            "t": self.start_ns,
            "k": "header",
            "format": FORMAT,
            "version": VERSION,
            "series": list(self.series),
            "rest_url": self.rest_url,
            "ws_url": self.ws_url,
            "use_yes_price": self.use_yes_price,
            **extra,
        }


@dataclass(frozen=True, slots=True)
class Line:
    """One line after the header: where it is, when it was received, what it holds."""

    number: int
    t: int
    kind: str
    body: dict[str, Any]  # the whole line, except for ``ws`` lines
    frame: bytes | None = None  # a ``ws`` line's frame, as recorded


def open_text(path: Path, mode: Literal["r", "w"]) -> IO[str]:
    """The file as buffered text, through gzip when its name ends in ``.gz``."""
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, mode), encoding="utf-8", newline="\n")
    return path.open(mode, encoding="utf-8", newline="\n", buffering=1 << 16)


# -- market definitions ---------------------------------------------------------------------------


def spec_to_json(spec: ContractSpec, t_ns: int) -> dict[str, Any]:
    return {
        "t": t_ns,
        "k": "market",
        "ticker": spec.ticker,
        "event_ticker": spec.event_ticker,
        "series_ticker": spec.series_ticker,
        "status": spec.status,
        "strike_type": spec.strike_type,
        "floor_strike": None if spec.floor_strike is None else str(spec.floor_strike),
        "cap_strike": None if spec.cap_strike is None else str(spec.cap_strike),
        "open_time_ns": spec.open_time_ns,
        "close_time_ns": spec.close_time_ns,
        "exchange_index": spec.exchange_index,
        "price_ranges": [
            {"start": format_price(r.start), "end": format_price(r.end), "step": format_price(r.step)}
            for r in spec.grid.ranges
        ],
        "fee_type": spec.fees.fee_type,
        "fee_multiplier": str(spec.fees.multiplier),
        "yes_sub_title": spec.yes_sub_title,
    }


def _strike(value: object) -> Decimal | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"strike {value!r} is not a decimal string")
    try:
        return Decimal(value)
    except InvalidOperation:
        raise ValueError(f"strike {value!r} is not a decimal") from None


def spec_from_json(body: dict[str, Any]) -> ContractSpec:
    """Rebuild a ``ContractSpec``; ValueError/KeyError/TypeError on a malformed definition."""
    index = body.get("exchange_index")
    return ContractSpec(
        ticker=str(body["ticker"]),
        event_ticker=str(body["event_ticker"]),
        series_ticker=str(body["series_ticker"]),
        status=str(body["status"]),
        strike_type=str(body["strike_type"]),
        floor_strike=_strike(body.get("floor_strike")),
        cap_strike=_strike(body.get("cap_strike")),
        open_time_ns=int(body["open_time_ns"]),
        close_time_ns=int(body["close_time_ns"]),
        exchange_index=None if index is None else int(index),
        grid=PriceGrid.from_wire(list(body["price_ranges"])),
        fees=FeeSchedule(str(body["fee_type"]), Fraction(str(body["fee_multiplier"]))),
        yes_sub_title=str(body.get("yes_sub_title", "")),
    )


# -- reading --------------------------------------------------------------------------------------


class _Head(msgspec.Struct):
    t: Any = None
    k: Any = None
    frame: msgspec.Raw = msgspec.Raw()


_head_decoder = msgspec.json.Decoder(_Head)


def _parse(path: Path, number: int, text: str) -> Line:
    try:
        head = _head_decoder.decode(text)
    except msgspec.ValidationError:
        raise RecordingError(path, number, "not a JSON object") from None
    except msgspec.DecodeError as exc:
        raise RecordingError(path, number, f"not JSON: {exc}") from None
    t, kind = head.t, head.k
    if type(t) is not int:
        raise RecordingError(path, number, f"'t' must be an integer receive time, got {t!r}")
    if not isinstance(kind, str) or kind not in KINDS:
        raise RecordingError(path, number, f"unknown kind {kind!r}")
    if kind == "ws":
        if not head.frame:
            raise RecordingError(path, number, "a ws line without its frame")
        return Line(number, t, kind, {}, bytes(head.frame))
    return Line(number, t, str(kind), msgspec.json.decode(text), None)


def _header(path: Path, line: Line) -> Header:
    body = line.body
    if line.kind != "header" or body.get("format") != FORMAT:
        raise RecordingError(path, line.number, f"not a {FORMAT} file (the first line must be its header)")
    if body.get("version") != VERSION:
        raise RecordingError(
            path, line.number, f"unsupported version {body.get('version')!r} (this kxbtc reads {VERSION})"
        )
    series = body.get("series", [])
    return Header(
        start_ns=line.t,
        series=tuple(str(s) for s in series) if isinstance(series, list) else (),
        rest_url=str(body.get("rest_url", "")),
        ws_url=str(body.get("ws_url", "")),
        use_yes_price=bool(body.get("use_yes_price", True)),
        run_id=str(body.get("run_id", "")),
    )


class Recording:
    """A recording on disk: ``header`` is read at once, ``lines()`` streams the rest (any number of times)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.truncated = False
        with open_text(path, "r") as fh:
            first = self._first(fh)
        self.header = _header(path, _parse(path, 1, first))

    def _first(self, fh: IO[str]) -> str:
        try:
            first = fh.readline()
        except (OSError, EOFError, UnicodeDecodeError) as exc:
            raise RecordingError(self.path, 1, f"unreadable: {exc}") from None
        if not first.strip():
            raise RecordingError(self.path, 1, "empty file: no header")
        return first

    def lines(self) -> Iterator[Line]:
        """Every line after the header, in file order; blank lines are skipped.

        A recorder killed mid-write leaves a cut-off tail (a gzip stream without its end, a last line
        without its newline): reading stops there and ``truncated`` is set. Anything else unreadable
        raises ``RecordingError``.
        """
        self.truncated = False
        with open_text(self.path, "r") as fh:
            number = 1
            self._first(fh)
            while True:
                try:
                    text = fh.readline()
                except EOFError:
                    self.truncated = True
                    return
                except (OSError, UnicodeDecodeError) as exc:
                    raise RecordingError(self.path, number + 1, f"unreadable: {exc}") from None
                if not text:
                    return
                number += 1
                if not text.strip():
                    continue
                try:
                    line = _parse(self.path, number, text)
                except RecordingError:
                    if text.endswith("\n"):
                        raise
                    self.truncated = True
                    return
                yield line
