"""Counters of what the core did, for summaries and the operator's view."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from kxbtc.store.records import RiskEventRecord


@dataclass(slots=True)
class CoreStats:
    evaluations: int = 0
    decisions: int = 0
    observed: int = 0  # decisions seen while observing only (nothing sent)
    approved: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    orders_sent: int = 0
    orders_filled: int = 0
    fills_ws: int = 0
    fills_repaired: int = 0
    settlements: int = 0
    #: Markets newly listed to the core (discovery lists a market again every refresh: counted once).
    markets_listed: int = 0
    risk_events: list[RiskEventRecord] = field(default_factory=list)
