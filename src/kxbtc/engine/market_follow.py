"""Which markets the live engine follows: discovered from Kalshi's REST API (series -> open events ->
markets with a strike), listed to the trading core (and the journal) as they appear, forgotten once
closed and gone, so the engine rolls over to new markets without a restart."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kxbtc.kalshi.discovery import ContractSpec, open_contracts

if TYPE_CHECKING:
    from kxbtc.engine.core import Engine


async def follow_markets(engine: Engine) -> tuple[list[str], list[str]]:
    """Refresh ``engine.markets``; the markets new since the last call and those gone (closed)."""
    now = engine.clock.time_ns()
    found: dict[str, ContractSpec] = {}
    for series in engine.series:
        for spec in await open_contracts(engine.rest, series):
            if spec.close_time_ns > now and spec.has_strike:
                found[spec.ticker] = spec
    new = sorted(set(found) - set(engine.markets))
    gone = sorted(t for t, s in engine.markets.items() if t not in found and s.close_time_ns <= now)
    for ticker in gone:
        engine.markets.pop(ticker)
        engine.core.forget_market(ticker)
    engine.markets.update(found)
    for spec in found.values():
        engine.ws.books.set_grid(spec.ticker, spec.grid)
        if engine.journal is not None and spec.ticker in new:
            engine.journal.market(spec)
        engine.core.list_market(spec.instrument())
    return new, gone
