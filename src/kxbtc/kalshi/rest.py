"""Async Kalshi REST client (Trade API v2) on httpx2: one class over the endpoint groups.

The parts, each with one job: signing, sending and the retry policy (``kalshi.rest_transport``), cursor
paging (``kalshi.rest_paging``), public market data (``kalshi.rest_market_data``), the signed portfolio,
account and transfers (``kalshi.rest_portfolio``) and V2 order entry (``kalshi.rest_orders``).
"""

from __future__ import annotations

from kxbtc.domain.orders import client_order_id
from kxbtc.kalshi.rest_market_data import MarketDataEndpoints
from kxbtc.kalshi.rest_orders import OrderEndpoints
from kxbtc.kalshi.rest_portfolio import PortfolioEndpoints


class KalshiRestClient(MarketDataEndpoints, PortfolioEndpoints, OrderEndpoints):
    """Kalshi Trade API v2 over HTTP. Use as ``async with KalshiRestClient(...) as client:``.

    ``base_url`` includes the API prefix, e.g. ``https://external-api.kalshi.com/trade-api/v2``.
    ``signer`` may be None for public market data only.
    """


# Client order ids have one scheme for every venue (the domain's); re-exported here for callers.
__all__ = ["KalshiRestClient", "client_order_id"]
