"""``kxbtc doctor`` against the simulator on 127.0.0.1: each check passes or fails for the right reason."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from kxbtc.cli import EXIT_FAILURE, EXIT_OK, cli
from kxbtc.sim.harness import SimHarness, ThreadedSimHarness


@pytest.fixture
def sim() -> Iterator[SimHarness]:
    threaded = ThreadedSimHarness()
    harness = threaded.start()
    try:
        yield harness
    finally:
        threaded.stop()


@pytest.fixture(autouse=True)
def _no_kxbtc_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("KXBTC_"):
            monkeypatch.delenv(name)


def _doctor(sim: SimHarness, *args: str) -> tuple[int, dict[str, tuple[bool, str]]]:
    result = CliRunner().invoke(cli, ["doctor", "--rest-url", sim.rest_url, "--no-ntp", "--json", *args])
    checks = {c["check"]: (c["ok"], c["detail"]) for c in json.loads(result.stdout)}
    return result.exit_code, checks


def test_a_ready_machine_passes_every_check(sim: SimHarness, tmp_path: Path) -> None:
    key_file = sim.key.write_private_key(tmp_path)
    code, checks = _doctor(sim, "--key-id", sim.key.key_id, "--key-file", str(key_file))
    assert code == EXIT_OK, checks
    assert list(checks) == ["config", "keys", "clock", "connectivity", "auth", "shard balance"]
    assert all(ok for ok, _ in checks.values())
    assert "shard 2" in checks["shard balance"][1]


def test_a_missing_key_fails_the_keys_check_and_skips_auth(sim: SimHarness, tmp_path: Path) -> None:
    code, checks = _doctor(sim, "--key-id", "nobody", "--key-file", str(tmp_path / "missing.pem"))
    assert code == EXIT_FAILURE
    assert checks["keys"][0] is False and "does not exist" in checks["keys"][1]
    assert checks["connectivity"][0] is True
    assert checks["auth"] == (False, "skipped: no usable key")


def test_an_untrusted_key_fails_auth_with_the_exchanges_reason(sim: SimHarness, tmp_path: Path) -> None:
    from kxbtc.sim.harness import generate_key_pair

    stranger = generate_key_pair()
    key_file = stranger.write_private_key(tmp_path)
    code, checks = _doctor(sim, "--key-id", stranger.key_id, "--key-file", str(key_file))
    assert code == EXIT_FAILURE
    assert checks["keys"][0] is True and checks["auth"][0] is False


def test_enabled_llm_roles_need_their_key_variables_and_no_value_is_shown(
    sim: SimHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_file = sim.key.write_private_key(tmp_path)
    config = tmp_path / "llm.toml"
    config.write_text("[llm]\nenabled = true\n")
    for name in ("XAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GEMINI_API_KEY", "DEEPSEEK_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-never-shown-123")
    args = ("--key-id", sim.key.key_id, "--key-file", str(key_file), "--config", str(config))
    code, checks = _doctor(sim, *args)
    assert code == EXIT_FAILURE
    ok, detail = checks["llm keys"]
    assert not ok and "XAI_API_KEY is not set (roles lead)" in detail
    assert "OPENAI_API_KEY" not in detail and "sk-never-shown" not in json.dumps(checks)


def test_doctor_without_a_network_prints_fail_lines_and_no_traceback() -> None:
    """Nothing answers on the port: every check that needs the exchange is a FAIL line with its fix,
    the exit code is 1, and neither the text nor the JSON output carries a traceback."""
    import subprocess
    import sys

    args = [
        sys.executable,
        "-m",
        "kxbtc",
        "doctor",
        "--rest-url",
        "http://127.0.0.1:9/trade-api/v2",
        "--no-ntp",
    ]
    text = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    assert text.returncode == 1
    assert "Traceback" not in text.stdout + text.stderr
    lines = text.stdout.strip().splitlines()
    failed = [line for line in lines if line.startswith("FAIL")]
    assert {line.split()[1] for line in failed} >= {"keys", "clock", "connectivity"}
    assert all("fix:" in line for line in failed if line.split()[1] in ("keys", "connectivity"))
    as_json = subprocess.run([*args, "--json"], capture_output=True, text=True, timeout=120, check=False)
    assert as_json.returncode == 1 and "Traceback" not in as_json.stdout + as_json.stderr
