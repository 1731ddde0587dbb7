"""Throughput of the simulator's exchange core: random limit orders from many users into one market.

    .venv/bin/python benchmarks/sim_matching.py [orders]

Prints orders per second for order entry + matching + accounting (no counterparties, no subscribers,
then with one event subscriber).
"""

from __future__ import annotations

import sys
import time

from kxbtc.bench.figures import sim_order_flow


def run(n: int, subscribe: bool) -> float:
    ex, step = sim_order_flow()
    if subscribe:
        queue = ex.subscribe(maxlen=10**8)
    start = time.perf_counter()
    for _ in range(n):
        step()
    elapsed = time.perf_counter() - start
    ex.check_invariants()
    if subscribe:
        queue.drain()
    return n / elapsed


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    print(f"no subscribers: {run(count, False):,.0f} operations/s")
    print(f"one subscriber: {run(count, True):,.0f} operations/s")
