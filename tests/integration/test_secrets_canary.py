"""No secret leaks (issue 15): the demo and the engine (`kxbtc run --env sim` against the simulator on
loopback) run with canary secrets (an RSA key whose PEM and key id carry a canary string, an LLM API
key, a webhook URL token, the dashboard token), and every output, log, journal, database row and
dashboard response is searched for them."""

from __future__ import annotations

import asyncio
import gzip
import logging
import os
import secrets
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from engine_harness import sim_start_ns

from kxbtc.clock import ScaledClock, SystemClock
from kxbtc.config import load_config
from kxbtc.dashboard.server import create_app
from kxbtc.session.demo import run_session_demo
from kxbtc.sim.exchange import Exchange, SimConfig
from kxbtc.sim.harness import KeyPair, ThreadedSimHarness

REPO = Path(__file__).resolve().parents[2]
SPEED = 30.0
RUN_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Canaries:
    key: KeyPair
    pem_marker: str
    llm_key: str
    webhook: str
    dashboard_token: str

    def secrets(self) -> dict[str, str]:
        """Every string that must never be shown: the marked PEM's body lines count one by one."""
        body = [
            line for line in self.key.private_key_pem.decode().splitlines() if line and "-----" not in line
        ]
        found = {"key id": self.key.key_id, "PEM marker": self.pem_marker, "LLM key": self.llm_key}
        found |= {"webhook token": self.webhook.rsplit("/", 1)[-1], "dashboard token": self.dashboard_token}
        found |= {f"PEM line {i}": line for i, line in enumerate(body) if len(line) >= 32}
        return found


@pytest.fixture(scope="module")
def canaries() -> Canaries:
    tag = secrets.token_hex(6)
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    marker = f"kxbtc-canary-pem-{tag}"
    key = KeyPair(f"canary-key-{tag}", f"{marker}\n".encode() + pem, public)
    return Canaries(
        key=key,
        pem_marker=marker,
        llm_key=f"sk-kxbtc-canary-llm-{tag}",
        webhook=f"http://127.0.0.1:9/services/kxbtc-canary-hook-{tag}",
        dashboard_token=f"kxbtc-canary-dash-{tag}",
    )


def _config(path: Path, canaries: Canaries) -> Path:
    # The LLM ensemble on, its providers on a closed loopback port: calls fail, and a failure must not
    # show the key it was sent with.
    lines = ["[llm]", "enabled = true", "interval_s = 5", "deadline_s = 2"]
    # An alert webhook on a closed port: every post fails, and neither the failure nor anything else may
    # show its URL.
    lines += ["[[alerts.webhooks]]", f'url = "{canaries.webhook}"']
    for name in ("xai", "anthropic", "openai", "gemini", "deepseek"):
        lines += [
            f"[llm.providers.{name}]",
            'base_url = "http://127.0.0.1:9/v1"',
            'api_key_env = "KXBTC_CANARY_LLM_KEY"',
        ]
        lines += ["timeout_s = 1", "max_retries = 0"]
    path.write_text("\n".join(lines) + "\n")
    return path


def _environment(canaries: Canaries) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KXBTC")}
    env |= {
        "KXBTC_CANARY_LLM_KEY": canaries.llm_key,
        "KXBTC_CANARY_WEBHOOK_URL": canaries.webhook,
        "PYTHONPATH": str(REPO / "src"),
    }
    return env


def _files(folder: Path, skip: set[Path]) -> Iterator[tuple[str, str]]:
    """(name, text) of every file under ``folder``: gzip opened, SQLite databases row by row."""
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p not in skip):
        raw = path.read_bytes()
        if raw.startswith(b"SQLite format 3"):
            yield str(path), _database_text(path)
        elif raw.startswith(b"\x1f\x8b"):
            yield str(path), gzip.decompress(raw).decode("utf-8", "replace")
        else:
            yield str(path), raw.decode("utf-8", "replace")


def _database_text(path: Path) -> str:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        out = []
        tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            out += [repr(row) for row in conn.execute(f'SELECT * FROM "{table}"')]
        return "\n".join(out)
    finally:
        conn.close()


async def _dashboard_texts(db: Path, token: str) -> list[tuple[str, str]]:
    app = create_app(db, SystemClock(), token=token)
    texts = []
    async with TestClient(TestServer(app)) as client:
        for path in (
            "/",
            "/static/app.js",
            "/api/status",
            "/api/positions",
            "/api/orders",
            "/api/fills",
            "/api/pnl",
            "/api/equity",
            "/api/risk_events",
            "/api/decisions",
            "/api/llm",
        ):
            response = await client.get(path)
            texts.append((f"dashboard {path}", await response.text()))
    return texts


def _leaks(texts: list[tuple[str, str]], canaries: Canaries, *, allow: tuple[str, ...] = ()) -> list[str]:
    return [
        f"{what} in {where}"
        for where, text in texts
        for what, secret in canaries.secrets().items()
        if what not in allow and secret in text
    ]


def test_the_engine_shows_no_secret_anywhere(tmp_path: Path, canaries: Canaries) -> None:
    work = tmp_path / "run"
    work.mkdir()
    key_file = work / "key.pem"
    key_file.write_bytes(canaries.key.private_key_pem)
    key_file.chmod(0o600)
    config = _config(work / "kxbtc.toml", canaries)
    db, journal = work / "kxbtc.db", work / "journal.jsonl.gz"
    clock = ScaledClock(SPEED, start_ns=sim_start_ns("2026-06-11T13:03:00"))
    wall_ns, sim_ns = time.time_ns(), clock.time_ns()
    exchange = Exchange(clock, seed=5, config=SimConfig(mispricing=0.04))
    with ThreadedSimHarness(exchange=exchange, keys=[canaries.key], step_interval_s=0.05) as sim:
        command = [
            sys.executable, "-m", "kxbtc", "-v", "--log-file", str(work / "logs" / "kxbtc.log"),
            "run", "--env", "sim",
            "--rest-url", sim.rest_url, "--ws-url", sim.ws_url, "--no-ntp",
            "--key-id", canaries.key.key_id, "--key-file", str(key_file), "--db", str(db),
            "--journal", str(journal), "--config", str(config), "--sim-clock", f"{SPEED}:{sim_ns}:{wall_ns}",
        ]  # fmt: skip
        proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_environment(canaries), cwd=work
        )
        try:
            deadline = time.monotonic() + RUN_TIMEOUT_S
            # Until orders went out (signed with the key) and the LLM was asked (and failed).
            while not _sent(db) and time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.2)
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert proc.returncode == 0, err.decode(errors="replace")[-3000:]
    assert _sent(db), "no order and LLM call recorded: the secrets were never used"
    texts = [("stdout", out.decode(errors="replace")), ("stderr", err.decode(errors="replace"))]
    texts += list(_files(work, skip={key_file, config}))
    texts += asyncio.run(_dashboard_texts(db, canaries.dashboard_token))
    assert any(name.endswith("journal.jsonl.gz") for name, _ in texts)
    assert any(name.endswith("kxbtc.log") and text for name, text in texts)
    assert _leaks(texts, canaries) == []


def _sent(db: Path) -> bool:
    """Orders went out (signed with the key) and the LLM ensemble was called (with its key)."""
    if not db.exists():
        return False
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            tables = ("orders", "llm_calls")
            return all(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables)
        finally:
            conn.close()
    except sqlite3.Error:
        return False


def test_the_demo_shows_no_secret_anywhere(
    tmp_path: Path,
    canaries: Canaries,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    for name, value in _environment(canaries).items():
        monkeypatch.setenv(name, value)
    caplog.set_level(logging.DEBUG)
    cfg = load_config(_config(tmp_path / "kxbtc.toml", canaries))
    db = tmp_path / "demo" / "kxbtc.db"
    db.parent.mkdir()
    summary, _ = run_session_demo(cfg, hours=0.1, db_path=db)
    captured = capsys.readouterr()
    texts = [
        ("stdout", captured.out),
        ("stderr", captured.err),
        ("log", caplog.text),
        ("summary", repr(summary)),
    ]
    texts += list(_files(db.parent, skip=set()))
    texts += asyncio.run(_dashboard_texts(db, canaries.dashboard_token))
    assert _leaks(texts, canaries) == []
