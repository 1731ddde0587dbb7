"""``kxbtc run`` against the simulator: the event feed on stderr, and Ctrl-C stops it cleanly.

The simulator runs in this process on its own thread on a fast seeded clock; ``kxbtc run --env sim``
is a subprocess told that clock. Each wait is on an event (a feed line in the log, an order filled on
the exchange), with a generous real-time safety net, never on an expected duration.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from engine_harness import sim_start_ns

from kxbtc.clock import ScaledClock
from kxbtc.sim.exchange import Exchange, SimConfig
from kxbtc.sim.harness import ThreadedSimHarness

SPEED = 30.0
SAFETY_NET_S = 180.0


def _wait_for(condition: Callable[[], bool], proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + SAFETY_NET_S
    while not condition():
        assert proc.poll() is None, f"kxbtc run exited early with {proc.returncode} waiting for {what}"
        assert time.monotonic() < deadline, f"no {what} within {SAFETY_NET_S} s"
        time.sleep(0.1)


def test_run_prints_the_feed_and_ctrl_c_stops_it_with_a_summary(tmp_path: Path) -> None:
    clock = ScaledClock(SPEED, start_ns=sim_start_ns("2026-06-11T13:03:00"))
    wall_ns, sim_ns = time.time_ns(), clock.time_ns()
    threaded = ThreadedSimHarness(exchange=Exchange(clock, seed=5, config=SimConfig(mispricing=0.04)))
    sim = threaded.start()
    try:
        key_file = sim.key.write_private_key(tmp_path)
        db, log_file, err_file = tmp_path / "kxbtc.db", tmp_path / "run.jsonl", tmp_path / "run.err"
        command = [
            sys.executable, "-m", "kxbtc", "--log-file", str(log_file), "--log-format", "json",
            "run", "--env", "sim", "--rest-url", sim.rest_url, "--ws-url", sim.ws_url, "--no-ntp",
            "--key-id", sim.key.key_id, "--key-file", str(key_file), "--db", str(db),
            "--series", "KXBTC15M", "--sim-clock", f"{SPEED}:{sim_ns}:{wall_ns}",
        ]  # fmt: skip
        env = {k: v for k, v in os.environ.items() if not k.startswith("KXBTC")}
        with open(err_file, "wb") as err:
            proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err, env=env)
        try:

            def feed_kinds() -> set[str]:
                lines = log_file.read_text().splitlines() if log_file.exists() else []
                return {json.loads(line).get("feed_kind", "") for line in lines if line.startswith("{")}

            _wait_for(lambda: {"market_opened", "order_filled"} <= feed_kinds(), proc, "fill in the feed")
            proc.send_signal(signal.SIGINT)  # Ctrl-C
            proc.wait(timeout=SAFETY_NET_S)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
    finally:
        threaded.stop()
    stderr = err_file.read_text(errors="replace")
    assert proc.returncode == 0, stderr[-3000:]
    assert "Traceback" not in stderr and "Aborted" not in stderr
    assert "market opened KXBTC15M-" in stderr and "order filled KXBTC15M-" in stderr
    summary = stderr.strip().splitlines()[-1]
    assert summary.startswith("kxbtc run stopped: orders "), summary
    assert f"database {db}" in summary
    assert re.search(r"realized P&L -?\$[\d,]+\.\d\d \(net of \$[\d,]+\.\d\d fees\)", summary), summary
    # The key's material and the signature header never reach the log.
    assert "PRIVATE KEY" not in log_file.read_text()
