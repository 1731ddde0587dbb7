"""Logging for every command: ``-v/-q``, ``--log-file`` and ``--log-format json``, secrets redacted.

One call, ``configure_logging``, from the root command. The terminal gets warnings (``-v``: info,
``-vv``: debug, ``-q``: errors only) through rich's handler, which keeps a live panel intact; the feed's
own lines (logger ``kxbtc.feed``) stay off the terminal, which already shows the feed. A log file gets
everything from info up (debug with ``-vv``), as text or as one JSON object a line.

Every handler carries ``RedactingFilter``: private-key PEM blocks, signature and authorization headers,
bearer tokens, API keys, webhook URLs and any value registered with ``add_secret`` are masked before a
record is formatted, whatever logger it came from.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from kxbtc.config import Config

MASK = "[REDACTED]"
LogFormat = Literal["text", "json"]

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # A private key in PEM, whole (also when its newlines were escaped in a repr).
    (
        re.compile(r"-----BEGIN[A-Z ]*PRIVATE KEY-----.*?-----END[A-Z ]*PRIVATE KEY-----", re.DOTALL),
        "[REDACTED PRIVATE KEY]",
    ),
    # Header or field name, separator, value: KALSHI-ACCESS-SIGNATURE: x, "api_key": "x", token=x.
    (
        re.compile(
            r"(?i)((?:kalshi-access-(?:signature|key)|authorization|x-api-key|api[_-]?key|access[_-]?token"
            r"|refresh[_-]?token|token|secret|password|passphrase)[\"']?\s*[:=]\s*[\"']?)"
            r"(?:(?:bearer|basic)\s+)?[^\s\"',}&]+"
        ),
        r"\1" + MASK,
    ),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 " + MASK),
    # Provider keys by their shape (OpenAI/Anthropic style).
    (re.compile(r"\bsk-[A-Za-z0-9_-]{16,}"), MASK),
    # Webhook URLs whose path is the secret; a Telegram bot token.
    (re.compile(r"(https?://hooks\.slack\.com/services/)\S+"), r"\1" + MASK),
    (re.compile(r"(https?://(?:\w+\.)?discord(?:app)?\.com/api/webhooks/)\S+"), r"\1" + MASK),
    (re.compile(r"\bbot\d{5,}:[A-Za-z0-9_-]{20,}"), "bot" + MASK),
)

_secrets: set[str] = set()


def add_secret(value: str) -> None:
    """Mask this exact value wherever it appears in a log line (a key id, a configured URL)."""
    if len(value) >= 6:  # shorter values would mask ordinary words
        _secrets.add(value)


def redact(text: str) -> str:
    for secret in sorted(_secrets, key=len, reverse=True):
        text = text.replace(secret, MASK)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """Masks secrets in the message, its arguments and any traceback before a handler formats them."""

    _plain = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._plain.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, wall clock), level, logger, message, and the feed's fields."""

    EXTRA = ("feed_kind", "ticker", "market_ts_ns")

    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        out: dict[str, Any] = {
            "ts": f"{ts}.{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key in self.EXTRA:
            if hasattr(record, key):
                out[key] = getattr(record, key)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            out["exc"] = record.exc_text
        return json.dumps(out, ensure_ascii=False)


class _NotFeed(logging.Filter):
    """The terminal shows the feed itself: its log copies go to files only."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.name.startswith("kxbtc.feed")


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_installed: list[logging.Handler] = []


def terminal_level(verbose: int, quiet: int) -> int:
    return {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO}.get(
        max(-1, min(verbose - quiet, 2)), logging.DEBUG
    )


def configure_logging(
    *, verbose: int = 0, quiet: int = 0, log_file: Path | None = None, log_format: LogFormat = "text"
) -> None:
    """Install the handlers on the root logger (replacing any this function installed before)."""
    reset_logging()
    root = logging.getLogger()
    level = terminal_level(verbose, quiet)
    terminal: logging.Handler
    if log_format == "json" and log_file is None:
        terminal = logging.StreamHandler(sys.stderr)
        terminal.setFormatter(JsonFormatter())
    else:
        from rich.console import Console
        from rich.logging import RichHandler

        terminal = RichHandler(console=Console(stderr=True), show_path=False, markup=False)
    terminal.setLevel(level)
    terminal.addFilter(_NotFeed())
    handlers: list[logging.Handler] = [terminal]
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        file_handler = logging.FileHandler(log_file, encoding="utf-8")
        file_handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
        file_handler.setLevel(min(level, logging.INFO))
        handlers.append(file_handler)
    for handler in handlers:
        handler.addFilter(RedactingFilter())
        root.addHandler(handler)
        _installed.append(handler)
    root.setLevel(min(h.level for h in handlers))
    # Libraries' chatter (HTTP requests, websockets frames) only at -vv.
    for noisy in ("httpx", "httpx2", "httpcore", "websockets", "aiohttp", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if level <= logging.DEBUG else logging.WARNING)


def register_config_secrets(config: Config) -> None:
    """Mask the configuration's secrets by value: the Kalshi key id, webhook URLs, LLM API keys."""
    add_secret(config.kalshi.key_id)
    for hook in config.alerts.webhooks:
        add_secret(hook.url)
    for provider in config.llm.providers.values():
        if provider.api_key_env:
            add_secret(os.environ.get(provider.api_key_env, ""))


def reset_logging() -> None:
    """Remove what ``configure_logging`` installed (tests; a command run twice in one process)."""
    root = logging.getLogger()
    for handler in _installed:
        root.removeHandler(handler)
        handler.close()
    _installed.clear()
