"""Replay speed: recorded market-data events per second through the trading core, on one core.

An event is one recorded line the replay hands the core's driver: a WebSocket frame (decoded, run
through the stream state machine, applied to the books, the changed markets evaluated) or a spot trade
(the index). The recording is the shared research folder (``../shared/data/kalshi_l2_2026-05``) or one of
its day files; the default configuration (no strategy trades, so every figure is the data path's own
cost), the index from spot. Target: at least 100,000 events a second.

    .venv/bin/python benchmarks/bench_replay.py [PATH] [--json]

Without the recording the benchmark says so and exits 0 (it is not part of the repository).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from kxbtc.config import Config
from kxbtc.recordings.open import open_recording
from kxbtc.replay.runner import ReplayRunner, ReplaySettings
from kxbtc.store.db import SqliteStore

DEFAULT_PATH = Path(__file__).resolve().parent.parent.parent / "shared/data/kalshi_l2_2026-05"
TARGET = 100_000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path", nargs="?", type=Path, default=DEFAULT_PATH, help="folder or day file")
    parser.add_argument("--json", action="store_true", help="only the JSON line")
    args = parser.parse_args()
    if not args.path.exists():
        print(f"bench_replay: skipped, no recording at {args.path}")
        return 0
    with tempfile.TemporaryDirectory(prefix="kxbtc-bench-replay-") as tmp:
        store = SqliteStore(Path(tmp) / "replay.db")
        try:
            runner = ReplayRunner(Config(), open_recording(args.path), ReplaySettings(latency_ms=50), store)
            started = time.perf_counter()
            runner.run()
            seconds = time.perf_counter() - started
        finally:
            store.close()
    events = runner.counts.events
    rate = events / seconds if seconds > 0 else 0.0
    result = {
        "benchmark": "replay",
        "recording": str(args.path),
        "events": events,
        "frames": runner.counts.frames,
        "seconds": round(seconds, 3),
        "events_per_s": round(rate),
        "target_events_per_s": TARGET,
    }
    print(json.dumps(result))
    if not args.json:
        verdict = "meets" if rate >= TARGET else "below"
        print(f"replay: {events:,} events in {seconds:.1f} s = {rate:,.0f} events/s ({verdict} {TARGET:,}/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
