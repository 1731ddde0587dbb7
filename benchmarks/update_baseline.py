"""Write benchmarks/baseline.json: each quick figure's median as a ratio to the calibration workload.

The CI check (tests/unit/test_bench_baseline.py) fails when a ratio gets more than twice the one here.
Each ratio is the median of ``--runs`` runs, so one disturbed run does not set the bar.

    .venv/bin/python benchmarks/update_baseline.py [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from kxbtc.bench.suite import machine, ratios, run_quick

BASELINE = Path(__file__).resolve().parent / "baseline.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    runs = [ratios(*run_quick()) for _ in range(args.runs)]
    doc = {
        "machine": machine(),
        "ratios": {name: round(statistics.median(r[name] for r in runs), 4) for name in runs[0]},
    }
    BASELINE.write_text(json.dumps(doc, indent=2) + "\n")
    print(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()
