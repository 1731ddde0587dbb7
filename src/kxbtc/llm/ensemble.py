"""Ask every role at once, keep the valid answers, blend them in log-odds space.

- A role that fails (network, timeout, HTTP error, missing key) or answers outside the schema is
  dropped; the surviving weights are renormalised.
- ``probability`` is the sigmoid of the weighted mean of the survivors' logits. It is ``None`` (no
  prior) when the survivors hold less than ``min_weight`` of the configured weight.
- ``spread`` is the weighted standard deviation of the survivors' probabilities; ``agreement`` is
  ``1 - 2 * spread`` (1: all agree; 0: split between 0 and 1).
- ``confidence`` = weighted mean of the survivors' confidence x agreement x surviving weight share.
- The whole round has a deadline on the injected clock; a role still running then is cancelled
  and counted as failed.
- Every call, good or bad, is handed to ``record`` (the signature of ``SqliteStore.record_llm_call``)
  with its latency and its cost in Money micro-dollars from token usage and the config's price table.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Protocol

from kxbtc.clock import Clock
from kxbtc.config import LlmConfig, LlmPrice
from kxbtc.errors import LlmError
from kxbtc.llm.providers import ChatProvider, Completion
from kxbtc.llm.roles import Role, build_roles, user_message
from kxbtc.llm.schemas import Forecast, ForecastRequest, parse_forecast
from kxbtc.units import Money

#: Probabilities are clipped to [EPS, 1 - EPS] before taking logits, so a 0 or a 1 stays finite.
LOGIT_EPS = 1e-4


class CallRecorder(Protocol):
    """Where each call is recorded; ``SqliteStore.record_llm_call`` fits."""

    def __call__(
        self,
        ts_ns: int,
        provider: str,
        model: str,
        role: str,
        request: str,
        response: str,
        ok: bool,
        latency_ms: int,
        cost: int = 0,
    ) -> None: ...


def _ignore_call(
    ts_ns: int,
    provider: str,
    model: str,
    role: str,
    request: str,
    response: str,
    ok: bool,
    latency_ms: int,
    cost: int = 0,
) -> None:
    return None


@dataclass(frozen=True, slots=True)
class RoleResult:
    role: str
    provider: str
    model: str
    weight: float  # as configured, before renormalising
    forecast: Forecast | None
    error: str  # "" when the forecast is valid
    latency_ms: int
    cost: Money

    @property
    def ok(self) -> bool:
        return self.forecast is not None


@dataclass(frozen=True, slots=True)
class Blend:
    probability: float | None  # None: too little weight survived, no prior
    confidence: float
    spread: float
    agreement: float
    surviving_weight: float  # share of the configured weight that answered validly, 0..1


@dataclass(frozen=True, slots=True)
class EnsembleResult:
    ticker: str
    ts_ns: int
    blend: Blend
    roles: tuple[RoleResult, ...]

    @property
    def probability(self) -> float | None:
        return self.blend.probability

    @property
    def confidence(self) -> float:
        return self.blend.confidence


def logit(p: float) -> float:
    q = min(max(p, LOGIT_EPS), 1 - LOGIT_EPS)
    return math.log(q / (1 - q))


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def call_cost(price: LlmPrice | None, input_tokens: int, output_tokens: int) -> Money:
    """Micro-dollars: dollars per million tokens times tokens is micro-dollars, exactly."""
    if price is None:
        return Money(0)
    total = price.input_usd_per_mtok * input_tokens + price.output_usd_per_mtok * output_tokens
    return Money(int(total.quantize(Decimal(1), rounding=ROUND_HALF_UP)))


def blend(results: Sequence[RoleResult], total_weight: float, min_weight: float) -> Blend:
    """The log-odds blend of the valid results; ``min_weight`` is a share of ``total_weight``."""
    valid = [(r.weight, r.forecast) for r in results if r.forecast is not None]
    alive = sum(w for w, _ in valid)
    share = min(1.0, alive / total_weight) if total_weight > 0 else 0.0
    if alive <= 0:
        return Blend(None, 0.0, 0.0, 0.0, share)
    probability = sigmoid(sum(w * logit(f.probability) for w, f in valid) / alive)
    mean_p = sum(w * f.probability for w, f in valid) / alive
    spread = math.sqrt(sum(w * (f.probability - mean_p) ** 2 for w, f in valid) / alive)
    agreement = max(0.0, 1 - 2 * spread)
    confidence = sum(w * f.confidence for w, f in valid) / alive * agreement * share
    enough = share + 1e-9 >= min_weight  # a share equal to the minimum, up to rounding, counts
    return Blend(probability if enough else None, confidence, spread, agreement, share)


@dataclass(frozen=True, slots=True)
class _Attempt:
    text: str
    completion: Completion | None
    error: str
    latency_ms: int


class Ensemble:
    """The configured roles, asked concurrently; ``forecast`` never raises for a role's failure."""

    def __init__(
        self,
        config: LlmConfig,
        providers: Mapping[str, ChatProvider],
        clock: Clock,
        record: CallRecorder = _ignore_call,
    ) -> None:
        self.config = config
        self.providers = providers
        self.clock = clock
        self.record = record
        self.roles = build_roles(config)
        self.total_weight = sum(role.weight for role in self.roles)

    async def forecast(
        self, request: ForecastRequest, evidence: Mapping[str, str] | None = None
    ) -> EnsembleResult:
        """``evidence``: role -> its delimited evidence block (``kxbtc.llm.evidence``), appended to that
        role's user message only."""
        started_ns = self.clock.time_ns()
        users = {role.name: user_message(request, (evidence or {}).get(role.name, "")) for role in self.roles}
        tasks = {role.name: asyncio.create_task(self._ask(role, users[role.name])) for role in self.roles}
        await self._wait(list(tasks.values()))
        results = []
        for role in self.roles:
            task = tasks[role.name]
            if task.done() and not task.cancelled():
                attempt = task.result()
            else:
                limit = f"{self.config.deadline_s:g}"
                attempt = _Attempt(
                    "", None, f"deadline of {limit} s passed", int(self.config.deadline_s * 1000)
                )
            results.append(self._settle(role, users[role.name], attempt, started_ns))
        return EnsembleResult(
            request.ticker,
            started_ns,
            blend(results, self.total_weight, self.config.min_weight),
            tuple(results),
        )

    async def _wait(self, tasks: list[asyncio.Task[_Attempt]]) -> None:
        """Until every role has answered or the deadline passes; then cancel the late ones."""
        if not tasks:
            return
        deadline = asyncio.create_task(self.clock.sleep(self.config.deadline_s))
        pending: set[asyncio.Task[_Attempt] | asyncio.Task[None]] = set(tasks)
        try:
            while pending and not deadline.done():
                _, pending = await asyncio.wait(pending | {deadline}, return_when=asyncio.FIRST_COMPLETED)
                pending.discard(deadline)
        finally:
            deadline.cancel()
            late = [task for task in tasks if not task.done()]
            for task in late:
                task.cancel()
            if late:
                await asyncio.gather(*late, return_exceptions=True)

    async def _ask(self, role: Role, user: str) -> _Attempt:
        start = self.clock.monotonic()
        provider = self.providers.get(role.provider)
        if provider is None:
            return _Attempt("", None, f"provider {role.provider!r} is not configured", 0)
        try:
            completion = await provider.complete(
                model=role.model,
                system=role.system_prompt,
                user=user,
                max_output_tokens=role.max_output_tokens,
            )
        except LlmError as exc:
            return _Attempt("", None, f"{type(exc).__name__}: {exc}", self._ms_since(start))
        return _Attempt(completion.text, completion, "", self._ms_since(start))

    def _ms_since(self, start: float) -> int:
        return max(0, round((self.clock.monotonic() - start) * 1000))

    def _settle(self, role: Role, user: str, attempt: _Attempt, ts_ns: int) -> RoleResult:
        """Validate the answer, price the call and record it."""
        forecast: Forecast | None = None
        error = attempt.error
        cost = Money(0)
        if attempt.completion is not None:
            usage = attempt.completion
            cost = call_cost(self.config.prices.get(role.model), usage.input_tokens, usage.output_tokens)
            try:
                forecast = parse_forecast(attempt.text)
            except LlmError as exc:
                error = str(exc)
        request = json.dumps({"system": role.system_prompt, "user": user})
        response = (
            attempt.text if forecast is not None else json.dumps({"error": error, "text": attempt.text})
        )
        ok = forecast is not None
        self.record(
            ts_ns, role.provider, role.model, role.name, request, response, ok, attempt.latency_ms, cost
        )
        return RoleResult(
            role.name, role.provider, role.model, role.weight, forecast, error, attempt.latency_ms, cost
        )

    async def aclose(self) -> None:
        for provider in self.providers.values():
            await provider.aclose()
