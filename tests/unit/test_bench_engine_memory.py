"""``make bench-memory``: what it reads from /proc, its hourly summary, and the rows ``kxbtc bench`` shows
(the engine's own process first, the soak's one-process rows kept and labelled). No process is run."""

from __future__ import annotations

import json
from pathlib import Path

from kxbtc.bench import engine_memory as em
from kxbtc.bench.suite import _engine_memory, _soak_memory, table
from kxbtc.clock import NS_PER_S

STATUS = "Name:\tpython\nVmPeak:\t  300000 kB\nVmRSS:\t  104448 kB\nRssAnon:\t   65536 kB\n"
# The command name may hold spaces and parentheses; utime is field 14 and stime 15 (here 250 and 50).
STAT = "4242 (py (x) y) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0 1 2 3"
NET_TCP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:A1B2 0100007F:9A0B 01 00000000:00000400 00:00000000 00000000     0        0 111 1
   1: 0100007F:A1B3 0100007F:9A0B 01 00000000:00000010 00:00000000 00000000     0        0 222 1
   2: 0100007F:A1B4 0100007F:0050 01 00000000:00000999 00:00000000 00000000     0        0 333 1
   3: 0100007F:9A0B 0100007F:A1B2 01 00000020:00000000 00:00000000 00000000     0        0 444 1
"""


def test_it_reads_resident_memory_cpu_time_and_unread_socket_bytes() -> None:
    assert em.status_mb(STATUS, "VmRSS") == 102.0
    assert em.status_mb(STATUS, "RssAnon") == 64.0
    assert em.status_mb(STATUS, "Missing") == 0.0
    assert em.cpu_seconds(STAT, 100.0) == 3.0
    inodes = em.socket_inodes(["socket:[111]", "/tmp/kxbtc.db", "socket:[222]", "pipe:[9]", "socket:[333]"])
    assert inodes == {111, 222, 333}
    # Bytes waiting in the engine's sockets to the simulator's port (0x9A0B): not another peer's, not
    # the simulator's own end of the connection.
    assert em.rx_backlog(NET_TCP, inodes, 0x9A0B) == 0x400 + 0x10


def test_each_hour_is_due_when_the_simulators_clock_reaches_it() -> None:
    speed, sim_ns, wall_ns = em.parse_sim_clock_line(
        "sim clock 60:2000000000000000000:1000000000000000000 (x)"
    )
    assert speed == 60.0
    # The simulator started serving 30 simulated seconds before its clock was read.
    start = sim_ns - 30 * NS_PER_S
    assert em.hour_due_s(1, speed, sim_ns, wall_ns, start) == 1_000_000_000 + (3600 - 30) / 60
    assert em.parse_sim_clock_line("REST http://127.0.0.1:1/trade-api/v2") is None


def _run(rss: list[float]) -> em.EngineMemoryRun:
    run = em.EngineMemoryRun(len(rss), 60.0, 1, list(em.ALL_SERIES), "drop=0.002", 0.08)
    for hour, mb in enumerate(rss, start=1):
        run.samples.append(
            em.HourSample(hour, 60.0 * hour, mb, mb - 37, 30.0 * hour, 60.0, 20.0 * hour, 4096 * hour, 0.25)
        )
    run.wall_s, run.engine_summary, run.engine_exit = 1440.0, "kxbtc run stopped: orders 9, fills 7", 0
    return run


def test_the_summary_gives_growth_peak_and_whether_the_engine_kept_up(tmp_path: Path) -> None:
    run = _run([100.0, 104.0, 103.0, 105.0])
    summary = run.summary()
    assert summary["rss_growth_pct"] == 5.0 and summary["rss_peak_mb"] == 105.0
    assert summary["engine_cpu_share_max"] == 0.5  # 30 CPU seconds a 60-second hour
    assert summary["backlog_max_bytes"] == 4 * 4096
    text = run.table()
    assert "100.0 -> 105.0 MB (+5.0 %), peak 105.0 MB" in text
    assert "kxbtc run stopped: orders 9, fills 7" in text
    doc = run.to_json()
    assert doc["rss_mb_by_hour"] == [100.0, 104.0, 103.0, 105.0] and len(doc["samples"]) == 4
    assert em.growth_pct([100.0]) is None


def test_kxbtc_bench_shows_the_engines_own_memory_and_keeps_the_soaks_rows_apart(tmp_path: Path) -> None:
    engine_json, soak_json = tmp_path / "engine_memory.json", tmp_path / "soak.json"
    engine_json.write_text(json.dumps(_run([100.0, 102.0, 104.0]).to_json()))
    soak_json.write_text(json.dumps({"rss_mb_by_hour": [111.4, 143.9], "engine_mb_by_hour": [1.2, 4.0]}))
    engine = {f.name: f for f in _engine_memory(engine_json) or []}
    assert engine["rss_hour1"].median == 100.0 and engine["rss_hour3"].median == 104.0
    assert engine["rss_growth"].median == 4.0 and engine["rss_peak"].median == 104.0
    assert engine["rss_growth"].what.startswith("engine alone")
    soak = {f.name: f for f in _soak_memory(soak_json) or []}
    assert soak["soak_rss_hour2"].median == 143.9 and soak["soak_rss_growth"].what.startswith("soak")
    assert _engine_memory(tmp_path / "absent.json") is None
    doc = {
        "machine": {"cpu": "cpu", "cores": 2, "python": "3.11", "date": "today"},
        "figures": {
            f.name: {"what": f.what, "unit": f.unit, "median": f.median, "p99": None, "n": 1}
            for f in [*engine.values(), *soak.values()]
        },
    }
    lines = table(doc).splitlines()
    assert lines.index(next(x for x in lines if x.startswith("engine alone"))) < lines.index(
        next(x for x in lines if x.startswith("soak"))
    )
