"""``python -m kxbtc.bench.traced_engine DIR kxbtc-args...``: the ``kxbtc`` command under ``tracemalloc``,
writing a snapshot of its live allocations to ``DIR/snapshot-N.pickle`` on each SIGUSR1.

``kxbtc.bench.engine_memory --trace-engine DIR`` runs the engine this way and signals it at every simulated
hour, so what grew between two hours can be read by source line (``tracemalloc.Snapshot.load``,
``compare_to``). Tracing slows the engine and its own bookkeeping adds to the resident set: a diagnostic,
not the figure.
"""

from __future__ import annotations

import itertools
import json
import signal
import sys
import tracemalloc
from pathlib import Path
from types import FrameType


def main() -> None:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    numbers = itertools.count(1)

    def dump(_signum: int, _frame: FrameType | None) -> None:
        n = next(numbers)
        current, peak = tracemalloc.get_traced_memory()
        # The peak since the last snapshot: transient allocations (a reconciliation's reads) that grow
        # with the day raise the resident set without growing the live objects.
        (out / f"traced-{n}.json").write_text(json.dumps({"current": current, "peak": peak}))
        tracemalloc.reset_peak()
        tracemalloc.take_snapshot().dump(str(out / f"snapshot-{n}.pickle"))

    tracemalloc.start(1)
    signal.signal(signal.SIGUSR1, dump)
    sys.argv = ["kxbtc", *sys.argv[2:]]
    from kxbtc.cli import main as kxbtc_main

    kxbtc_main()


if __name__ == "__main__":
    main()
