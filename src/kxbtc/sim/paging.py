"""Cursor paging for the simulator's list endpoints: newest first, the cursor names the last row served.

A cursor is an opaque base64 of ``kx:<seq>``; a garbage cursor reads from the start, as an empty one does.
The portfolio lists (orders, fills, settlements) also share their filters: ``PortfolioQuery``.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Generic, Protocol, TypedDict, TypeVar

from kxbtc.clock import NS_PER_S

T = TypeVar("T")

#: Page size when the request names none (or 0), and the most one page holds.
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list; ``cursor`` is ``""`` on the last page."""

    items: list[T]
    cursor: str


class Paging(TypedDict, total=False):
    """Where a list read starts (``cursor``, "" for the newest) and how many rows it returns."""

    cursor: str
    limit: int


class PortfolioQuery(Paging, total=False):
    """The filters every portfolio list shares; a filter left out or None matches every row.

    ``min_ts`` and ``max_ts`` are Unix seconds, inclusive.
    """

    ticker: str | None
    min_ts: int | None
    max_ts: int | None
    subaccount: int | None


class PortfolioRow(Protocol):
    """What ``portfolio_page`` reads of an order, fill or settlement."""

    @property
    def ticker(self) -> str: ...

    @property
    def subaccount(self) -> int: ...

    @property
    def seq(self) -> int: ...


Row = TypeVar("Row", bound=PortfolioRow)


def portfolio_page(rows: Iterable[Row], time_ns: Callable[[Row], int], query: PortfolioQuery) -> Page[Row]:
    """The page of ``rows`` that ``query`` asks for; ``time_ns`` is the instant ``min_ts``/``max_ts`` test."""
    ticker, subaccount = query.get("ticker"), query.get("subaccount")
    min_ts, max_ts = query.get("min_ts"), query.get("max_ts")
    kept = [
        row
        for row in rows
        if (ticker is None or row.ticker == ticker)
        and (subaccount is None or row.subaccount == subaccount)
        and in_window(time_ns(row), min_ts, max_ts)
    ]
    return paginate(kept, lambda row: row.seq, query.get("cursor", ""), query.get("limit", DEFAULT_LIMIT))


def in_window(ts_ns: int, min_ts: int | None, max_ts: int | None) -> bool:
    """Whether ``ts_ns`` lies within [min_ts, max_ts] (Unix seconds; None is unbounded)."""
    return (min_ts is None or ts_ns >= min_ts * NS_PER_S) and (max_ts is None or ts_ns <= max_ts * NS_PER_S)


def paginate(items: list[T], key: Callable[[T], int], cursor: str, limit: int) -> Page[T]:
    """Newest first by ``key`` (a sequence number); the cursor is the last key served."""
    after = decode_cursor(cursor)
    ordered = sorted(items, key=key, reverse=True)
    if after is not None:
        ordered = [i for i in ordered if key(i) < after]
    limit = max(1, min(limit or DEFAULT_LIMIT, MAX_LIMIT))
    page = ordered[:limit]
    more = len(ordered) > limit
    return Page(page, encode_cursor(key(page[-1])) if more and page else "")


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"kx:{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int | None:
    """The sequence number a cursor continues below; None for "" or garbage (read from the start)."""
    if not cursor:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    if not text.startswith("kx:") or not text[3:].isdigit():
        return None
    return int(text[3:])


__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "Page",
    "Paging",
    "PortfolioQuery",
    "PortfolioRow",
    "decode_cursor",
    "encode_cursor",
    "in_window",
    "paginate",
    "portfolio_page",
]
