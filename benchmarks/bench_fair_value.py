"""Fair-value evaluations per second: the scalar ``fair_value`` and the vectorised ``fair_value_array``.

Inputs are random but realistic: spot $60k-$100k, strikes within ±$300, 1 s to 1 h to close (a third inside
the averaging window, partly observed), 20 %-150 % annualised vol. Each figure is the best of ``--repeat``
timed runs on one core.

    .venv/bin/python benchmarks/bench_fair_value.py [--scalar 200000] [--vector 1000000] [--repeat 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from kxbtc.pricing.fair_value import fair_value, fair_value_array
from kxbtc.pricing.volatility import per_second_vol


def _inputs(n: int, seed: int = 1) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    spot = rng.uniform(60_000, 100_000, n)
    seconds = np.where(rng.random(n) < 1 / 3, rng.uniform(0.5, 59.5, n), rng.uniform(60, 3600, n))
    count = np.where(seconds < 60, np.floor(60 - seconds), 0).astype(np.int64)
    return {
        "spot": spot,
        "strike": spot + rng.uniform(-300, 300, n),
        "seconds": seconds,
        "sigma": spot * per_second_vol(rng.uniform(0.2, 1.5, n)),
        "count": count,
        "observed": count * (spot + rng.normal(0, 20, n)),
    }


def bench_scalar(n: int, repeat: int) -> float:
    x = _inputs(n)
    rows = list(
        zip(
            x["spot"].tolist(),
            x["strike"].tolist(),
            x["seconds"].tolist(),
            x["sigma"].tolist(),
            x["observed"].tolist(),
            x["count"].tolist(),
            strict=True,
        )
    )
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for spot, strike, seconds, sigma, observed, count in rows:
            fair_value(spot, strike, seconds, sigma, observed_sum=observed, observed_count=count)
        best = min(best, time.perf_counter() - start)
    return n / best


def bench_vector(n: int, repeat: int) -> float:
    x = _inputs(n)
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fair_value_array(
            x["spot"],
            x["strike"],
            x["seconds"],
            x["sigma"],
            observed_sum=x["observed"],
            observed_count=x["count"],
        )
        best = min(best, time.perf_counter() - start)
    return n / best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--scalar", type=int, default=200_000, help="scalar evaluations per run")
    parser.add_argument("--vector", type=int, default=1_000_000, help="array length per vectorised run")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    scalar = bench_scalar(args.scalar, args.repeat)
    vector = bench_vector(args.vector, args.repeat)
    target = 100_000
    result = {
        "scalar_evals_per_second": round(scalar),
        "vectorised_evals_per_second": round(vector),
        "scalar_n": args.scalar,
        "vectorised_n": args.vector,
        "target_evals_per_second": target,
        "meets_target": max(scalar, vector) >= target,
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"scalar fair_value:       {scalar:>14,.0f} evaluations/s  ({args.scalar:,} per run)")
        print(f"vectorised fair_value:   {vector:>14,.0f} evaluations/s  (arrays of {args.vector:,})")
        print(f"target {target:,}/s: {'met' if result['meets_target'] else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
