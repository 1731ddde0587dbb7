"""`kxbtc demo`: the simulator and the trading core on one simulated clock, then the ledger audit."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def _demo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kxbtc", "demo", "--json", *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_demo_trades_settles_and_its_ledger_matches_the_simulator() -> None:
    run = _demo("--hours", "0.75", "--seed", "3")
    assert run.returncode == 0, run.stderr[-3000:]
    summary = json.loads(run.stdout)
    assert summary["ledger_matches"] is True, summary["mismatches"]
    assert summary["settled_markets"] >= 1
    assert summary["orders"] > 0 and summary["fills"] > 0
    assert set(summary) >= {
        "settled_markets",
        "orders",
        "fills",
        "fees_usd",
        "realized_pnl_usd",
        "risk_events",
    }
    assert "not evidence of an edge" in summary["note"]
    assert "one simulated clock" in run.stderr  # the progress display went to stderr


def test_the_same_seed_gives_the_same_summary_byte_for_byte(tmp_path: Path) -> None:
    first, second = _demo("--hours", "0.5", "--seed", "1"), _demo("--hours", "0.5", "--seed", "1")
    assert first.returncode == second.returncode == 0, first.stderr[-2000:] + second.stderr[-2000:]
    assert first.stdout == second.stdout
    other = _demo("--hours", "0.5", "--seed", "1", "--latency-ms", "250")
    assert other.returncode == 0
    assert json.loads(other.stdout)["latency_ms"] == 250.0


def test_lost_market_data_is_resynced_and_the_ledger_still_matches() -> None:
    run = _demo("--hours", "0.5", "--seed", "2", "--loss", "0.02")
    assert run.returncode == 0, run.stderr[-3000:]
    summary = json.loads(run.stdout)
    assert summary["lost_messages"] > 0
    assert summary["ledger_matches"] is True, summary["mismatches"]


def test_demo_keeps_its_database_when_asked(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    run = _demo("--hours", "0.25", "--seed", "1", "--db", str(db))
    assert run.returncode == 0, run.stderr[-3000:]
    assert json.loads(run.stdout)["db_path"] == str(db)
    status = subprocess.run(
        [sys.executable, "-m", "kxbtc", "status", "--db", str(db), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert status.returncode == 0, status.stderr


def test_ctrl_c_stops_the_demo_cleanly_with_the_summary_so_far(tmp_path: Path) -> None:
    import signal
    import time

    db = tmp_path / "demo.db"
    process = subprocess.Popen(
        [sys.executable, "-m", "kxbtc", "demo", "--json", "--hours", "24", "--db", str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    # Interrupt once the run is under way (its first progress line), whenever that is on this machine.
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and "UTC" not in process.stderr.readline():
        pass
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err[-3000:]
    assert "Traceback" not in err and "Aborted" not in err
    summary = json.loads(out)
    assert summary["interrupted"] is True and summary["ledger_matches"] is True
    assert summary["db_path"] == str(db)
