"""`kxbtc report` end to end: on the database of a deterministic `kxbtc demo` run, then the page opened in
a real headless Chromium, whose screenshot is kept in tests/artifacts/ (see its README) to look at.

Chromium is found as ``chromium`` or ``chromium-browser``; `make test` installs it (the `browser` target)
when it can. Without it the browser test is skipped, saying why, and the rest still runs.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import headless_chromium
import pytest

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
SCREENSHOT = ARTIFACTS / "report_screenshot.png"
WINDOW = (1400, 2000)
#: The page's background (#f6f8fa): the screenshot's corner must be it, or the page never rendered.
BACKGROUND = (0xF6, 0xF8, 0xFA)


def _kxbtc(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kxbtc", *args], capture_output=True, text=True, timeout=600, check=False
    )


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, Any], Path]:
    """The demo's own summary, the report's figures, and the report's directory (kept as an artifact)."""
    db = tmp_path_factory.mktemp("demo") / "demo.db"
    demo = _kxbtc("demo", "--hours", "0.5", "--seed", "1", "--db", str(db), "--json")
    assert demo.returncode == 0, demo.stderr[-3000:]
    out = ARTIFACTS / "report"
    shutil.rmtree(out, ignore_errors=True)
    report = _kxbtc("report", "--db", str(db), "--out", str(out), "--json")
    assert report.returncode == 0, report.stderr[-3000:]
    return json.loads(demo.stdout), json.loads(report.stdout), out


def test_the_report_of_a_demo_run_agrees_with_the_demo(
    demo_report: tuple[dict[str, Any], dict[str, Any], Path],
) -> None:
    demo, figures, out = demo_report
    assert figures["overview"]["fills"] == demo["fills"] > 0
    assert figures["overview"]["orders"] == demo["orders"]
    assert figures["overview"]["markets_settled"] == demo["settled_markets"]
    assert figures["pnl"]["total"]["net"]["dollars"] == demo["realized_pnl_usd"]
    assert figures["fees"]["total"]["fees"]["dollars"] == demo["fees_usd"]
    assert [e["kind"] for e in figures["risk_events"]["events"]] == [e["kind"] for e in demo["risk_events"]]
    # The fair-value strategy records its book in every decision: each fill has a mid to compare with.
    assert (
        figures["slippage"]["unmatched_fills"] == 0 and figures["slippage"]["total"]["fills"] == demo["fills"]
    )
    assert figures["forecast"]["forecasts"] > 0 and 0 <= figures["forecast"]["brier"] <= 1
    assert len(figures["equity"]["points"]) > 10
    assert (out / "report.html").stat().st_size > 50_000
    assert {"equity.png", "pnl_by_strategy.png", "reliability.png"} <= {p.name for p in out.glob("*.png")}


def test_the_report_opens_in_headless_chromium(
    demo_report: tuple[dict[str, Any], dict[str, Any], Path], tmp_path: Path
) -> None:
    browser = headless_chromium.find()
    if browser is None:
        pytest.skip(headless_chromium.MISSING)
    page = (demo_report[2] / "report.html").resolve()
    SCREENSHOT.unlink(missing_ok=True)
    run = subprocess.run(
        headless_chromium.command(
            browser, tmp_path / "profile", *WINDOW, f"--screenshot={SCREENSHOT}", page.as_uri()
        ),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert run.returncode == 0 and SCREENSHOT.is_file(), run.stderr[-3000:]
    assert SCREENSHOT.stat().st_size > 20_000
    headless_chromium.assert_drawn(SCREENSHOT, WINDOW, BACKGROUND, (5, 5))
