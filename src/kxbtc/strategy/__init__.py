"""Strategies: each turns market and oracle state into order intents with reasons."""

from __future__ import annotations

from kxbtc.config import StrategyConfig
from kxbtc.strategy.base import Strategy
from kxbtc.strategy.book_glitch import BookGlitch
from kxbtc.strategy.fair_value_edge import FairValueEdge
from kxbtc.strategy.imbalance import ImbalanceMomentum
from kxbtc.strategy.index_lead import IndexLead
from kxbtc.strategy.market_anchored import MarketAnchored
from kxbtc.strategy.settlement_window import SettlementWindow

REGISTRY: dict[str, type[Strategy]] = {
    cls.name: cls
    for cls in (FairValueEdge, MarketAnchored, IndexLead, ImbalanceMomentum, BookGlitch, SettlementWindow)
}


def build_strategies(configs: dict[str, StrategyConfig]) -> list[Strategy]:
    """Instantiate the enabled strategies; names were validated by the config loader."""
    return [REGISTRY[name](cfg) for name, cfg in configs.items() if cfg.enabled and name in REGISTRY]
