"""Async clients for the model APIs, on the official SDKs (both run on httpx2).

- ``OpenAiChatProvider``: the OpenAI chat-completions protocol, which OpenAI, xAI, DeepSeek, Gemini's
  OpenAI-compatible endpoint and local servers (llama.cpp, vLLM, Ollama) all speak.
- ``AnthropicProvider``: Anthropic's messages protocol.

The SDKs are imported only when a provider is built (they take seconds to import). Their own
retries are off: ``ChatProvider.complete`` retries itself, a bounded number of times,
only on failures that may pass (network, timeout, 408, 429, 5xx), sleeping on the injected clock.
Every failure becomes a typed ``LlmError``. API keys are read from the environment variable the
config names, held in a ``Secret`` whose repr is masked, and scrubbed from any error text.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kxbtc.clock import Clock
from kxbtc.config import LlmConfig, LlmProviderConfig
from kxbtc.errors import (
    LlmAuthError,
    LlmError,
    LlmOutputError,
    LlmRejectedError,
    LlmTimeoutError,
    LlmUnavailableError,
)
from kxbtc.llm.schemas import FORECAST_JSON_SCHEMA

if TYPE_CHECKING:  # the SDKs take seconds to import: only a built provider pays for them
    from openai.types.chat.completion_create_params import ResponseFormat

#: Error text from a provider is cut to this length.
ERROR_TEXT_MAX = 300
_NO_KEY = "not-needed"  # sent to local servers that take no key; the SDKs insist on some value


class Secret:
    """An API key. Its repr and str are masked so it cannot leak through logs or tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__


@dataclass(frozen=True, slots=True)
class Completion:
    """A model's raw answer and what it cost in tokens."""

    text: str
    input_tokens: int
    output_tokens: int


def _status_error(status: int, message: str, provider: str, model: str) -> LlmError:
    if status in (401, 403):
        return LlmAuthError(message, provider=provider, model=model, status=status)
    if status == 408:
        return LlmTimeoutError(message, provider=provider, model=model, status=status)
    if status == 429 or status >= 500:
        return LlmUnavailableError(message, provider=provider, model=model, status=status)
    return LlmRejectedError(message, provider=provider, model=model, status=status)


class ChatProvider(ABC):
    """One configured endpoint: ``complete`` sends a system prompt and a user message, returns the text."""

    def __init__(self, name: str, config: LlmProviderConfig, clock: Clock, key: Secret | None) -> None:
        self.name = name
        self.config = config
        self.clock = clock
        self._key = key

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, base_url={self.config.base_url!r})"

    async def complete(self, *, model: str, system: str, user: str, max_output_tokens: int) -> Completion:
        """The model's answer; retries what may pass, raises ``LlmError`` when it cannot get one."""
        if self._key is None:
            raise LlmAuthError(
                f"environment variable {self.config.api_key_env} is not set", provider=self.name, model=model
            )
        attempt = 0
        while True:
            try:
                return await self._send(model, system, user, max_output_tokens)
            except LlmError as exc:
                if not exc.retryable or attempt >= self.config.max_retries:
                    raise
            await self.clock.sleep(self.config.retry_backoff_s * 2**attempt)
            attempt += 1

    @abstractmethod
    async def _send(self, model: str, system: str, user: str, max_output_tokens: int) -> Completion:
        """One request, with SDK errors translated to ``LlmError``."""

    @abstractmethod
    async def aclose(self) -> None: ...

    def _scrub(self, text: str) -> str:
        if self._key is not None and self._key.reveal():
            text = text.replace(self._key.reveal(), "***")
        return text[:ERROR_TEXT_MAX]

    def _timeout(self, model: str) -> LlmError:
        return LlmTimeoutError(
            f"no answer within {self.config.timeout_s:g} s", provider=self.name, model=model
        )

    def _connection_failed(self, exc: Exception, model: str) -> LlmError:
        text = self._scrub(str(exc.__cause__ or exc))
        return LlmUnavailableError(f"connection failed: {text}", provider=self.name, model=model)

    def _http_error(self, status: int, body: str, model: str) -> LlmError:
        return _status_error(status, self._scrub(body), self.name, model)

    def _unexpected(self, exc: Exception, model: str) -> LlmError:
        text = self._scrub(f"{type(exc).__name__}: {exc}")
        return LlmOutputError(f"unexpected answer: {text}", provider=self.name, model=model)


class OpenAiChatProvider(ChatProvider):
    def __init__(self, name: str, config: LlmProviderConfig, clock: Clock, key: Secret | None) -> None:
        super().__init__(name, config, clock, key)
        import openai

        self._client = openai.AsyncOpenAI(
            api_key=key.reveal() if key is not None else _NO_KEY,
            base_url=config.base_url,
            timeout=config.timeout_s,
            max_retries=0,
        )

    def _response_format(self) -> ResponseFormat | None:
        if self.config.json_mode == "json_schema":
            return {
                "type": "json_schema",
                "json_schema": {"name": "forecast", "schema": FORECAST_JSON_SCHEMA, "strict": True},
            }
        if self.config.json_mode == "json_object":
            return {"type": "json_object"}
        return None

    def _translate(self, exc: Exception, model: str) -> LlmError:
        import openai

        if isinstance(exc, openai.APITimeoutError):
            return self._timeout(model)
        if isinstance(exc, openai.APIConnectionError):
            return self._connection_failed(exc, model)
        if isinstance(exc, openai.APIStatusError):
            return self._http_error(exc.status_code, exc.response.text or str(exc), model)
        return self._unexpected(exc, model)

    async def _send(self, model: str, system: str, user: str, max_output_tokens: int) -> Completion:
        import openai
        from openai.types.chat import ChatCompletionMessageParam

        messages: list[ChatCompletionMessageParam] = [
            {"role": "system", "content": system},
            {"role": "user", "content": user},
        ]
        response_format = self._response_format()
        by_completion = self.config.token_limit_param == "max_completion_tokens"
        try:
            response = await self._client.chat.completions.create(
                model=model,
                messages=messages,
                response_format=openai.omit if response_format is None else response_format,
                max_completion_tokens=max_output_tokens if by_completion else openai.omit,
                max_tokens=openai.omit if by_completion else max_output_tokens,
            )
        except (openai.OpenAIError, ValueError) as exc:
            raise self._translate(exc, model) from None
        if not response.choices or response.choices[0].message.content is None:
            raise LlmOutputError("the answer has no text", provider=self.name, model=model)
        usage = response.usage
        return Completion(
            response.choices[0].message.content,
            usage.prompt_tokens if usage is not None else 0,
            usage.completion_tokens if usage is not None else 0,
        )

    async def aclose(self) -> None:
        await self._client.close()


class AnthropicProvider(ChatProvider):
    def __init__(self, name: str, config: LlmProviderConfig, clock: Clock, key: Secret | None) -> None:
        super().__init__(name, config, clock, key)
        import anthropic

        self._client = anthropic.AsyncAnthropic(
            api_key=key.reveal() if key is not None else _NO_KEY,
            base_url=config.base_url,
            timeout=config.timeout_s,
            max_retries=0,
        )

    def _translate(self, exc: Exception, model: str) -> LlmError:
        import anthropic

        if isinstance(exc, anthropic.APITimeoutError):
            return self._timeout(model)
        if isinstance(exc, anthropic.APIConnectionError):
            return self._connection_failed(exc, model)
        if isinstance(exc, anthropic.APIStatusError):
            return self._http_error(exc.status_code, exc.response.text or str(exc), model)
        return self._unexpected(exc, model)

    async def _send(self, model: str, system: str, user: str, max_output_tokens: int) -> Completion:
        import anthropic

        # Anthropic has one structured-output mode: a JSON schema.
        output_format: anthropic.types.OutputConfigParam = {
            "format": {"type": "json_schema", "schema": FORECAST_JSON_SCHEMA}
        }
        try:
            response = await self._client.messages.create(
                model=model,
                max_tokens=max_output_tokens,
                system=system,
                messages=[{"role": "user", "content": user}],
                output_config=anthropic.omit if self.config.json_mode == "none" else output_format,
            )
        except (anthropic.AnthropicError, ValueError) as exc:
            raise self._translate(exc, model) from None
        text = "".join(block.text for block in response.content if block.type == "text")
        if not text:
            raise LlmOutputError("the answer has no text", provider=self.name, model=model)
        return Completion(text, response.usage.input_tokens, response.usage.output_tokens)

    async def aclose(self) -> None:
        await self._client.close()


def read_key(env_name: str, environ: Mapping[str, str]) -> Secret | None:
    """The key from ``environ[env_name]``; a placeholder when the provider needs none; None if unset."""
    if not env_name:
        return Secret(_NO_KEY)
    value = environ.get(env_name, "").strip()
    return Secret(value) if value else None


def build_providers(
    config: LlmConfig, clock: Clock, environ: Mapping[str, str] | None = None
) -> dict[str, ChatProvider]:
    """A client for every provider an enabled role uses."""
    env = os.environ if environ is None else environ
    used = {role.provider for role in config.roles.values() if role.enabled and role.weight > 0}
    providers: dict[str, ChatProvider] = {}
    for name in sorted(used):
        cfg = config.providers[name]
        cls = AnthropicProvider if cfg.kind == "anthropic" else OpenAiChatProvider
        providers[name] = cls(name, cfg, clock, read_key(cfg.api_key_env, env))
    return providers
