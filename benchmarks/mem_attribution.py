"""Whose memory grows over simulated hours of the in-process demo (simulator + trading core on one
clock): live Python allocations (tracemalloc) at simulated hour ``--first`` and at the end, split into
kxbtc's own code, the simulator's (``kxbtc/sim/``) and other, plus the source lines that grew most.

    PYTHONPATH=src .venv/bin/python benchmarks/mem_attribution.py --hours 4 [--series KXBTC15M ...]

Allocations are attributed to the line that made them, not to the object that keeps them: an int made in
the session's loop and stored in the simulator's history counts as kxbtc's.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

from kxbtc.bench import traced
from kxbtc.clock import NS_PER_S
from kxbtc.config import Config
from kxbtc.session.demo import run_session_demo
from kxbtc.session.runner import DEFAULT_START_NS, SimSession


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hours", type=float, default=4.0)
    parser.add_argument("--first", type=float, default=1.0, help="simulated hour of the first snapshot")
    parser.add_argument("--series", action="append", help="default KXBTC15M")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    marks = (int(args.first * 3600), int(args.hours * 3600) - 1)
    snapshots: list[tracemalloc.Snapshot] = []

    def on_second(session: SimSession) -> None:
        if (session.clock.time_ns() - DEFAULT_START_NS) // NS_PER_S in marks:
            snapshots.append(tracemalloc.take_snapshot())

    traced.start()
    started = time.perf_counter()
    series = tuple(args.series or ["KXBTC15M"])
    run_session_demo(Config(), hours=args.hours, seed=1, series=series, on_second=on_second)
    print(f"{args.hours:g} simulated hours of {', '.join(series)} in {time.perf_counter() - started:.0f} s")
    first, last = snapshots[0], snapshots[-1]
    for name, snap in ((f"hour {args.first:g}", first), ("end", last)):
        s = traced.share(snap)
        mb = f"kxbtc {s.engine_mb:.2f} MB, simulator {s.simulator_mb:.2f} MB, other {s.other_mb:.2f} MB"
        print(f"{name}: {mb}")
    print("\n".join(traced.top_growth(first, last, args.top)))


if __name__ == "__main__":
    main()
