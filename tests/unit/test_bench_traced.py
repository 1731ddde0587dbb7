"""The soak's memory split: an allocation is kxbtc's own, the simulator's or a library's by its file."""

from __future__ import annotations

from kxbtc.bench.traced import owner


def test_allocations_are_attributed_by_the_file_that_made_them() -> None:
    assert owner("/repo/src/kxbtc/core/books.py") == "engine"
    assert owner("/repo/src/kxbtc/sim/exchange.py") == "simulator"
    assert owner("/venv/lib/python3.11/site-packages/kxbtc/kalshi/ws.py") == "engine"
    assert owner("/usr/lib/python3.11/asyncio/events.py") == "other"
    assert owner("/repo/src/kxbtc/simulate.py") == "engine"  # only the sim package is the simulator's


def test_the_soak_table_separates_kxbtc_memory_from_the_simulators() -> None:
    from kxbtc.bench.soak import SoakReport
    from kxbtc.bench.traced import TracedShare

    report = SoakReport([1], rss_mb_by_hour=[100.0, 104.0])
    report.traced_by_hour = [TracedShare(1.0, 2.0, 0.5), TracedShare(1.2, 4.0, 0.6)]
    table = report.table()
    rows = {line.split("  ")[0]: line.split()[-4:] for line in table.splitlines()}
    assert rows["traced kxbtc (not sim) hour 1 -> last"] == ["1.0", "->", "1.2", "MB"]
    assert rows["traced simulator hour 1 -> last"] == ["2.0", "->", "4.0", "MB"]
    assert report.to_json()["traced_mb_by_hour"][1] == {"engine": 1.2, "simulator": 4.0, "other": 0.6}
