"""Logging controls and secret redaction: canary secrets never reach a log line, in any format."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from kxbtc.cli import cli
from kxbtc.logs import add_secret, configure_logging, redact, reset_logging, terminal_level

PEM = (
    "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCANARY1\n"
    "-----END PRIVATE KEY-----"
)
CANARIES = {
    "pem": f"loaded key {PEM}",
    "pem_repr": "key b'" + PEM.replace("\n", "\\n") + "'",
    "signature": "headers {'KALSHI-ACCESS-SIGNATURE': 'c2lnbmF0dXJlQ0FOQVJZMg==', 'x': 1}",
    "access_key": "KALSHI-ACCESS-KEY: canary3-key-id-0000",
    "authorization": "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.CANARY4",
    "api_key_json": '{"api_key": "canary5-abcdefgh"}',
    "token": "token=CANARY6tokentoken",
    "openai": "using sk-proj-CANARY7abcdefghijklmnop",
    "slack": "posting to https://hooks.slack.com/services/T000/B000/CANARY8xyz",
    "discord": "posting to https://discord.com/api/webhooks/123/CANARY9xyz",
    "telegram": "posting to https://api.telegram.org/bot123456789:AAHCANARY10abcdefghijklmnop/sendMessage",
}
SECRET_PARTS = ("CANARY", "MIIEvQ", "c2lnbmF0dXJl", "canary3", "canary5")


@pytest.fixture(autouse=True)
def _clean_logging() -> Iterator[None]:
    yield
    reset_logging()


@pytest.mark.parametrize("name", sorted(CANARIES))
def test_each_kind_of_secret_is_masked(name: str) -> None:
    line = redact(CANARIES[name])
    assert not any(part in line for part in SECRET_PARTS), line
    assert "[REDACTED" in line


def test_ordinary_lines_are_left_alone() -> None:
    line = "order filled KXBTC15M-26MAY130815-15: bought YES 86 contracts at 0.4700, fee $1.50"
    assert redact(line) == line


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_no_canary_reaches_the_log_file_nor_a_traceback(tmp_path: Path, log_format: str) -> None:
    log_file = tmp_path / "kxbtc.log"
    configure_logging(log_file=log_file, log_format=log_format)  # type: ignore[arg-type]
    add_secret("registered-CANARY11-value")
    log = logging.getLogger("kxbtc.test")
    for text in CANARIES.values():
        log.warning("%s", text)
    log.info("key id %s", "registered-CANARY11-value")
    try:
        raise ValueError(f"request failed with {CANARIES['authorization']}")
    except ValueError:
        log.exception("signing failed")
    content = log_file.read_text()
    assert "signing failed" in content and "ValueError" in content
    assert not any(part in content for part in SECRET_PARTS), content
    if log_format == "json":
        records = [json.loads(line) for line in content.splitlines() if line.startswith("{")]
        assert {r["level"] for r in records} >= {"warning", "info", "error"}
        assert all({"ts", "level", "logger", "msg"} <= set(r) for r in records)


def test_verbosity_moves_the_terminal_threshold() -> None:
    assert terminal_level(0, 0) == logging.WARNING
    assert terminal_level(1, 0) == logging.INFO
    assert terminal_level(2, 0) == logging.DEBUG
    assert terminal_level(0, 1) == logging.ERROR


def test_root_options_write_json_lines_to_the_log_file(tmp_path: Path) -> None:
    log_file = tmp_path / "logs" / "kxbtc.jsonl"
    result = CliRunner().invoke(
        cli, ["-v", "--log-file", str(log_file), "--log-format", "json", "config", "check"]
    )
    assert result.exit_code == 0, result.output
    assert log_file.exists()  # created with its folder, ready for the command's lines
    assert isinstance(logging.getLogger().handlers[-1], logging.FileHandler)
