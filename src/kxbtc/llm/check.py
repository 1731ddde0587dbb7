"""``kxbtc llm check``: one call to each configured provider, and one fetch of each evidence source.

A provider is called with the system prompt of the first enabled role that uses it, that role's model,
and a fixed example market; the answer is checked against the forecast schema like any other. The
result per provider: latency, whether the answer was valid, what the call cost (from the token usage
and ``[llm.prices]``), and the error if any. Nothing is recorded in a database.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from kxbtc.clock import Clock
from kxbtc.config import LlmConfig
from kxbtc.errors import LlmError
from kxbtc.llm.ensemble import call_cost
from kxbtc.llm.evidence import EvidenceBook
from kxbtc.llm.providers import build_providers
from kxbtc.llm.roles import build_roles, user_message
from kxbtc.llm.schemas import ForecastRequest, parse_forecast
from kxbtc.units import Money


@dataclass(frozen=True, slots=True)
class ProviderCheck:
    provider: str
    kind: str
    model: str
    role: str
    latency_ms: int
    valid: bool
    cost: Money
    error: str  # "" when valid


@dataclass(frozen=True, slots=True)
class SourceCheck:
    source: str
    kind: str
    items: int
    error: str


def example_request(now_ns: int) -> ForecastRequest:
    """A plain at-the-money market 15 minutes from close: any working model can answer it."""
    close = datetime.fromtimestamp(now_ns / 1e9, UTC) + timedelta(minutes=15)
    return ForecastRequest(
        ticker="KXBTC15M-CHECK",
        strike=100_000.0,
        close_time=close,
        seconds_to_close=900.0,
        spot=100_000.0,
        model_probability=0.5,
        realized_vol=0.5,
        book_mid=0.5,
    )


async def check_providers(
    config: LlmConfig, clock: Clock, environ: Mapping[str, str] | None = None
) -> list[ProviderCheck]:
    providers = build_providers(config, clock, environ)
    user = user_message(example_request(clock.time_ns()))
    results = []
    try:
        seen: set[str] = set()
        for role in build_roles(config):
            if role.provider in seen or role.provider not in providers:
                continue
            seen.add(role.provider)
            provider = providers[role.provider]
            kind = config.providers[role.provider].kind
            start = clock.monotonic()
            cost, error = Money(0), ""
            try:
                completion = await provider.complete(
                    model=role.model,
                    system=role.system_prompt,
                    user=user,
                    max_output_tokens=role.max_output_tokens,
                )
                cost = call_cost(
                    config.prices.get(role.model), completion.input_tokens, completion.output_tokens
                )
                parse_forecast(completion.text)
            except LlmError as exc:
                error = str(exc)
            latency = max(0, round((clock.monotonic() - start) * 1000))
            results.append(
                ProviderCheck(role.provider, kind, role.model, role.name, latency, not error, cost, error)
            )
    finally:
        for provider in providers.values():
            await provider.aclose()
    return results


async def check_sources(
    config: LlmConfig, clock: Clock, environ: Mapping[str, str] | None = None
) -> list[SourceCheck]:
    if not config.sources:
        return []
    book = EvidenceBook(config, clock, environ)
    try:
        await book.refresh()
    finally:
        await book.aclose()
    return [
        SourceCheck(name, cfg.kind, len(book.status[name].items), book.status[name].error)
        for name, cfg in config.sources.items()
    ]
