"""What a trader sees running ``kxbtc demo``: the event feed, the kept database, the terminal itself.

The terminal test runs the demo in a detached tmux session of fixed size, waits for the demo to finish
(its exit line, polled with ``capture-pane``: the wait is for the process, with a generous safety net,
never a timed assertion), and keeps the screen under tests/artifacts/: ``demo_terminal.txt`` with its
ANSI colours (``cat`` it in a terminal) and, when Chromium is there, ``demo_terminal.png`` rendered from
rich's SVG export of the same capture.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import headless_chromium
import pytest

import kxbtc

SRC = Path(kxbtc.__file__).resolve().parents[1]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
DEMO = ("demo", "--hours", "0.3", "--seed", "1")  # one market opens, trades and settles; the next opens
SIZE = (120, 40)
DONE = "KXBTC-DEMO-EXIT="
SAFETY_NET_S = 300.0
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _env() -> dict[str, str]:
    # The demo's settings come from its command line alone; src found wherever the test runs from.
    env = {k: v for k, v in os.environ.items() if not k.startswith("KXBTC")}
    env["PYTHONPATH"] = str(SRC)
    return env


def _assert_feed(text: str) -> None:
    assert re.search(r"\d\d:\d\d:\d\d  market opened KXBTC15M-\S+: BTC >= \$[\d,]+\.\d\d", text), text
    assert re.search(r"order sent \S+: (buy|sell) YES [\d,]+ contracts? at \$0\.\d{2,4} \[fair_value\]", text)
    assert re.search(r"order filled \S+: (bought|sold) YES [\d,]+ contracts? at \$0\.\d{2,4}, fee \$", text)
    assert re.search(r"market settled \S+: (YES|NO), P&L -?\$[\d,]+\.\d\d \(net of fees\)", text), text


def test_the_demo_prints_its_feed_and_keeps_its_database(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "kxbtc", *DEMO, "--json"],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=SAFETY_NET_S,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    _assert_feed(run.stderr)  # no terminal: the feed is printed line by line on stderr
    assert "reconcile:" not in run.stderr and "Traceback" not in run.stderr
    db = tmp_path / "kxbtc-demo.db"
    assert json.loads(run.stdout)["db_path"] == str(db)
    status = subprocess.run(
        [sys.executable, "-m", "kxbtc", "status", "--db", str(db), "--json"],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert status.returncode == 0, status.stderr
    assert status.stdout.strip()


def _tmux(socket: str, *args: str) -> str:
    return subprocess.run(
        ["tmux", "-L", socket, "-f", "/dev/null", *args], capture_output=True, text=True, check=True
    ).stdout


def test_the_demo_terminal_screenshot(tmp_path: Path) -> None:
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed (apt-get install tmux)")
    socket = f"kxbtc-test-{os.getpid()}"  # a private tmux server: nobody else's sessions are touched
    command = " ".join(
        [
            f"cd {tmp_path} &&",
            # The pane decides the size: no COLUMNS/LINES inherited from the test runner.
            f"env -u COLUMNS -u LINES PYTHONPATH={SRC} TERM=xterm-256color COLORTERM=truecolor",
            sys.executable,
            "-m kxbtc",
            *DEMO,
            f"; echo {DONE}$?; sleep 3600",
        ]
    )
    _tmux(socket, "new-session", "-d", "-s", "demo", "-x", str(SIZE[0]), "-y", str(SIZE[1]), command)
    try:
        deadline = time.monotonic() + SAFETY_NET_S
        while DONE not in (screen := _tmux(socket, "capture-pane", "-p", "-t", "demo")):
            assert time.monotonic() < deadline, f"the demo did not finish:\n{screen}"
            time.sleep(0.2)
        capture = _tmux(socket, "capture-pane", "-p", "-e", "-J", "-S", "-", "-t", "demo")
    finally:
        subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True, check=False)
    capture = capture.rstrip("\n") + "\n"
    plain = ANSI.sub("", capture)
    assert f"{DONE}0" in plain, plain
    _assert_feed(plain)
    # The panel stays on screen above the feed, and the summary names the database.
    assert plain.index("kxbtc demo (paper, simulator") < plain.index("market settled")
    assert "ledger matches simulator" in plain and str(tmp_path / "kxbtc-demo.db") in plain
    assert "\x1b[" in capture  # colours kept
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "demo_terminal.txt").write_text(capture)
    _render_png(capture, tmp_path)


def _render_png(capture: str, tmp_path: Path) -> None:
    """The capture as a picture: rich's SVG export, screenshotted by headless Chromium when present."""
    from rich.console import Console
    from rich.text import Text

    console = Console(record=True, width=SIZE[0], file=open(os.devnull, "w"), force_terminal=True)  # noqa: SIM115
    console.print(Text.from_ansi(capture.split(DONE)[0]), soft_wrap=True)
    svg = tmp_path / "demo_terminal.svg"
    svg.write_text(console.export_svg(title="kxbtc demo"))
    browser = headless_chromium.find()
    if browser is None:
        return  # the text capture is the artifact
    png = ARTIFACTS / "demo_terminal.png"
    lines = capture.count("\n")
    run = subprocess.run(
        headless_chromium.command(
            browser, tmp_path / "profile", 1500, 100 + 25 * lines, f"--screenshot={png}", svg.as_uri()
        ),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert run.returncode == 0 and png.is_file(), run.stderr[-3000:]
    # A terminal has few colours: 64 keep the picture.
    headless_chromium.shrink(png, 64)


def test_ctrl_c_in_the_live_panel_stops_with_the_summary_so_far(tmp_path: Path) -> None:
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed (apt-get install tmux)")
    socket = f"kxbtc-test-{os.getpid()}-int"
    command = " ".join(
        [
            f"cd {tmp_path} &&",
            f"env -u COLUMNS -u LINES PYTHONPATH={SRC} TERM=xterm-256color",
            sys.executable,
            "-m kxbtc demo --hours 24 --seed 2",
            f"; echo {DONE}$?; sleep 3600",
        ]
    )
    _tmux(socket, "new-session", "-d", "-s", "demo", "-x", str(SIZE[0]), "-y", str(SIZE[1]), command)
    try:
        deadline = time.monotonic() + SAFETY_NET_S
        # Interrupt once a market has settled on screen, whenever that is on this machine.
        while "market settled" not in (screen := _tmux(socket, "capture-pane", "-p", "-t", "demo")):
            assert DONE not in screen and time.monotonic() < deadline, screen
            time.sleep(0.1)
        _tmux(socket, "send-keys", "-t", "demo", "C-c")
        while DONE not in (screen := _tmux(socket, "capture-pane", "-p", "-t", "demo")):
            assert time.monotonic() < deadline, screen
            time.sleep(0.2)
        capture = _tmux(socket, "capture-pane", "-p", "-J", "-S", "-", "-t", "demo")
    finally:
        subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True, check=False)
    assert f"{DONE}0" in capture, capture
    assert "Traceback" not in capture and "Aborted" not in capture
    assert "stopped early" in capture and "ledger matches simulator" in capture
    assert str(tmp_path / "kxbtc-demo.db") in capture
