"""Posting alerts to webhooks without ever holding up the engine.

``notify`` only queues the text (dropping the oldest when the queue is full); one task posts each alert
to every configured webhook in turn, retrying network errors, 429 and 5xx with exponential backoff on
the injected clock. A webhook that keeps failing costs log lines, never the engine: nothing here raises
into the caller. Webhook URLs carry their secret (Slack's path, a Telegram bot token), so they are never
logged; a destination is named by its format and position instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx2

from kxbtc.backoff import equal_jitter
from kxbtc.clock import Clock
from kxbtc.config import AlertsConfig, WebhookConfig

log = logging.getLogger(__name__)

#: Posts JSON to a URL and returns the HTTP status (injectable for tests; httpx2 by default).
Poster = Callable[[str, dict[str, Any]], Awaitable[int]]
MAX_BACKOFF_S = 300.0


def payload(hook: WebhookConfig, text: str) -> dict[str, Any]:
    """The body each service expects."""
    if hook.format == "discord":
        return {"content": text[:2000]}  # Discord refuses longer messages
    if hook.format == "telegram":
        return {"chat_id": hook.chat_id, "text": text[:4096]}
    return {"text": text}


def _retryable(status: int) -> bool:
    return status == 429 or status >= 500


@dataclass(slots=True)
class DeliveryStats:
    sent: int = 0
    failed: int = 0  # alerts a webhook never accepted after every retry
    dropped: int = 0  # alerts dropped because the queue was full


class WebhookNotifier:
    def __init__(
        self,
        hooks: Sequence[WebhookConfig],
        clock: Clock,
        *,
        timeout_s: float = 5.0,
        max_retries: int = 4,
        retry_backoff_s: float = 2.0,
        queue_size: int = 100,
        post: Poster | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.hooks = list(hooks)
        self.clock = clock
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.retry_backoff_s = retry_backoff_s
        self.stats = DeliveryStats()
        self._queue: asyncio.Queue[str] = asyncio.Queue(maxsize=queue_size)
        self._post = post
        self._http: httpx2.AsyncClient | None = None
        self._rng = rng or random.Random()
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def from_config(cls, config: AlertsConfig, clock: Clock, **kwargs: Any) -> WebhookNotifier:
        return cls(
            config.webhooks,
            clock,
            timeout_s=config.timeout_s,
            max_retries=config.max_retries,
            retry_backoff_s=config.retry_backoff_s,
            queue_size=config.queue_size,
            **kwargs,
        )

    def notify(self, text: str) -> None:
        """Queue an alert; returns at once."""
        if self._queue.full():
            self._queue.get_nowait()
            self._queue.task_done()
            self.stats.dropped += 1
        self._queue.put_nowait(text)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.ensure_future(self._run())

    async def close(self, drain_s: float = 10.0) -> None:
        """Deliver what is queued (for at most ``drain_s`` of real time), then stop."""
        if self._task is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._queue.join(), drain_s)
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def _run(self) -> None:
        while True:
            text = await self._queue.get()
            try:
                for index, hook in enumerate(self.hooks):
                    await self._deliver(index, hook, text)
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug here must not end alerting, nor the engine: logged, next alert
                log.exception("alert delivery failed")
            finally:
                self._queue.task_done()

    async def _deliver(self, index: int, hook: WebhookConfig, text: str) -> None:
        body = payload(hook, text)
        name = f"webhook {index + 1} ({hook.format})"
        for attempt in range(self.max_retries + 1):
            try:
                status = await self._send(hook.url, body)
                problem = f"HTTP {status}"
            except httpx2.HTTPError as exc:
                status, problem = 0, f"{type(exc).__name__}"
            if 200 <= status < 300:
                self.stats.sent += 1
                return
            if status and not _retryable(status):
                break  # a 4xx other than 429 will not change by asking again
            if attempt < self.max_retries:
                delay = equal_jitter(attempt, self.retry_backoff_s, MAX_BACKOFF_S, self._rng)
                log.warning("alert to %s: %s; retrying in %.1f s", name, problem, delay)
                await self.clock.sleep(delay)
        self.stats.failed += 1
        log.error("alert to %s not delivered: %s", name, problem)

    async def _send(self, url: str, body: dict[str, Any]) -> int:
        if self._post is not None:
            return await self._post(url, body)
        if self._http is None:
            self._http = httpx2.AsyncClient(timeout=self.timeout_s)
        response = await self._http.post(url, json=body)
        return int(response.status_code)
