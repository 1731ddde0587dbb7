"""What the venue parsers share: the errors a frame can raise, JSON decoding and price-level rows."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import msgspec

from kxbtc.errors import ProtocolError, RejectedError, RetryableError
from kxbtc.oracle.feeds.book import Level


class FeedRejectedError(RejectedError):
    """The venue answered a subscription with an error frame; ``code`` carries its own code or text."""


class ReconnectRequestedError(RetryableError):
    """The venue asked us to reconnect (e.g. Bitstamp's ``bts:request_reconnect`` before maintenance)."""


def decode_json(raw: str | bytes) -> Any:
    try:
        return msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        raise ProtocolError(f"malformed JSON frame: {exc}") from None


def parse_level(price: Any, size: Any) -> Level:
    """One price level from a venue's strings or numbers. A price must be a finite number above 0 and a
    size a finite number of at least 0 (0 removes the level): ``false``, ``"nan"`` or ``"inf"`` would
    otherwise enter the book as a real price."""
    if isinstance(price, bool) or isinstance(size, bool):
        raise ProtocolError(f"price level ({price!r}, {size!r}): not numbers")
    level = (float(price), float(size))
    if not (math.isfinite(level[0]) and level[0] > 0 and math.isfinite(level[1]) and level[1] >= 0):
        raise ProtocolError(f"price level ({price!r}, {size!r}): not a positive price and size")
    return level


def parse_levels(rows: Iterable[Sequence[Any]]) -> tuple[Level, ...]:
    """``[["price", "size"], ...]`` (strings or numbers) -> levels."""
    return tuple(parse_level(row[0], row[1]) for row in rows)
