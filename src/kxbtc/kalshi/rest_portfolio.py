"""Signed account endpoints: balance, positions, fills, orders and settlements as read, the account's
rate limits, and collateral transfers between shards."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Unpack

from kxbtc.kalshi.ratelimit import RateLimiter
from kxbtc.kalshi.rest_filters import FillFilters, OrderFilters, SettlementFilters
from kxbtc.kalshi.rest_messages import (
    AccountLimits,
    Balance,
    EndpointCosts,
    Fill,
    FillsPage,
    Order,
    OrderResponse,
    OrdersPage,
    PositionsPage,
    Settlement,
    SettlementsPage,
    Transfer,
    TransferCreated,
    TransferRequest,
    TransferResponse,
    TransfersPage,
    decode,
    encode,
    money_to_centicents,
)
from kxbtc.kalshi.rest_paging import FILLS_LIST, ORDERS_LIST, SETTLEMENTS_LIST, PagedReads
from kxbtc.kalshi.rest_transport import Retry, path_segment, query_params
from kxbtc.units import Money


class PortfolioEndpoints(PagedReads):
    """Portfolio, account and shard transfers (signed)."""

    async def get_balance(
        self, *, subaccount: int | None = None, exchange_index: int | None = None
    ) -> Balance:
        params = query_params(subaccount=subaccount, exchange_index=exchange_index)
        return await self._get("/portfolio/balance", Balance, params)

    async def get_positions(
        self,
        *,
        ticker: str | None = None,
        event_ticker: str | None = None,
        count_filter: str | None = None,
        subaccount: int | None = None,
        exchange_index: int | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> PositionsPage:
        params = query_params(
            ticker=ticker,
            event_ticker=event_ticker,
            count_filter=count_filter,
            subaccount=subaccount,
            exchange_index=exchange_index,
            limit=limit,
            cursor=cursor,
        )
        return await self._get("/portfolio/positions", PositionsPage, params)

    async def get_fills(self, *, cursor: str | None = None, **filters: Unpack[FillFilters]) -> FillsPage:
        return await self._get_page(FILLS_LIST, query_params(**filters), cursor)

    def iter_fills(self, **filters: Unpack[FillFilters]) -> AsyncIterator[Fill]:
        return self._iter_items(FILLS_LIST, query_params(**filters))

    async def get_orders(self, *, cursor: str | None = None, **filters: Unpack[OrderFilters]) -> OrdersPage:
        return await self._get_page(ORDERS_LIST, query_params(**filters), cursor)

    def iter_orders(self, **filters: Unpack[OrderFilters]) -> AsyncIterator[Order]:
        """Orders newest first, across pages."""
        return self._iter_items(ORDERS_LIST, query_params(**filters))

    async def get_order(self, order_id: str) -> Order:
        """One order. The read model lags writes by ~hundreds of ms: do not trust one post-write GET."""
        return (await self._get(f"/portfolio/orders/{path_segment(order_id)}", OrderResponse)).order

    async def get_settlements(
        self, *, cursor: str | None = None, **filters: Unpack[SettlementFilters]
    ) -> SettlementsPage:
        return await self._get_page(SETTLEMENTS_LIST, query_params(**filters), cursor)

    def iter_settlements(self, **filters: Unpack[SettlementFilters]) -> AsyncIterator[Settlement]:
        return self._iter_items(SETTLEMENTS_LIST, query_params(**filters))

    async def get_account_limits(self) -> AccountLimits:
        return await self._get("/account/limits", AccountLimits)

    async def get_endpoint_costs(self) -> EndpointCosts:
        return await self._get("/account/endpoint_costs", EndpointCosts)

    async def configure_rate_limits(self) -> RateLimiter:
        """Size the client's token buckets from the account's limits and the endpoint cost table."""
        limits = await self.get_account_limits()
        costs = await self.get_endpoint_costs()
        self.rate_limiter = RateLimiter.from_wire(self._clock, limits, costs)
        return self.rate_limiter

    # ----------------------------------------------------------------------------------------------
    # Shard transfers

    async def intra_exchange_transfer(
        self,
        amount: Money,
        *,
        source_shard: int,
        destination_shard: int,
        source_subaccount: int | None = None,
        destination_subaccount: int | None = None,
    ) -> str:
        """Move collateral between shards (e.g. 0 -> 2 before trading BTC). Returns the transfer id.

        Asynchronous on the exchange: poll ``get_transfer`` until ``status == "complete"``.
        """
        if amount <= 0:
            raise ValueError("transfer amount must be positive")
        request = TransferRequest(
            source="event_contract",
            destination="event_contract",
            amount=money_to_centicents(amount),
            source_exchange_shard=source_shard,
            destination_exchange_shard=destination_shard,
            source_subaccount=source_subaccount,
            destination_subaccount=destination_subaccount,
        )
        path = "/portfolio/intra_exchange_instance_transfer"
        raw = await self._request("POST", path, body=encode(request), retry=Retry.RATE_LIMIT)
        return decode(raw, TransferCreated, f"POST {self.full_path(path)}").transfer_id

    async def get_transfers(self, *, limit: int | None = None, cursor: str | None = None) -> TransfersPage:
        params = query_params(limit=limit, cursor=cursor)
        return await self._get("/portfolio/intra_exchange_instance_transfers", TransfersPage, params)

    async def get_transfer(self, transfer_id: str) -> Transfer:
        path = f"/portfolio/intra_exchange_instance_transfers/{path_segment(transfer_id)}"
        return (await self._get(path, TransferResponse)).transfer
