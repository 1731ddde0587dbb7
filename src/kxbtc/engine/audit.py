"""Compare kxbtc's local record with the simulator's own ledger, exactly.

Checks, for one user: the same fills (id, market, side, price, count, fee), nothing extra locally, the
same open positions, the same settlements (result and payout), the same total fees, and the same cash:
the simulator's cash must equal start balance + realized P&L - fees - cost of open positions as the
local ledger computes them. Any difference is listed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kxbtc.pnl import Ledger
from kxbtc.sim.exchange import Exchange
from kxbtc.store.db import SqliteStore
from kxbtc.units import format_contracts, format_usd_exact


@dataclass(slots=True)
class LedgerComparison:
    fills_exchange: int = 0
    fills_local: int = 0
    fees_exchange: int = 0
    fees_local: int = 0
    settlements_exchange: int = 0
    settlements_local: int = 0
    cash_exchange: int = 0
    cash_local: int = 0
    realized_local: int = 0
    mismatches: list[str] = field(default_factory=list)

    @property
    def matches(self) -> bool:
        return not self.mismatches


def compare_with_simulator(
    store: SqliteStore, exchange: Exchange, user_id: str, start_balance: int
) -> LedgerComparison:
    store.flush()
    out = LedgerComparison()
    theirs = {f.fill_id: f for f in exchange.accounts.fills.get(user_id, [])}
    ours = {f.fill_id: f for f in store.fills()}
    out.fills_exchange, out.fills_local = len(theirs), len(ours)
    for fill_id, f in theirs.items():
        mine = ours.get(fill_id)
        if mine is None:
            out.mismatches.append(f"fill {fill_id} on {f.ticker} missing locally")
        elif (mine.ticker, mine.side, mine.price, mine.count, mine.fee) != (
            f.ticker,
            f.side,
            f.price,
            f.count,
            f.fee,
        ):
            out.mismatches.append(f"fill {fill_id} differs: local {mine}, exchange {f}")
    out.mismatches += [
        f"fill {fid} recorded locally but unknown to the exchange" for fid in ours.keys() - theirs.keys()
    ]
    out.fees_exchange = sum(f.fee for f in theirs.values())
    out.fees_local = sum(f.fee for f in ours.values())
    if out.fees_exchange != out.fees_local:
        out.mismatches.append(
            f"fees: local {format_usd_exact(out.fees_local)}, exchange {format_usd_exact(out.fees_exchange)}"
        )

    ledger = Ledger()
    for rec in sorted(ours.values(), key=lambda r: (r.ts_ns, r.fill_id)):
        ledger.apply_fill(rec.ticker, rec.side, rec.price, rec.count, rec.fee)
    their_settlements = {s.ticker: s for s in exchange.accounts.settlements.get(user_id, [])}
    our_settlements = {s.ticker: s for s in store.settlements()}
    out.settlements_exchange, out.settlements_local = len(their_settlements), len(our_settlements)
    for ticker, s in their_settlements.items():
        mine_s = our_settlements.get(ticker)
        if mine_s is None:
            out.mismatches.append(f"settlement of {ticker} missing locally")
            continue
        if (mine_s.result, mine_s.revenue) != (s.market_result, s.revenue):
            out.mismatches.append(
                f"settlement of {ticker}: local {mine_s.result}/{format_usd_exact(mine_s.revenue)}, exchange "
                f"{s.market_result}/{format_usd_exact(s.revenue)}"
            )
        ledger.settle(ticker, s.market_result)
    for ticker, m in ledger.markets.items():
        state = exchange.accounts.peek_position(user_id, 0, ticker)
        exchange_position = state.position if state is not None and ticker not in their_settlements else 0
        if m.position != exchange_position:
            out.mismatches.append(
                f"position {ticker}: local {format_contracts(m.position)},"
                f" exchange {format_contracts(exchange_position)}"
            )
    open_cost = sum(m.cost for m in ledger.markets.values())
    out.realized_local = ledger.total_realized() - ledger.total_fees()
    out.cash_local = start_balance + out.realized_local - open_cost
    out.cash_exchange = sum(c for (u, _sub, _shard), c in exchange.accounts.cash.items() if u == user_id)
    if out.cash_local != out.cash_exchange:
        out.mismatches.append(
            f"cash: local {format_usd_exact(out.cash_local)}, exchange {format_usd_exact(out.cash_exchange)}"
        )
    return out
