"""Market-anchored fair value: trade where a blend of the model and the market disagrees with the price.

The book is a strong forecaster (on the real recordings the YES mid scores about as well as the model,
often better), so this strategy does not trust the model alone: it combines the two log-odds,

    logit p = a + b·logit(p_model) + c·logit(mid)

with weights fitted on the earlier part of the real recordings only (``kxbtc score``'s blend), and takes
the ask only where p beats the ask after fees by more than ``min_edge``.

Measured (docs/RESEARCH.md, reported part from 2026-05-13T15:00Z, 30 markets, after exact fees):
-$147.07 at 50 ms (-$0.0093 a contract, 95 % interval -$620 .. +$315), +$111.56 at 0 ms. Off by default.
"""

from __future__ import annotations

import math

from pydantic import Field

from kxbtc.config import StrategyConfig
from kxbtc.strategy.base import DecisionContext, MarketState
from kxbtc.strategy.fair_value_edge import FairValueEdge

_CLIP = 1e-4


def _logit(p: float) -> float:
    q = min(1 - _CLIP, max(_CLIP, p))
    return math.log(q / (1 - q))


class MarketAnchoredConfig(StrategyConfig):
    """``[strategies.market_anchored]``: the shared settings plus the blend's weights, fitted on the earlier
    part of the real recordings (``kxbtc score``, docs/RESEARCH.md)."""

    anchor_intercept: float = Field(-0.630, ge=-10, le=10)
    anchor_model_weight: float = Field(2.236, ge=-10, le=10)
    anchor_market_weight: float = Field(0.140, ge=-10, le=10)


class MarketAnchored(FairValueEdge[MarketAnchoredConfig]):
    name = "market_anchored"
    config_model = MarketAnchoredConfig

    def probability(self, p_model: float, market: MarketState, ctx: DecisionContext) -> float | None:
        mid = market.book.mid()
        if mid is None:
            return None
        cfg = self.config
        x = cfg.anchor_intercept + cfg.anchor_model_weight * _logit(p_model)
        x += cfg.anchor_market_weight * _logit(mid)
        return 1 / (1 + math.exp(-x))
