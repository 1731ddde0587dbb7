"""Replay speed: recorded market-data events per second through the trading core, on one core.

An event is one recorded line the replay hands the core's driver: a WebSocket frame (decoded, run
through the stream state machine, applied to the books, the changed markets evaluated by every strategy
once per instant) or a spot trade (the index). Timer ticks, listings, settlements and order answers are
work the core does besides, not events. The recording is the shared research folder
(``../shared/data/kalshi_l2_2026-05``) or one of its day files, replayed from its first line (no
``--trade-from``) at 50 ms latency, the index from spot, in two configurations:

- ``default``: the default configuration (``fair_value`` and ``book_glitch``, the default risk limits:
  a replay trades whatever is enabled, and once a loss breaker halts trading the books and index still
  run but the strategies are not asked);
- ``fair_value_wide``: ``fair_value`` alone with ``research/wide.toml`` (the breakers opened wide, as the
  research replays run), so the strategy is evaluated on every changed book to the end.

Target: at least 100,000 events a second. The figure is wall time on whatever else the machine runs.

    .venv/bin/python benchmarks/bench_replay.py [PATH] [--only default|fair_value_wide] [--json]

Without the recording the benchmark says so and exits 0 (it is not part of the repository).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

from kxbtc.backtest.sim_loop import with_strategies
from kxbtc.config import Config, load_config
from kxbtc.recordings.open import open_recording
from kxbtc.replay.runner import ReplayRunner, ReplaySettings
from kxbtc.store.db import SqliteStore

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PATH = ROOT.parent / "shared/data/kalshi_l2_2026-05"
TARGET = 100_000


def configs() -> dict[str, Config]:
    return {
        "default": Config(),
        "fair_value_wide": with_strategies(load_config(ROOT / "research/wide.toml"), ["fair_value"]),
    }


def measure(name: str, config: Config, path: Path) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="kxbtc-bench-replay-") as tmp:
        store = SqliteStore(Path(tmp) / "replay.db")
        try:
            runner = ReplayRunner(config, open_recording(path), ReplaySettings(latency_ms=50), store)
            cpu = resource.getrusage(resource.RUSAGE_SELF)
            started = time.perf_counter()
            runner.run()
            seconds = time.perf_counter() - started
            after = resource.getrusage(resource.RUSAGE_SELF)
        finally:
            store.close()
    events = runner.counts.events
    cpu_s = (after.ru_utime - cpu.ru_utime) + (after.ru_stime - cpu.ru_stime)
    return {
        "config": name,
        "events": events,
        "frames": runner.counts.frames,
        "evaluations": runner.core.stats.evaluations,
        "orders": runner.counts.orders,
        "seconds": round(seconds, 3),
        "cpu_seconds": round(cpu_s, 3),  # this process, the store's writer thread included
        "events_per_s": round(events / seconds) if seconds > 0 else 0,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path", nargs="?", type=Path, default=DEFAULT_PATH, help="folder or day file")
    parser.add_argument("--only", choices=sorted(configs()), help="one configuration")
    parser.add_argument("--json", action="store_true", help="only the JSON lines")
    args = parser.parse_args()
    if not args.path.exists():
        print(f"bench_replay: skipped, no recording at {args.path}")
        return 0
    for name, config in configs().items():
        if args.only and name != args.only:
            continue
        result = {"benchmark": "replay", "recording": str(args.path), **measure(name, config, args.path)}
        result["target_events_per_s"] = TARGET
        print(json.dumps(result), flush=True)
        if not args.json:
            rate = float(str(result["events_per_s"]))
            verdict = "meets" if rate >= TARGET else "below"
            print(
                f"replay [{name}]: {result['events']:,} events in {result['seconds']} s"
                f" = {rate:,.0f} events/s ({verdict} {TARGET:,}/s; {result['evaluations']:,} evaluations)",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
