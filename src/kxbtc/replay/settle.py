"""What settling a market pays our position, as the venue would report it."""

from __future__ import annotations

from kxbtc.domain.events import MarketSettled
from kxbtc.pnl import Ledger
from kxbtc.recordings.source import MarketInfo
from kxbtc.units import Count, Money, notional


def settlement_of(ledger: Ledger, market: MarketInfo, now_ns: int) -> MarketSettled | None:
    """The settlement record of our position in ``market`` (None when we never traded it)."""
    pnl = ledger.markets.get(market.ticker)
    if pnl is None or market.result not in ("yes", "no"):
        return None
    yes = max(0, pnl.position)
    no = max(0, -pnl.position)
    won = yes if market.result == "yes" else no
    return MarketSettled(
        ticker=market.ticker,
        event_ticker=market.event_ticker or market.ticker.rsplit("-", 1)[0],
        result=market.result,
        yes_count=Count(yes),
        no_count=Count(no),
        yes_cost=Money(pnl.cost if yes else 0),
        no_cost=Money(pnl.cost if no else 0),
        revenue=notional(10_000, won),
        fee=Money(0),
        ts_ns=now_ns,
    )
