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


def test_the_soak_table_gives_each_sides_held_memory_with_its_growth() -> None:
    from kxbtc.bench.soak import SoakReport

    report = SoakReport([1], rss_mb_by_hour=[100.0, 104.0, 105.0])
    report.engine_mb_by_hour = [2.0, 2.1, 2.2]
    report.simulator_mb_by_hour = [4.0, 5.0, 5.0]
    lines = report.table().splitlines()
    assert any(
        line.startswith("resident memory, whole process, hour 1 -> 3") and "(+5.0 %)" in line
        for line in lines
    )
    assert any(
        line.startswith("held by the engine (objects), hour 1 -> 3") and "2.0 -> 2.2 MB" in line
        for line in lines
    )
    assert any(line.startswith("held by the simulator (objects)") and "(+25.0 %)" in line for line in lines)
    assert report.to_json()["engine_mb_by_hour"] == [2.0, 2.1, 2.2]


def test_held_memory_stops_at_the_other_side() -> None:
    from kxbtc.bench.held import held_mb

    class Side:
        def __init__(self, payload: object, other: object = None) -> None:
            self.payload, self.other = payload, other

    big = Side(bytes(2_000_000))
    mine = Side(bytes(1_000_000), other=big)
    assert 1.0 < held_mb(mine, lambda o: o is big) < 1.1
    assert held_mb(mine, lambda o: False) > 3.0
