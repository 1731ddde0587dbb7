"""Reading a REST request's query string: optional filters, paging and the portfolio filters, with the
validator's bare 400 on a bad value."""

from __future__ import annotations

from multidict import MultiMapping

from kxbtc.clock import NS_PER_S
from kxbtc.sim.exchange import Exchange
from kxbtc.sim.paging import DEFAULT_LIMIT, MAX_LIMIT, Paging, PortfolioQuery
from kxbtc.sim.request_decoding import query_int


def now_s(exchange: Exchange) -> int:
    """The exchange's clock in Unix seconds (the default end of time windows)."""
    return exchange.now_ns() // NS_PER_S


def opt_int(query: MultiMapping[str], name: str, operation: str) -> int | None:
    """An optional integer parameter: None when absent or empty."""
    if query.get(name) in (None, ""):
        return None
    return query_int(query, name, operation, default=0)


def opt_str(query: MultiMapping[str], name: str) -> str | None:
    """An optional string parameter: None when absent or empty."""
    value = query.get(name)
    return value or None


def paging_params(
    query: MultiMapping[str],
    operation: str,
    *,
    default: int = DEFAULT_LIMIT,
    high: int = MAX_LIMIT,
    tags: tuple[str, str] = ("gte", "lte"),
) -> Paging:
    """``cursor`` and ``limit`` of a list read; a ``limit`` outside 0..``high`` is the validator's 400."""
    limit = query_int(query, "limit", operation, default=default, low=0, high=high, tags=tags)
    return Paging(cursor=query.get("cursor", ""), limit=limit)


def portfolio_query(query: MultiMapping[str], operation: str) -> PortfolioQuery:
    """The filters and paging that orders, fills and settlements share (their own filters aside)."""
    return PortfolioQuery(
        ticker=opt_str(query, "ticker"),
        min_ts=opt_int(query, "min_ts", operation),
        max_ts=opt_int(query, "max_ts", operation),
        subaccount=opt_int(query, "subaccount", operation),
        **portfolio_paging(query, operation),
    )


def portfolio_paging(query: MultiMapping[str], operation: str) -> Paging:
    """Paging of the portfolio lists, whose validator names the ``limit`` bounds ``min``/``max``."""
    return paging_params(query, operation, tags=("min", "max"))
