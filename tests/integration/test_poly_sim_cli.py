"""The simulated Polymarket venue from the command line: ``kxbtc sim serve --polymarket`` and
``kxbtc demo --cross-venue`` (in process, short)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time

from kxbtc.clock import NS_PER_S, SystemClock
from kxbtc.config import Config
from kxbtc.engine.demo import run_demo
from kxbtc.polymarket.gamma import GammaClient, window_start_of
from kxbtc.polymarket.http import PolyHttp
from kxbtc.sim.exchange import SimConfig
from kxbtc.sim.poly_config import PolySimConfig
from kxbtc.virtual_loop import run_virtual


def test_sim_serve_polymarket_prints_a_third_line_after_the_two_and_serves_gamma() -> None:
    command = [sys.executable, "-m", "kxbtc", "sim", "serve", "--port", "0", "--no-counterparties"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [*command, "--polymarket"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline().split() for _ in range(3)]
        assert [line[0] for line in lines] == ["REST", "WS", "POLY"]
        kalshi_port = lines[0][1].split(":")[2].split("/")[0]
        poly_url = lines[2][1]
        assert poly_url.startswith("http://127.0.0.1:") and not poly_url.endswith(f":{kalshi_port}")

        async def current_window() -> str:
            http = PolyHttp(poly_url, SystemClock())
            try:
                market = await GammaClient(http).updown_15m(window_start_of(int(time.time())))
            finally:
                await http.aclose()
            return market.slug

        assert asyncio.run(current_window()).startswith("btc-updown-15m-")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_the_cross_venue_demo_pairs_against_the_simulated_venue_and_reports_the_desk() -> None:
    # Both simulators and the engine share one virtual clock: the run is the same on any machine.
    summary = run_virtual(
        run_demo(
            Config(),
            minutes=0.2,
            speed=30.0,
            seed=2,
            sim_config=SimConfig(mispricing=0.03),
            cross_venue=True,
            poly_config=PolySimConfig(mispricing=0.2),
            # A fixed start a minute into a window: the run must not depend on the time of day it happens at.
            start_ns=(1_780_315_200 + 60) * NS_PER_S,
            virtual=True,
        )
    )
    report = summary.to_json()
    assert summary.ledger_matches, summary.mismatches
    cross_venue = report["cross_venue"]
    assert cross_venue["windows_found"] >= 1 and cross_venue["windows_missing"] == 0
    assert cross_venue["filled"] >= 1 and cross_venue["pairs"] >= cross_venue["filled"]
    assert cross_venue["paper"] is True
    assert float(cross_venue["cost_usd"]) > float(cross_venue["fees_usd"]) > 0
    assert any(e["kind"] == "poly_leg_filled" for e in report["risk_events"])
