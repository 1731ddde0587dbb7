"""Whether the live engine trades at all: standing aside is the default until an edge is shown.

On the real recordings no strategy has yet shown a positive result after fees at 50 ms on the part of the
data it was not tuned on (docs/RESEARCH.md), so each strategy's ``expected_edge_per_contract`` is at or
below zero and ``[engine] trading = "auto"`` observes: books, index and strategies run, decisions are
recorded (as observed), and nothing is sent. ``trading = "on"`` overrides it (the operator's call, stated
in the log), ``"off"`` observes whatever the figures say.
"""

from __future__ import annotations

from kxbtc.config import Config


def trading_decision(config: Config) -> tuple[bool, str]:
    """(trade?, the one line that says why)."""
    mode = config.engine.trading
    enabled = {name: cfg for name, cfg in config.strategies.items() if cfg.enabled}
    if mode == "off":
        return (
            False,
            'observe-only: [engine] trading = "off"; strategies run and are recorded, nothing is sent',
        )
    if not enabled:
        return (
            False,
            "observe-only: no strategy is enabled; books and the index are recorded, nothing is sent",
        )
    if mode == "on":
        return (
            True,
            f'trading {", ".join(sorted(enabled))} ([engine] trading = "on", whatever the figures say)',
        )
    proven = sorted(name for name, cfg in enabled.items() if cfg.expected_edge_per_contract > 0)
    if proven:
        return True, f"trading {', '.join(proven)}: a measured edge after fees on real markets"
    return False, (
        "observe-only: no enabled strategy has shown an edge after fees on real markets (docs/RESEARCH.md); "
        'decisions are recorded, nothing is sent. Set [engine] trading = "on" to trade anyway.'
    )
