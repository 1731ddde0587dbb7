"""The simulator backtest: the trading core against the simulated exchange on one simulated clock.

It is the in-process session of ``kxbtc demo`` (``kxbtc.session``): the same core, the same seeded
network between it and the exchange, fills, fees and settlements by the exchange's own matching engine,
and the local ledger checked against the exchange's cash at the end. A run lasts until ``markets``
15-minute markets that opened after its start have settled.

Profits here are made against the simulator's market makers, which are beatable by construction
(``mispricing``): they test the machinery, never an edge.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kxbtc.clock import NS_PER_S
from kxbtc.config import Config
from kxbtc.engine.audit import compare_with_simulator
from kxbtc.session.network import NetworkConfig
from kxbtc.session.runner import DEFAULT_START_NS, SimSession
from kxbtc.sim.exchange import SimConfig
from kxbtc.store.db import SqliteStore
from kxbtc.strategy import default_config
from kxbtc.units import Money

SERIES = "KXBTC15M"
SETTLED = ("settled", "finalized")
#: A market the exchange has pruned (hours after settling) is settled too.
_CHECK_EVERY_S = 60


@dataclass(slots=True)
class MarketResult:
    """One market's outcome for our account. Money in micro-dollars, counts in 1/100 contract."""

    seed: int
    ticker: str
    result: str = ""
    orders: int = 0
    fills: int = 0
    contracts: int = 0
    gross: int = 0  # realized P&L before fees
    fees: int = 0

    @property
    def net(self) -> Money:
        return Money(self.gross - self.fees)

    @property
    def traded(self) -> bool:
        return self.fills > 0


@dataclass(slots=True)
class RunResult:
    seed: int
    mispricing: float
    start_cash: Money
    final_cash: int = 0  # Money
    markets: list[MarketResult] = field(default_factory=list)
    rejections: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)  # the exchange's error codes
    halts: list[str] = field(default_factory=list)
    ledger_matches: bool = True

    @property
    def net(self) -> Money:
        return Money(sum(m.net for m in self.markets))

    @property
    def ledger_matches_exchange(self) -> bool:
        """The audit found the local ledger equal to the exchange's, fill by fill and to the cash."""
        return self.ledger_matches


def run_one(
    config: Config, *, seed: int, markets: int, mispricing: float, network: NetworkConfig | None = None
) -> RunResult:
    with tempfile.TemporaryDirectory(prefix="kxbtc-backtest-") as tmp:
        store = SqliteStore(Path(tmp) / "backtest.db")
        try:
            session = SimSession(
                config,
                store=store,
                seed=seed,
                series=(SERIES,),
                network=network,
                sim_config=SimConfig(mispricing=mispricing, series=(SERIES,)),
                start_ns=DEFAULT_START_NS,
                run_id=f"backtest-{seed}",
            )
            first_open = DEFAULT_START_NS - DEFAULT_START_NS % (900 * NS_PER_S) + 900 * NS_PER_S
            wanted = [first_open + i * 900 * NS_PER_S for i in range(markets)]
            # Until the last wanted market has settled (a few minutes after its close).
            end = wanted[-1] + 900 * NS_PER_S
            while True:
                session.run_until(end)
                if _all_settled(session, wanted):
                    break
                end += _CHECK_EVERY_S * NS_PER_S
            session.finish()
            return _result(session, seed, mispricing, wanted)
        finally:
            store.close()


def _tracked(session: SimSession, opens: Sequence[int]) -> list[str]:
    wanted = set(opens)
    return sorted(t for t in session.venue.listed if _open_of(session, t) in wanted)


def _open_of(session: SimSession, ticker: str) -> int | None:
    market = session.exchange.markets.get(ticker)
    return market.open_ns if market is not None else session.venue.listed_opens.get(ticker)


def _all_settled(session: SimSession, opens: Sequence[int]) -> bool:
    tracked = _tracked(session, opens)
    return len(tracked) == len(opens) and all(
        (m := session.exchange.markets.get(t)) is None or m.status in SETTLED for t in tracked
    )


def _result(session: SimSession, seed: int, mispricing: float, opens: Sequence[int]) -> RunResult:
    store = session.store
    audit = compare_with_simulator(store, session.exchange, session.user_id, session.start_cash)
    run = RunResult(seed, mispricing, session.start_cash, final_cash=audit.cash_exchange)
    run.ledger_matches = audit.matches
    run.rejections.update(session.core.stats.rejected)
    run.halts = [f"{e.kind}: {e.detail}" for e in session.core.stats.risk_events if e.severity == "halt"]
    ledger = session.core.portfolio.ledger
    fills_by_market = Counter(f.ticker for f in store.fills())
    orders_by_market = Counter(o.ticker for o in store.orders())
    for ticker in _tracked(session, opens):
        pnl = ledger.markets.get(ticker)
        market = session.exchange.markets.get(ticker)
        run.markets.append(
            MarketResult(
                seed,
                ticker,
                result=market.result if market is not None else session.core.account.results.get(ticker, ""),
                orders=orders_by_market[ticker],
                fills=fills_by_market[ticker],
                contracts=pnl.volume if pnl is not None else 0,
                gross=pnl.realized if pnl is not None else 0,
                fees=pnl.fees if pnl is not None else 0,
            )
        )
    return run


def with_strategies(config: Config, names: Sequence[str]) -> Config:
    """The config with exactly ``names`` enabled (their configured settings, or the defaults)."""
    chosen = {
        name: config.strategies.get(name, default_config(name)).model_copy(update={"enabled": True})
        for name in names
    }
    return config.model_copy(update={"strategies": chosen})


def run_backtest(
    config: Config,
    *,
    seeds: Sequence[int],
    markets: int,
    mispricing: float,
    strategies: Sequence[str] | None = None,
    network: NetworkConfig | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> list[RunResult]:
    """``markets`` markets in total, split evenly across ``seeds`` (one independent exchange per seed).

    ``strategies`` names the strategies to run (default: every enabled one in ``config``).
    """
    if markets <= 0 or not seeds:
        raise ValueError("need at least one market and one seed")
    cfg = config if strategies is None else with_strategies(config, strategies)
    share, extra = divmod(markets, len(seeds))
    runs: list[RunResult] = []
    done = 0
    for i, seed in enumerate(seeds):
        count = share + (1 if i < extra else 0)
        if count:
            runs.append(run_one(cfg, seed=seed, markets=count, mispricing=mispricing, network=network))
            done += count
            if on_progress is not None:
                on_progress(done, markets)  # per seed: the loop itself stays free of I/O
    return runs
