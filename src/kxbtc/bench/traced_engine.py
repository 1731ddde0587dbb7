"""``python -m kxbtc.bench.traced_engine DIR [--tracemalloc] kxbtc-args...``: the ``kxbtc`` command with a
SIGUSR1 handler that writes where its memory is to ``DIR/memory-N.json``: the C allocator's own figures
(glibc ``mallinfo2``: bytes in use, free bytes it keeps, mapped blocks), SQLite's (``sqlite3_memory_used``
and its high-water mark: page caches, statements) and, with ``--tracemalloc``, the live Python allocations
and a snapshot (``DIR/snapshot-N.pickle``) to compare by source line (``tracemalloc.Snapshot.load``).

``kxbtc.bench.engine_memory --trace-engine DIR`` runs the engine this way and signals it at every simulated
hour. A diagnostic, not the figure: tracing slows the engine, and its bookkeeping adds to the resident set.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import itertools
import json
import signal
import sys
import tracemalloc
from pathlib import Path
from types import FrameType
from typing import Any


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def c_memory() -> dict[str, int]:
    """glibc's and SQLite's own accounts of their memory; empty where the libraries are not found."""
    out: dict[str, int] = {}
    libc_name, sqlite_name = ctypes.util.find_library("c"), ctypes.util.find_library("sqlite3")
    try:
        libc = ctypes.CDLL(libc_name)
        libc.mallinfo2.restype = _MallInfo2
        info = libc.mallinfo2()
        # arena: heap bytes obtained with brk and in per-thread arenas; uordblks in use; fordblks free but
        # kept; hblkhd: big blocks mapped on their own (returned to the system when freed).
        out |= {f"malloc_{k}": getattr(info, k) for k in ("arena", "uordblks", "fordblks", "hblkhd")}
    except (OSError, AttributeError, TypeError):
        pass
    try:
        sqlite = ctypes.CDLL(sqlite_name)
        sqlite.sqlite3_memory_used.restype = ctypes.c_int64
        sqlite.sqlite3_memory_highwater.restype = ctypes.c_int64
        out["sqlite_used"] = sqlite.sqlite3_memory_used()
        out["sqlite_highwater"] = sqlite.sqlite3_memory_highwater(0)
    except (OSError, AttributeError, TypeError):
        pass
    return out


def main() -> None:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    trace = len(sys.argv) > 2 and sys.argv[2] == "--tracemalloc"
    args = sys.argv[3:] if trace else sys.argv[2:]
    numbers = itertools.count(1)

    def dump(_signum: int, _frame: FrameType | None) -> None:
        n = next(numbers)
        doc: dict[str, Any] = c_memory()
        if trace:
            doc["traced_current"] = tracemalloc.get_traced_memory()[0]
            tracemalloc.take_snapshot().dump(str(out / f"snapshot-{n}.pickle"))
        (out / f"memory-{n}.json").write_text(json.dumps(doc))

    if trace:
        tracemalloc.start(1)
    signal.signal(signal.SIGUSR1, dump)
    sys.argv = ["kxbtc", *args]
    from kxbtc.cli import main as kxbtc_main

    kxbtc_main()


if __name__ == "__main__":
    main()
