"""Public CLOB REST reads: ``GET /book?token_id=`` and its top of book.

Level order in REST books is not reliable (errata Part 4 §4.2): the best bid is the maximum bid price
and the best ask the minimum ask price, computed here, never taken by position.
"""

from __future__ import annotations

from dataclasses import dataclass

from kxbtc.polymarket.book import PolyBook
from kxbtc.polymarket.http import PolyHttp
from kxbtc.polymarket.messages import ClobBook, decode_clob_book, parse_poly_price, parse_poly_size
from kxbtc.units import Count, Price

__all__ = ["ClobClient", "TopOfBook", "top_of_book"]


@dataclass(frozen=True, slots=True)
class TopOfBook:
    asset_id: str
    bid: Price | None
    bid_size: Count
    ask: Price | None
    ask_size: Count
    timestamp_ms: int | None = None


def top_of_book(book: ClobBook) -> TopOfBook:
    """Best bid (max price) and best ask (min price) with their sizes; PolyValueError on bad strings."""
    bids = [(parse_poly_price(x.price, "bid.price"), parse_poly_size(x.size, "bid.size")) for x in book.bids]
    asks = [(parse_poly_price(x.price, "ask.price"), parse_poly_size(x.size, "ask.size")) for x in book.asks]
    bid = max(bids, default=None)
    ask = min(asks, default=None)
    ts = int(book.timestamp) if book.timestamp and book.timestamp.isdigit() else None
    return TopOfBook(
        book.asset_id,
        bid[0] if bid else None,
        bid[1] if bid else Count(0),
        ask[0] if ask else None,
        ask[1] if ask else Count(0),
        ts,
    )


class ClobClient:
    def __init__(self, http: PolyHttp) -> None:
        self.http = http

    async def book(self, token_id: str) -> ClobBook:
        return decode_clob_book(await self.http.get("/book", [("token_id", token_id)]))

    async def top_of_book(self, token_id: str) -> TopOfBook:
        return top_of_book(await self.book(token_id))

    async def poly_book(self, token_id: str) -> PolyBook:
        """A live local book seeded from REST (BookError if the venue's book is unusable)."""
        book = PolyBook(token_id)
        book.apply_snapshot(await self.book(token_id))
        return book
