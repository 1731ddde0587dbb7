"""The live skill guard: each strategy's settled results against what its backtest promised.

For every market a strategy traded, once it settles: its net P&L per contract (payout - cost - fees,
over the contracts it bought), one observation per market (the contracts of one market share one
outcome, so they are not independent). A one-sided CUSUM of the Gaussian log-likelihood ratio tests the
strategy's mean against a shortfall of ``shortfall`` dollars per contract below its backtested
expectation ``expected`` (per-market standard deviation ``sd``; a binary payoff has about 0.5):

    S_n = max(0, S_{n-1} + shortfall·(2·expected - shortfall - 2·x_n) / (2·sd²)),  pause when S_n >= threshold

With the defaults (shortfall $0.15, sd 0.5, threshold 3.0), a strategy expected to make +$0.05 a
contract pauses after 12 settled markets that each lose $0.45 a contract, or 23 that each lose $0.25;
one expected to make +$0.30 pauses after 8 markets losing $0.45. A mean exactly ``shortfall`` below the
expectation takes about 67 markets on average: single markets are coin flips, so only a clear and
lasting shortfall is detected quickly. At the expectation it pauses rarely (a CUSUM's false alarms are
rare with these settings, not impossible); a paused strategy stays off until an operator resumes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from kxbtc.config import Config
from kxbtc.domain.sides import complement
from kxbtc.units import MONEY_SCALE, PRICE_SCALE, notional


@dataclass(frozen=True, slots=True)
class GuardSettings:
    shortfall: float = 0.15  # dollars per contract below the expectation that counts as "clearly below"
    sd: float = 0.5  # per-market standard deviation of P&L per contract
    threshold: float = 3.0


@dataclass(slots=True)
class _Held:
    yes: int = 0  # Count
    no: int = 0
    cost: int = 0  # Money, fees included


@dataclass(slots=True)
class StrategyRecord:
    expected: float
    markets: int = 0
    contracts: float = 0.0
    net: float = 0.0  # dollars
    statistic: float = 0.0
    paused: bool = False
    paused_after: int = 0  # settled markets seen when it paused
    reason: str = ""
    observations: list[float] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Verdict:
    strategy: str
    record: StrategyRecord
    detail: str


class SkillGuard:
    @classmethod
    def from_config(cls, config: Config, strategies: Sequence[str]) -> SkillGuard:
        """One record per running strategy, expecting its ``expected_edge_per_contract``."""
        risk = config.risk
        expected = {
            name: config.strategies[name].expected_edge_per_contract
            for name in strategies
            if risk.skill_guard and name in config.strategies
        }
        settings = GuardSettings(risk.skill_guard_shortfall, risk.skill_guard_sd, risk.skill_guard_threshold)
        return cls(expected, settings)

    def __init__(self, expected: dict[str, float], settings: GuardSettings | None = None) -> None:
        self.settings = settings or GuardSettings()
        self.records = {name: StrategyRecord(edge) for name, edge in expected.items()}
        self._held: dict[tuple[str, str], _Held] = defaultdict(_Held)

    def paused(self, strategy: str) -> bool:
        record = self.records.get(strategy)
        return record is not None and record.paused

    def on_fill(self, strategy: str, ticker: str, side: str, yes_price: int, count: int, fee: int) -> None:
        if strategy not in self.records:
            return
        held = self._held[(strategy, ticker)]
        if side == "bid":
            held.yes += count
            held.cost += notional(yes_price, count) + fee
        else:
            held.no += count
            held.cost += notional(complement(yes_price), count) + fee

    def on_settled(self, ticker: str, result: str) -> list[Verdict]:
        """Score every strategy that traded ``ticker``; the strategies this settlement pauses."""
        out = []
        for (strategy, t), held in list(self._held.items()):
            if t != ticker:
                continue
            del self._held[(strategy, t)]
            contracts = (held.yes + held.no) / 100
            if contracts <= 0:
                continue
            payout = notional(PRICE_SCALE, held.yes if result == "yes" else held.no)
            per_contract = (payout - held.cost) / MONEY_SCALE / contracts
            verdict = self._observe(strategy, per_contract, contracts)
            if verdict is not None:
                out.append(verdict)
        return out

    def _observe(self, strategy: str, x: float, contracts: float) -> Verdict | None:
        s, record = self.settings, self.records[strategy]
        record.markets += 1
        record.contracts += contracts
        record.net += x * contracts
        record.observations.append(x)
        llr = s.shortfall * (2 * record.expected - s.shortfall - 2 * x) / (2 * s.sd**2)
        record.statistic = max(0.0, record.statistic + llr)
        if record.paused or record.statistic < s.threshold:
            return None
        record.paused = True
        record.paused_after = record.markets
        mean = record.net / record.contracts if record.contracts else 0.0
        detail = (
            f"{strategy} paused: {record.markets} settled markets average {mean:+.3f} $/contract against an "
            f"expected {record.expected:+.3f} (CUSUM {record.statistic:.2f} >= {s.threshold:g}); "
            "`kxbtc resume` turns it back on"
        )
        record.reason = detail
        return Verdict(strategy, record, detail)

    def paused_reasons(self) -> dict[str, str]:
        return {name: r.reason for name, r in self.records.items() if r.paused}

    def resume(self) -> None:
        for record in self.records.values():
            record.paused = False
            record.statistic = 0.0
