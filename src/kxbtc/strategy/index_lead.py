"""Index lead: take a quote the market has left behind after a sharp move of the index.

Exchange spot moves first and Kalshi's quotes follow. When the model's probability (which moves only with
the index) has moved by at least ``lead_min_move`` over the last ``lead_lookback_s`` seconds while the
market's mid has moved by less than half of that in the same direction, the ask on the side the index
moved toward may be stale: it is taken if the model still beats it after fees by ``min_edge``.

Measured (docs/RESEARCH.md): on the earlier part the mid's one-second changes correlate 0.65 with the
model's in the same second and only 0.17 one second later, so little of a move is left after a second.
Reported part (from 2026-05-13T15:00Z, 30 markets, after fees): +$129.96 at 50 ms (+$0.0215 a contract,
95 % interval -$278 .. +$534), but -$172.73 on the earlier part: an interval across zero and a sign that
flips between halves is not an edge yet. Off by default; the first candidate to re-test on more days.
"""

from __future__ import annotations

from collections import deque

from pydantic import Field

from kxbtc.clock import NS_PER_S
from kxbtc.config import StrategyConfig
from kxbtc.strategy.base import DecisionContext, MarketState
from kxbtc.strategy.fair_value_edge import FairValueEdge


class IndexLeadConfig(StrategyConfig):
    """``[strategies.index_lead]``: the shared settings plus how far back, and how large, a lead is."""

    lead_lookback_s: float = Field(2.0, gt=0, le=60)
    lead_min_move: float = Field(0.03, gt=0, lt=1)


class IndexLead(FairValueEdge[IndexLeadConfig]):
    name = "index_lead"
    config_model = IndexLeadConfig

    def __init__(self, config: IndexLeadConfig) -> None:
        super().__init__(config)
        self._history: dict[str, deque[tuple[int, float, float]]] = {}  # ticker -> (t, model, mid)

    def probability(self, p_model: float, market: MarketState, ctx: DecisionContext) -> float | None:
        mid = market.book.mid()
        if mid is None:
            return None
        ticker = market.contract.ticker
        history = self._history.setdefault(ticker, deque())
        history.append((ctx.now_ns, p_model, mid))
        horizon = ctx.now_ns - int(self.config.lead_lookback_s * NS_PER_S)
        while len(history) > 1 and history[1][0] <= horizon:
            history.popleft()
        then_t, then_model, then_mid = history[0]
        if then_t > horizon:
            return None  # not yet a full look-back of history
        model_move, mid_move = p_model - then_model, mid - then_mid
        if abs(model_move) < self.config.lead_min_move:
            return None
        if model_move * mid_move > 0 and abs(mid_move) >= abs(model_move) / 2:
            return None  # the market has already followed
        return p_model
