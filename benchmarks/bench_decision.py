"""Book update to approved order: the CPU cost of the engine's fast path, one frame at a time.

Per ``orderbook_delta`` frame: decode the wire bytes, apply the delta to the L2 book, run the fair-value
strategy on the market (model probability, fees, Kelly size), and put any order it asks for through the
risk gate. That is everything between a WS frame arriving and ``ExecutionRouter.submit`` being called;
the network round trip to the exchange is not included (it is the exchange's, and dwarfs this).

The frames are the order-book benchmark's random-walk stream (``bench_orderbook.generate``), and the
index sits a little away from the strike so the strategy finds an edge on a share of the frames.

    .venv/bin/python benchmarks/bench_decision.py [--frames N] [--repeat N] [--cold] [--json]

``--cold`` sweeps 16 MB of memory and 100,000 objects between frames, untimed: the caches are cold when
each frame arrives, as they are live when a burst comes after the loop has done other work or waited.
On the 2-core EPYC VM, quiet: 20 us median warm, 150 us cold (issue 15's profile finding).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

from kxbtc.bench.book_stream import TICKER, Stream, fresh_book, generate
from kxbtc.clock import NS_PER_S, ManualClock
from kxbtc.config import RiskConfig, StrategyConfig
from kxbtc.kalshi.ws_messages import OrderbookDelta, decode_frame
from kxbtc.risk.limits import ApprovedOrder, MarketRisk, RiskManager
from kxbtc.strategy.base import ContractView, DecisionContext, MarketState, OracleView
from kxbtc.strategy.fair_value_edge import FairValueEdge
from kxbtc.units import Count, Money

NOW_NS = 1_764_083_700 * NS_PER_S
SPOT = 95_000.0
DOLLAR_VOL = SPOT * 0.45 / (365 * 24 * 3600) ** 0.5


class _Sweep:
    """Evicts the CPU caches: touches one byte a page of a 16 MB buffer and 100,000 objects."""

    def __init__(self) -> None:
        self.buffer = bytearray(16 << 20)
        self.objects = [object() for _ in range(100_000)]

    def __call__(self) -> None:
        self.buffer[::4096] = bytes(len(self.buffer) // 4096)
        sum(id(o) & 1 for o in self.objects)


def _one_pass(stream: Stream, yes_prices: bool, between: _Sweep | None = None) -> tuple[list[int], int, int]:
    """Nanoseconds per frame (decode + apply + strategy + risk), decisions made, orders approved."""
    clock = ManualClock(NOW_NS)
    risk = RiskManager(RiskConfig(), clock)
    risk.update_equity(Money(10_000_000_000))  # $10,000
    strategy = FairValueEdge(StrategyConfig())
    contract = ContractView(
        TICKER,
        "E",
        "KXBTC15M",
        "greater_or_equal",
        SPOT - 60,
        None,
        NOW_NS - 300 * NS_PER_S,
        NOW_NS + 480 * NS_PER_S,
    )
    oracle = OracleView(SPOT, DOLLAR_VOL, NOW_NS)
    ctx = DecisionContext(NOW_NS, Money(10_000_000_000))
    book = fresh_book(stream, yes_prices)
    timer = time.perf_counter_ns
    out: list[int] = []
    decisions = approved = 0
    for frame in stream.frames:
        if between is not None:
            between()
        t0 = timer()
        msg = decode_frame(frame)
        if type(msg) is OrderbookDelta:
            book.apply_delta_msg(msg.msg, use_yes_price=yes_prices, seq=msg.seq)
            for decision in strategy.on_book(MarketState(contract, book, Count(0)), oracle, ctx):
                decisions += 1
                view = MarketRisk(TICKER, contract.close_ns, Count(0), Money(0), 0.1)
                approved += isinstance(risk.check(decision.intent, view), ApprovedOrder)
        out.append(timer() - t0)
    return out, decisions, approved


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cold", action="store_true", help="evict the caches between frames")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    stream = generate(args.frames, yes_prices=False)
    between = _Sweep() if args.cold else None
    _one_pass(stream, False, between)  # warm-up
    # The machine is shared: keep the round least disturbed by other processes (lowest median).
    rounds = [_one_pass(stream, False, between) for _ in range(args.repeat)]
    times, decisions, approved = min(rounds, key=lambda r: statistics.median(r[0]))
    times.sort()
    result = {
        "frames": len(times),
        "decisions": decisions,
        "approved": approved,
        "median_us": times[len(times) // 2] / 1000,
        "p99_us": times[len(times) * 99 // 100] / 1000,
        "max_us": times[-1] / 1000,
        "mean_us": statistics.fmean(times) / 1000,
        "python": sys.version.split()[0],
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"book update -> approved order, {result['frames']} frames"
            f" ({decisions} decisions, {approved} approved): median {result['median_us']:.2f} us,"
            f" p99 {result['p99_us']:.2f} us, mean {result['mean_us']:.2f} us, max {result['max_us']:.1f} us"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
