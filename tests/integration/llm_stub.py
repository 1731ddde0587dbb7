"""A local LLM API stub on 127.0.0.1 speaking two real wire protocols.

- OpenAI chat completions: ``POST /v1/chat/completions`` (``Authorization: Bearer <key>``).
- Anthropic messages: ``POST /v1/messages`` (``x-api-key: <key>`` or a bearer token, ``anthropic-version``).

Replies are scripted per model name (each test role uses its own model): a JSON text to return,
an HTTP error status, or a hang that only ends when the stub stops. The last scripted reply repeats.
A request with the wrong key gets a 401 whose body echoes the key, as some providers do, so tests
can check the key never leaks out of our error messages.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import defaultdict, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import loopback
from aiohttp import web


@dataclass(frozen=True)
class Reply:
    text: str = ""
    status: int = 200
    hang: bool = False
    delay_s: float = 0.0
    input_tokens: int = 1_000
    output_tokens: int = 200


def forecast_text(probability: float, confidence: float = 0.8, **extra: Any) -> str:
    body = {"probability": probability, "confidence": confidence, "rationale": "stub reasoning", **extra}
    body.setdefault("key_drivers", ["stub driver"])
    return json.dumps(body)


def forecast(probability: float, confidence: float = 0.8, **extra: Any) -> Reply:
    return Reply(text=forecast_text(probability, confidence, **extra))


@dataclass
class Received:
    protocol: str  # "openai" | "anthropic"
    model: str
    body: dict[str, Any]
    headers: dict[str, str]


@dataclass
class LlmStub:
    key: str = "sk-stub-key"
    scripts: dict[str, deque[Reply]] = field(default_factory=lambda: defaultdict(deque))
    received: list[Received] = field(default_factory=list)
    base_url: str = ""
    _runner: web.AppRunner | None = None
    _release: asyncio.Event | None = None

    @property
    def openai_url(self) -> str:
        return self.base_url + "/v1"

    def script(self, model: str, *replies: Reply) -> None:
        self.scripts[model].extend(replies)

    def calls(self, model: str) -> list[Received]:
        return [r for r in self.received if r.model == model]

    async def start(self) -> str:
        self._release = asyncio.Event()
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._openai)
        app.router.add_post("/v1/messages", self._anthropic)
        self._runner, port = await loopback.serve(app)
        self.base_url = f"http://127.0.0.1:{port}"
        return self.base_url

    async def stop(self) -> None:
        if self._release is not None:
            self._release.set()
        if self._runner is not None:
            await self._runner.cleanup()

    # -- plumbing ---------------------------------------------------------------------------------

    def _next(self, model: str) -> Reply:
        queue = self.scripts[model]
        if not queue:
            return Reply(status=404, text=json.dumps({"error": {"message": f"model {model} not scripted"}}))
        return queue.popleft() if len(queue) > 1 else queue[0]

    async def _reply(self, request: web.Request, protocol: str, key: str) -> Reply | web.Response:
        body = await request.json()
        model = str(body.get("model", ""))
        self.received.append(Received(protocol, model, body, dict(request.headers)))
        if key != self.key:
            text = f"Incorrect API key provided: {key}"
            error = {"error": {"type": "authentication_error", "message": text}}
            return web.json_response(error, status=401)
        reply = self._next(model)
        if reply.hang:
            assert self._release is not None
            await self._release.wait()
        if reply.delay_s:
            await asyncio.sleep(reply.delay_s)
        if reply.status != 200:
            error_body = reply.text or json.dumps(
                {"error": {"type": "api_error", "message": "internal error"}}
            )
            return web.Response(status=reply.status, text=error_body, content_type="application/json")
        return reply

    async def _openai(self, request: web.Request) -> web.StreamResponse:
        auth = request.headers.get("Authorization", "")
        reply = await self._reply(request, "openai", auth.removeprefix("Bearer "))
        if isinstance(reply, web.StreamResponse):
            return reply
        model = self.received[-1].model
        return web.json_response(
            {
                "id": f"chatcmpl-{len(self.received)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": reply.text, "refusal": None},
                        "finish_reason": "stop",
                        "logprobs": None,
                    }
                ],
                "usage": {
                    "prompt_tokens": reply.input_tokens,
                    "completion_tokens": reply.output_tokens,
                    "total_tokens": reply.input_tokens + reply.output_tokens,
                },
            }
        )

    async def _anthropic(self, request: web.Request) -> web.StreamResponse:
        # The current SDK sends the key as a bearer token; older clients send ``x-api-key``.
        bearer = request.headers.get("Authorization", "").removeprefix("Bearer ")
        reply = await self._reply(request, "anthropic", request.headers.get("x-api-key", bearer))
        if isinstance(reply, web.StreamResponse):
            return reply
        model = self.received[-1].model
        return web.json_response(
            {
                "id": f"msg_{len(self.received)}",
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [{"type": "text", "text": reply.text}],
                "stop_reason": "end_turn",
                "stop_sequence": None,
                "usage": {"input_tokens": reply.input_tokens, "output_tokens": reply.output_tokens},
            }
        )


@contextmanager
def stub_in_thread(stub: LlmStub) -> Iterator[LlmStub]:
    """Serve ``stub`` from its own event loop in a thread, for code that runs ``asyncio.run`` itself."""
    loop = asyncio.new_event_loop()
    started = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(stub.start())
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    if not started.wait(10):
        raise RuntimeError("LLM stub did not start")
    try:
        yield stub
    finally:
        asyncio.run_coroutine_threadsafe(stub.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
