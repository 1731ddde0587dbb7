"""Strategies: each turns market and oracle state into order intents with reasons.

Each is a plug-in (``base.Strategy``) listed once in ``registry.py``.
"""

from __future__ import annotations

from kxbtc.strategy.registry import KNOWN_STRATEGIES, REGISTRY, build_strategies, default_config

__all__ = ["KNOWN_STRATEGIES", "REGISTRY", "build_strategies", "default_config"]
