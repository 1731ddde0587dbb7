"""The soak, bounded: two seeds, six simulated minutes each with a kill and a restart, every fault on
(clock steps of +3 s and -3 s early in each run instead of the long soak's schedule).

``make soak`` runs the same for 24 simulated hours (``kxbtc.bench.soak``). On virtual time, so the run is
the same on any machine; the bound keeps it under a minute on a busy one.
"""

from __future__ import annotations

from pathlib import Path

from kxbtc.bench.soak import START_NS, run_soak
from kxbtc.clock import NS_PER_S


def test_every_invariant_holds_under_every_fault_with_a_kill(tmp_path: Path) -> None:
    # 00:11 -> 00:17: the 00:15 window closes and rolls over mid-run.
    report = run_soak(
        [3, 4],
        hours=0.1,
        kills=1,
        db_dir=tmp_path,
        clock_steps=((30.0, 3.0), (90.0, -3.0)),
        start_ns=START_NS + 600 * NS_PER_S,
    )
    print(report.table())
    assert report.orders_sent > 0 and report.fills_exchange > 0
    assert report.faults["kills (then restart from the database)"] == 2
    assert report.faults["ws seq gaps (dropped or overtaken frames)"] > 0
    assert report.faults["REST retries (429, 5xx, lost)"] > 0
    assert report.faults["ws frames reordered (delivered after a later one)"] > 0
    assert report.books_compared > 0
    assert report.closed_books_held == 0  # closed markets' books are dropped (memory over a day)
    assert report.faults["clock steps (engine vs exchange)"] == 8
    assert report.invariants() == dict.fromkeys(report.invariants(), 0), report.table()
