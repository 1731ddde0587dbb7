"""The slow loop: every ``every_s`` seconds, forecast a few markets with the ensemble and keep the priors.

The engine's fast path only ever calls ``priors()``, a plain dict read that never waits on a model.
A prior is ``(probability, weight)`` with weight = ``blend_weight`` x the ensemble's confidence, and it
stops counting ``max_age_s`` after the forecast started. Each round forecasts at most ``max_markets``
markets, those whose model probability is nearest 50/50 first (where a prior can matter most).
A failure inside a role never stops the loop (the ensemble records it and drops the role); anything
else (the store failing, a bug) propagates out of ``run`` for the caller to log.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import get_args

from kxbtc.clock import NS_PER_S, Clock
from kxbtc.config import LlmConfig, to_money
from kxbtc.llm.ensemble import CallRecorder, Ensemble, EnsembleResult
from kxbtc.llm.evidence import EvidenceBook
from kxbtc.llm.providers import build_providers
from kxbtc.llm.schemas import ForecastRequest, StrikeType
from kxbtc.pricing.volatility import SECONDS_PER_YEAR
from kxbtc.strategy.base import ContractView, OracleView, model_probability
from kxbtc.units import Money, format_usd, format_usd_exact

log = logging.getLogger(__name__)

#: Where the markets to forecast come from: called once per round, must not block.
RequestSource = Callable[[], Sequence[ForecastRequest]]


@dataclass(frozen=True, slots=True)
class Prior:
    probability: float
    weight: float
    ts_ns: int  # when the forecast started: the age of the data it saw


@dataclass(slots=True)
class DailySpend:
    """LLM cost and call count for one UTC day."""

    day: str = ""
    cost: int = 0  # Money
    calls: int = 0
    warned: bool = False

    def _roll(self, now_ns: int) -> None:
        day = datetime.fromtimestamp(now_ns / NS_PER_S, UTC).strftime("%Y-%m-%d")
        if day != self.day:
            self.day, self.cost, self.calls, self.warned = day, 0, 0, False

    def add(self, now_ns: int, cost: int, calls: int) -> None:
        self._roll(now_ns)
        self.cost += cost
        self.calls += calls

    def over_limit(self, now_ns: int, budget: int | None, max_calls: int | None) -> str:
        """Why no more calls may be made today, or "" while within both limits."""
        self._roll(now_ns)
        if budget is not None and self.cost >= budget:
            return f"spent {format_usd_exact(self.cost)} of the {format_usd(budget)} daily budget"
        if max_calls is not None and self.calls >= max_calls:
            return f"{self.calls} calls made, the daily limit is {max_calls}"
        return ""


class PriorService:
    def __init__(
        self,
        clock: Clock,
        ensemble: Ensemble,
        every_s: float,
        *,
        requests: RequestSource,
        max_age_s: float,
        blend_weight: float,
        max_markets: int = 3,
        daily_budget: Money | None = None,
        max_calls_per_day: int | None = None,
        evidence: EvidenceBook | None = None,
    ) -> None:
        self.clock = clock
        #: Text sources for the roles, refreshed at the start of each round (``kxbtc.llm.evidence``).
        self.evidence = evidence
        self.ensemble = ensemble
        self.every_s = every_s
        self.requests = requests
        self.max_age_ns = int(max_age_s * NS_PER_S)
        self.blend_weight = blend_weight
        self.max_markets = max_markets
        self._priors: dict[str, Prior] = {}
        #: The last ensemble result per ticker, for display and diagnosis.
        self.latest: dict[str, EnsembleResult] = {}
        self.rounds = 0  # rounds completed
        #: Spend guards (a runaway loop of paid calls is a known failure of LLM trading bots).
        self.daily_budget = daily_budget
        self.max_calls_per_day = max_calls_per_day
        self.spend = DailySpend()

    async def run(self) -> None:
        while True:
            await self.refresh()
            await self.clock.sleep(self.every_s)

    async def refresh(self) -> None:
        """One round: forecast the chosen markets concurrently and store their priors."""
        over = self.spend.over_limit(self.clock.time_ns(), self.daily_budget, self.max_calls_per_day)
        if over:
            if not self.spend.warned:
                self.spend.warned = True
                log.warning("LLM ensemble paused until 00:00 UTC: %s", over)
            return
        chosen = pick_markets(self.requests(), self.max_markets)
        if not chosen:
            self.rounds += 1
            return
        texts: dict[str, str] = {}
        if self.evidence is not None:
            await self.evidence.refresh()
            texts = self.evidence.texts()
        tasks = [asyncio.create_task(self._forecast(request, texts)) for request in chosen]
        try:
            await asyncio.gather(*tasks)  # the first error propagates as itself, not in a group
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        self.rounds += 1

    async def _forecast(self, request: ForecastRequest, evidence: Mapping[str, str]) -> None:
        result = await self.ensemble.forecast(request, evidence)
        self.spend.add(self.clock.time_ns(), sum(r.cost for r in result.roles), len(result.roles))
        self.latest[request.ticker] = result
        if result.probability is None:
            self._priors.pop(request.ticker, None)
            failed = ", ".join(f"{r.role}: {r.error}" for r in result.roles if not r.ok)
            log.warning("no LLM prior for %s: too few roles answered (%s)", request.ticker, failed)
            return
        weight = self.blend_weight * result.confidence
        self._priors[request.ticker] = Prior(result.probability, weight, result.ts_ns)

    def priors(self) -> dict[str, tuple[float, float]]:
        """Ticker -> (probability, blend weight) for the priors not yet expired. Never waits."""
        now = self.clock.time_ns()
        for ticker in [t for t, p in self._priors.items() if now - p.ts_ns > self.max_age_ns]:
            del self._priors[ticker]
        return {ticker: (p.probability, p.weight) for ticker, p in self._priors.items()}

    async def aclose(self) -> None:
        await self.ensemble.aclose()
        if self.evidence is not None:
            await self.evidence.aclose()


def pick_markets(requests: Sequence[ForecastRequest], limit: int) -> list[ForecastRequest]:
    """At most ``limit`` markets, nearest 50/50 by the model first, then soonest to close."""

    def key(request: ForecastRequest) -> tuple[float, float]:
        p = request.model_probability
        return (abs(p - 0.5) if p is not None else 0.5, request.seconds_to_close)

    return sorted((r for r in requests if r.seconds_to_close > 0), key=key)[:limit]


def forecast_request(
    contract: ContractView, oracle: OracleView, now_ns: int, book_mid: float | None = None
) -> ForecastRequest | None:
    """What the models are shown about one market, from the engine's own views; None if unpriceable."""
    seconds = contract.seconds_to_close(now_ns)
    if oracle.spot is None or oracle.spot <= 0 or seconds <= 0:
        return None
    if contract.strike_type not in get_args(StrikeType):
        return None
    strike = contract.floor_strike
    if contract.strike_type in ("less", "less_or_equal") and contract.cap_strike is not None:
        strike = contract.cap_strike
    if strike is None or strike <= 0:
        return None
    vol = None
    if oracle.dollar_vol is not None and math.isfinite(oracle.dollar_vol):
        vol = oracle.dollar_vol / oracle.spot * math.sqrt(SECONDS_PER_YEAR)
    return ForecastRequest.model_validate(
        {
            "ticker": contract.ticker,
            "strike": strike,
            "strike_type": contract.strike_type,
            "cap_strike": contract.cap_strike if contract.strike_type == "between" else None,
            "close_time": datetime.fromtimestamp(contract.close_ns / NS_PER_S, UTC),
            "seconds_to_close": seconds,
            "spot": oracle.spot,
            "model_probability": model_probability(contract, oracle, now_ns),
            "realized_vol": vol,
            "book_mid": book_mid,
        }
    )


def build_prior_service(
    config: LlmConfig,
    clock: Clock,
    record: CallRecorder,
    requests: RequestSource,
    environ: Mapping[str, str] | None = None,
) -> PriorService:
    """The configured ensemble behind a ``PriorService`` (API keys read from ``environ``/the process)."""
    ensemble = Ensemble(config, build_providers(config, clock, environ), clock, record)
    evidence = EvidenceBook(config, clock, environ) if config.sources else None
    return PriorService(
        clock,
        ensemble,
        config.interval_s,
        requests=requests,
        max_age_s=config.max_age_s,
        blend_weight=config.blend_weight,
        max_markets=config.max_markets,
        daily_budget=to_money(config.daily_budget_usd),
        max_calls_per_day=config.max_calls_per_day,
        evidence=evidence,
    )
