"""How often the bets won, counted two ways, both only over markets that settled YES or NO:

- markets: a settled market we traded is a hit when its realized P&L after fees is above zero;
- fills: a fill is a hit when the contract it bought paid out (a ``bid`` buys YES, an ``ask`` buys NO),
  counted per fill and per contract. A fill that closed an earlier position still counts by the leg it
  bought, which is what its own decision was about.

Open and voided markets are left out: nothing has been decided there yet.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from kxbtc.ops.pnl_report import Replay
from kxbtc.store.records import FillRecord, SettlementRecord


@dataclass(frozen=True, slots=True)
class HitRate:
    markets_settled: int
    markets_won: int
    fills_settled: int
    fills_won: int
    contracts_settled: int  # Count
    contracts_won: int  # Count


def hit_rate(result: Replay, fills: Iterable[FillRecord], settlements: Iterable[SettlementRecord]) -> HitRate:
    outcome = {s.ticker: s.result for s in settlements if s.result in ("yes", "no")}
    settled = [
        m for t, m in result.ledger.markets.items() if t in outcome and m.settled and (m.volume or m.realized)
    ]
    decided = [f for f in fills if f.ticker in outcome]
    won = [f for f in decided if (f.side == "bid") == (outcome[f.ticker] == "yes")]
    return HitRate(
        markets_settled=len(settled),
        markets_won=sum(m.net_realized > 0 for m in settled),
        fills_settled=len(decided),
        fills_won=len(won),
        contracts_settled=sum(f.count for f in decided),
        contracts_won=sum(f.count for f in won),
    )
