"""Whether the live engine trades at all: standing aside is the default until an edge is shown.

On the real recordings no strategy has yet shown a positive result after fees at 50 ms on the part of the
data it was not tuned on (docs/RESEARCH.md), so each strategy's ``expected_edge_per_contract`` is at or
below zero and ``[engine] trading = "auto"`` observes: books, index and strategies run, decisions are
recorded (as observed), and nothing is sent. ``trading = "on"`` overrides it (the operator's call, stated
in the log), ``"off"`` observes whatever the figures say.
"""

from __future__ import annotations

from collections.abc import Sequence

from kxbtc.config import Config


def trading_decision(
    config: Config, *, active: Sequence[str] | None = None, simulated: bool = False
) -> tuple[bool, str]:
    """(trade?, the one line that says why). ``active``: the strategies running (default: the enabled
    ones in ``config``). Against the simulator ``auto`` trades: that exercises the machinery and risks
    nothing (and proves nothing about an edge)."""
    mode = config.engine.trading
    names = active if active is not None else [n for n, c in config.strategies.items() if c.enabled]
    enabled = {name: config.strategies.get(name) for name in names}
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
    if simulated:
        names = ", ".join(sorted(enabled))
        return True, f"trading {names} against the simulator (machinery, not evidence of an edge)"
    proven = sorted(n for n, c in enabled.items() if c is not None and c.expected_edge_per_contract > 0)
    if proven:
        return True, f"trading {', '.join(proven)}: a measured edge after fees on real markets"
    return False, (
        "observe-only: no enabled strategy has shown an edge after fees on real markets (docs/RESEARCH.md); "
        'decisions are recorded, nothing is sent. Set [engine] trading = "on" to trade anyway.'
    )
