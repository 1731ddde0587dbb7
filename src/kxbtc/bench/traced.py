"""Whose memory grows in a run that holds the simulator and kxbtc in one process: Python allocations
still alive (``tracemalloc``), split by the source file that made them into kxbtc's own code, the
simulator's (``kxbtc/sim/``, which legitimately keeps its history of orders, fills and trades) and
everything else (libraries, the standard library, the interpreter).

Tracing slows a run about twofold, so it is opt-in (``make soak`` with ``--trace-memory``)."""

from __future__ import annotations

import tracemalloc
from dataclasses import dataclass
from pathlib import PurePath

#: Traceback frames kept per allocation: the allocating line is enough to attribute it to a file.
FRAMES = 1
_MB = 1_000_000


@dataclass(frozen=True, slots=True)
class TracedShare:
    """Live traced bytes, in MB, by owner."""

    engine_mb: float
    simulator_mb: float
    other_mb: float


def owner(filename: str) -> str:
    """``engine`` for kxbtc's own modules, ``simulator`` for ``kxbtc/sim/``, else ``other``."""
    parts = PurePath(filename).parts
    if "kxbtc" not in parts:
        return "other"
    below = parts[len(parts) - 1 - parts[::-1].index("kxbtc") + 1 :]
    return "simulator" if below[:1] == ("sim",) else "engine"


def start() -> None:
    if not tracemalloc.is_tracing():
        tracemalloc.start(FRAMES)


def share(snapshot: tracemalloc.Snapshot | None = None) -> TracedShare:
    snapshot = snapshot or tracemalloc.take_snapshot()
    sizes = {"engine": 0, "simulator": 0, "other": 0}
    for stat in snapshot.statistics("filename"):
        sizes[owner(stat.traceback[0].filename)] += stat.size
    return TracedShare(sizes["engine"] / _MB, sizes["simulator"] / _MB, sizes["other"] / _MB)


def top_growth(first: tracemalloc.Snapshot, last: tracemalloc.Snapshot, limit: int = 25) -> list[str]:
    """The source lines whose live allocations grew most from ``first`` to ``last``."""
    return [str(stat) for stat in last.compare_to(first, "lineno")[:limit]]
