"""`kxbtc demo` end to end: simulator + engine in paper mode, then the ledger audit."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

# One rerun on failure: the demo runs on wall-clock time at 45x. A second failure fails the build.
pytestmark = pytest.mark.flaky(reruns=1)


def test_demo_trades_settles_and_its_ledger_matches_the_simulator() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "kxbtc", "demo", "--minutes", "0.5", "--speed", "45", "--seed", "3", "--json"],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
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
    assert "simulator + engine" in run.stderr  # the progress display went to stderr
