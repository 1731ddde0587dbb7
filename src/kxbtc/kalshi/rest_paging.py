"""Cursor-paged reads over the REST transport: the list endpoints, one page, every page, every item.

A cursor is followed until it is empty, absent or null; a repeated cursor is a protocol error (the
server would otherwise keep us paging forever).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from kxbtc.errors import ProtocolError
from kxbtc.kalshi.rest_messages import (
    Event,
    EventsPage,
    Fill,
    FillsPage,
    Market,
    MarketsPage,
    Order,
    OrdersPage,
    Settlement,
    SettlementsPage,
    Trade,
    TradesPage,
)
from kxbtc.kalshi.rest_transport import Params, RestTransport, query_params


class Paged(Protocol):
    @property
    def cursor(self) -> str | None: ...


PageT = TypeVar("PageT", bound=Paged)
ItemT = TypeVar("ItemT")


@dataclass(frozen=True, slots=True)
class ListEndpoint(Generic[PageT, ItemT]):
    """A cursor-paged GET: its path, its page type and where a page keeps its items."""

    path: str
    page: type[PageT]
    items: Callable[[PageT], list[ItemT] | None]


EVENTS_LIST: ListEndpoint[EventsPage, Event] = ListEndpoint("/events", EventsPage, lambda p: p.events)
MARKETS_LIST: ListEndpoint[MarketsPage, Market] = ListEndpoint("/markets", MarketsPage, lambda p: p.markets)
TRADES_LIST: ListEndpoint[TradesPage, Trade] = ListEndpoint("/markets/trades", TradesPage, lambda p: p.trades)
FILLS_LIST: ListEndpoint[FillsPage, Fill] = ListEndpoint("/portfolio/fills", FillsPage, lambda p: p.fills)
ORDERS_LIST: ListEndpoint[OrdersPage, Order] = ListEndpoint(
    "/portfolio/orders", OrdersPage, lambda p: p.orders
)
SETTLEMENTS_LIST: ListEndpoint[SettlementsPage, Settlement] = ListEndpoint(
    "/portfolio/settlements", SettlementsPage, lambda p: p.settlements
)


class PagedReads(RestTransport):
    """The transport plus paging; every endpoint group builds on this."""

    async def _get_page(
        self, endpoint: ListEndpoint[PageT, ItemT], filters: Params, cursor: str | None
    ) -> PageT:
        return await self._get(endpoint.path, endpoint.page, [*filters, *query_params(cursor=cursor)])

    async def _pages(self, endpoint: ListEndpoint[PageT, ItemT], filters: Params) -> AsyncIterator[PageT]:
        """Follow ``cursor`` until it is empty, absent or null; a repeated cursor is a protocol error."""
        seen: set[str] = set()
        cursor: str | None = None
        while True:
            page = await self._get_page(endpoint, filters, cursor)
            yield page
            cursor = page.cursor
            if not cursor:
                return
            if cursor in seen:
                raise ProtocolError(
                    f"GET {self.full_path(endpoint.path)}: cursor {cursor!r} repeated; stopping"
                )
            seen.add(cursor)

    async def _iter_items(
        self, endpoint: ListEndpoint[PageT, ItemT], filters: Params
    ) -> AsyncIterator[ItemT]:
        async for page in self._pages(endpoint, filters):
            for item in endpoint.items(page) or ():
                yield item
