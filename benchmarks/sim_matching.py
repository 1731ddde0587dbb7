"""Throughput of the simulator's exchange core: random limit orders from many users into one market.

    .venv/bin/python benchmarks/sim_matching.py [orders]

Prints orders per second for order entry + matching + accounting (no counterparties, no subscribers,
then with one event subscriber).
"""

from __future__ import annotations

import contextlib
import random
import sys
import time

from kxbtc.clock import NS_PER_S, ManualClock
from kxbtc.sim.exchange import Exchange, SimRejection
from kxbtc.units import Money


def run(n: int, subscribe: bool) -> float:
    ex = Exchange(
        ManualClock(1_781_159_000 * NS_PER_S), seed=1, counterparties=False, start_balance=Money(10**15)
    )
    if subscribe:
        queue = ex.subscribe(maxlen=10**8)
    ticker = next(
        m.ticker for m in ex.markets.values() if m.series_ticker == "KXBTCD" and m.status == "active"
    )
    users = [ex.ensure_user(f"u{i}") for i in range(50)]
    rng = random.Random(7)
    live: list[tuple[str, str]] = []
    start = time.perf_counter()
    for _ in range(n):
        if live and rng.random() < 0.3:
            user, oid = live.pop(rng.randrange(len(live)))
            with contextlib.suppress(SimRejection):  # already filled
                ex.cancel_order(user, oid, exchange_index=2)
            continue
        user = rng.choice(users)
        result = ex.create_order(
            user,
            ticker=ticker,
            side=rng.choice(("bid", "ask")),
            price=rng.randint(40, 60) * 100,
            count=rng.randint(1, 50) * 100,
            time_in_force="good_till_canceled",
            self_trade_prevention_type="maker",
        )
        if result.order.is_live:
            live.append((user, result.order.order_id))
    elapsed = time.perf_counter() - start
    ex.check_invariants()
    if subscribe:
        queue.drain()
    return n / elapsed


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    print(f"no subscribers: {run(count, False):,.0f} operations/s")
    print(f"one subscriber: {run(count, True):,.0f} operations/s")
