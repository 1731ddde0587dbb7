"""What the venue parsers share: the errors a frame can raise, JSON decoding and price-level rows."""

from __future__ import annotations

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


def parse_levels(rows: Iterable[Sequence[Any]]) -> tuple[Level, ...]:
    """``[["price", "size"], ...]`` (strings or numbers) -> levels."""
    return tuple((float(row[0]), float(row[1])) for row in rows)
