"""Risk limits driven to their edge against the simulator, with every order the exchange got audited.

The engine runs as in ``kxbtc demo`` (sim server on 127.0.0.1, REST + WS, accelerated clock), with
test-only strategies injected through ``Engine(strategies=...)`` that push on one limit each. The audit
is on the exchange's side: ``Exchange.create_order`` is wrapped so that, at the moment each of our orders
reaches the matching engine, the exchange's own view of the account is recorded (cash, the position
and its cost, every position marked to the mid of the exchange's book, the time to close). Each order is
then checked against the limit at that instant. The runs are on virtual time (``engine_harness``), so
what reaches the exchange does not depend on how fast the machine is.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine_harness import on_virtual_time, virtual_engine, virtual_sim

from kxbtc.clock import NS_PER_S, Clock, LoopClock
from kxbtc.config import Config, EngineConfig, RiskConfig, StrategyConfig
from kxbtc.engine.core import Engine
from kxbtc.risk.limits import OrderIntent
from kxbtc.sim.exchange import CRYPTO_SHARD, CreateResult, Exchange, SimConfig
from kxbtc.sim.harness import KeyPair, generate_key_pair
from kxbtc.store.db import SqliteStore
from kxbtc.strategy.base import Decision, DecisionContext, MarketState, OracleView, Strategy
from kxbtc.units import PRICE_SCALE, Count, Price, notional

WHOLE = 100  # Count units per contract


@dataclass(frozen=True, slots=True)
class OrderSeen:
    """One of our orders as the exchange received it, with the account as the exchange saw it then."""

    ts_ns: int
    ticker: str
    side: str
    price: int
    count: int
    tif: str
    seconds_to_close: float
    position: int  # before the order, signed Count
    position_cost: int  # Money, before the order
    cash: int  # Money: the account's cash on the crypto shard
    equity: int  # Money: cash + every position at the mid of the exchange's book
    #: Money: what one cent of mark movement on every position is worth. The engine marks to the mid of
    #: its own copy of the book, which can be one update behind the exchange's by the time an order lands.
    mark_tick: int
    cost_after: int  # Money: the position's cost once this order executed
    #: Money: worst case of our other orders resting at that instant, all markets / this market
    #: (the rest of each at its limit price, plus the taker fee).
    resting_worst: int
    resting_worst_here: int
    position_after: int
    filled: int


class ExchangeAudit:
    """Wraps ``Exchange.create_order`` (which the server calls for single and batch creates)."""

    def __init__(self, exchange: Exchange, user_id: str) -> None:
        self.exchange = exchange
        self.user_id = user_id
        self.orders: list[OrderSeen] = []
        self._create = exchange.create_order
        exchange.create_order = self._observe  # type: ignore[method-assign]

    def _held(self) -> int:
        """Contracts held across markets (Count): what one cent of mark movement is worth, in cents."""
        return sum(
            abs(state.position)
            for (user, _, _), state in self.exchange.accounts.positions.items()
            if user == self.user_id
        )

    def _equity(self) -> int:
        ex = self.exchange
        equity = ex.accounts.cash_of(self.user_id, 0, CRYPTO_SHARD)
        for (user, _, ticker), state in ex.accounts.positions.items():
            if user != self.user_id or not state.position or ticker not in ex.books:
                continue
            bid, bid_size, ask, ask_size = ex.top_of_book(ticker)
            mid = (bid + ask) // 2 if bid_size and ask_size else PRICE_SCALE // 2
            held = state.position
            equity += notional(mid, held) if held > 0 else notional(PRICE_SCALE - mid, -held)
        return equity

    def _resting(self, ticker: str | None) -> int:
        fees = self.exchange.series_by_ticker["KXBTC15M"].fees
        total = 0
        for o in self.exchange.orders.values():
            if o.user_id == self.user_id and o.is_live and (ticker is None or o.ticker == ticker):
                leg = o.price if o.side == "bid" else PRICE_SCALE - o.price
                total += notional(leg, o.remaining) + fees.fee(o.price, o.remaining, True)
        return total

    def _observe(self, user_id: str, **kwargs: Any) -> CreateResult:
        if user_id != self.user_id:
            return self._create(user_id, **kwargs)
        ex = self.exchange
        ex.step()
        ticker = kwargs["ticker"]
        before = ex.accounts.peek_position(user_id, 0, ticker)
        held, held_cost = (before.position, before.cost) if before else (0, 0)
        market = ex.markets.get(ticker)
        close_ns = market.close_ns if market is not None else 0
        now = ex.now_ns()
        equity = self._equity()
        cash = ex.accounts.cash_of(user_id, 0, CRYPTO_SHARD)
        mark_tick = notional(Price(100), self._held())
        resting_worst, resting_here = self._resting(None), self._resting(ticker)
        result = self._create(user_id, **kwargs)
        after = ex.accounts.peek_position(user_id, 0, ticker)
        self.orders.append(
            OrderSeen(
                ts_ns=now,
                ticker=ticker,
                side=kwargs["side"],
                price=kwargs["price"],
                count=kwargs["count"],
                tif=kwargs["time_in_force"],
                seconds_to_close=(close_ns - now) / NS_PER_S,
                position=held,
                position_cost=held_cost,
                cash=cash,
                equity=equity,
                mark_tick=mark_tick,
                cost_after=after.cost if after else 0,
                position_after=after.position if after else 0,
                filled=result.fill_count,
                resting_worst=resting_worst,
                resting_worst_here=resting_here,
            )
        )
        return result


def opens(order: OrderSeen) -> bool:
    """True when the order would open or grow exposure (rather than only close)."""
    if order.side == "bid":
        return order.count > max(0, -order.position)
    return order.count > max(0, order.position)


@dataclass(slots=True)
class Run:
    engine: Engine
    exchange: Exchange
    audit: ExchangeAudit
    store: SqliteStore
    user_id: str
    key: KeyPair


async def run_engine(
    tmp_path: Path,
    risk: RiskConfig,
    strategies: Sequence[Strategy],
    *,
    sim_seconds: float,
    seed: int = 7,
    start_offset_s: float = 30.0,
    restart_of: Run | None = None,
    on_start_resting: str = "cancel",
    prepare: Callable[[Exchange, str], None] | None = None,
) -> Run:
    """The demo's wiring with injected strategies; runs ``sim_seconds`` of simulated (virtual) time.

    ``restart_of``: start a new engine on the same exchange, account and database as that run."""
    config = Config(risk=risk, strategies={}, engine=EngineConfig(on_start_resting=on_start_resting))
    clock: Clock
    if restart_of is None:
        clock = LoopClock(_aligned_start(start_offset_s))
        exchange = Exchange(clock, seed=seed, config=SimConfig(series=("KXBTC15M",)))
        keys = [generate_key_pair()]
    else:
        restart_of.store.close()
        exchange, keys = restart_of.exchange, [restart_of.key]
        clock = exchange.clock  # the LoopClock made above, on this same loop
    store = SqliteStore(tmp_path / "kxbtc.db")
    async with virtual_sim(exchange, step_interval_s=0.02, keys=keys) as sim:
        if prepare is not None:  # before the audit starts: what an earlier run left on the account
            prepare(exchange, sim.user_id())
        audit = restart_of.audit if restart_of is not None else ExchangeAudit(exchange, sim.user_id())
        async with virtual_engine(
            config, sim, store, clock, strategies=strategies, reconcile_every_s=30.0
        ) as engine:
            await engine.run(until_ns=clock.time_ns() + int(sim_seconds * NS_PER_S))
        store.flush()
        return Run(engine, exchange, audit, store, sim.user_id(), keys[0])


def _aligned_start(offset_s: float) -> int:
    """A fixed start ``offset_s`` seconds into a 15-minute window, at midday UTC: runs do not depend on
    the time of day they happen at (where a window stands, a UTC day rolling over mid-run)."""
    midday = 1_780_315_200 * NS_PER_S  # 2026-06-01 12:00:00 UTC, a quarter-hour boundary
    return midday + int(offset_s * NS_PER_S)


# -- test-only strategies -----------------------------------------------------------------------


def _intent(market: MarketState, side: str, price: int, count: int, reason: str, tif: str) -> Decision:
    return Decision(
        OrderIntent(market.contract.ticker, side, Price(price), Count(count), "test", reason, tif), {}
    )


class Churn(Strategy):
    """Loses on purpose: buys YES at the ask, then sells it back at the bid, again and again; also keeps
    one bid resting far below the market so there is something to cancel when trading halts."""

    name = "churn"

    def __init__(self, contracts: int) -> None:
        super().__init__(StrategyConfig())
        self.contracts = contracts
        self.rested: set[str] = set()

    def on_book(self, market: MarketState, oracle: OracleView, ctx: DecisionContext) -> list[Decision]:
        book = market.book
        ask, bid = book.yes_ask(), book.best_yes_bid()
        if ask is None or bid is None or market.contract.seconds_to_close(ctx.now_ns) < 90:
            return []
        ticker = market.contract.ticker
        if ticker not in self.rested:
            self.rested.add(ticker)
            return [_intent(market, "bid", 100, WHOLE, "resting bait", "good_till_canceled")]
        if market.position > 0:
            return [_intent(market, "ask", bid, market.position, "sell back at the bid", "fill_or_kill")]
        size = min(self.contracts * WHOLE, book.yes_ask_size() // WHOLE * WHOLE)
        return [_intent(market, "bid", ask, size, "buy at the ask", "fill_or_kill")] if size else []


class Accumulate(Strategy):
    """Keeps buying YES at the ask on every book change, as much as the top level shows."""

    name = "accumulate"

    def __init__(self, contracts: int, *, from_s: float = 0.0) -> None:
        super().__init__(StrategyConfig())
        self.contracts = contracts
        self.until_close_s = from_s  # only act when at most this many seconds remain (0 = always)

    def on_book(self, market: MarketState, oracle: OracleView, ctx: DecisionContext) -> list[Decision]:
        left = market.contract.seconds_to_close(ctx.now_ns)
        if self.until_close_s and left > self.until_close_s:
            return []
        ask = market.book.yes_ask()
        if ask is None:
            return []
        size = min(self.contracts * WHOLE, market.book.yes_ask_size() // WHOLE * WHOLE)
        return [_intent(market, "bid", ask, size, "accumulate", "fill_or_kill")] if size else []


class RestingBids(Strategy):
    """Keeps adding good-till-cancelled bids 15 cents under the best bid: each rests, none fills, and
    only the resting orders' own worst case stands between the account and its limits."""

    name = "resting"

    def __init__(self, contracts: int) -> None:
        super().__init__(StrategyConfig())
        self.contracts = contracts

    def on_book(self, market: MarketState, oracle: OracleView, ctx: DecisionContext) -> list[Decision]:
        bid = market.book.best_yes_bid()
        if bid is None or bid < 2_000 or market.contract.seconds_to_close(ctx.now_ns) < 120:
            return []
        price = (bid - 1_500) // 100 * 100  # whole cents are on every BTC price grid
        return [_intent(market, "bid", price, self.contracts * WHOLE, "rest below", "good_till_canceled")]


# -- the tests ----------------------------------------------------------------------------------


def _decisions(tmp_path: Path) -> list[tuple[int, str, str]]:
    """(time, ticker, risk outcome) of every decision the engine recorded."""
    with contextlib.closing(sqlite3.connect(tmp_path / "kxbtc.db")) as db:
        rows = db.execute("SELECT ts_ns, ticker, intent FROM decisions ORDER BY ts_ns").fetchall()
    return [(ts, ticker, json.loads(intent)["outcome"]) for ts, ticker, intent in rows]


def _fee(exchange: Exchange, order: OrderSeen) -> int:
    """The taker fee the exchange charges if the whole order fills."""
    return exchange.series_by_ticker["KXBTC15M"].fees.fee(Price(order.price), Count(order.count), True)


def _opening_cost(order: OrderSeen) -> int:
    """Cash the opening part of ``order`` locks if it fills (YES at price, NO at 1 - price)."""
    closing = min(order.count, max(0, -order.position) if order.side == "bid" else max(0, order.position))
    leg = order.price if order.side == "bid" else PRICE_SCALE - order.price
    return notional(leg, order.count - closing)


@on_virtual_time
async def test_a_losing_streak_is_stopped_at_the_daily_loss_floor(tmp_path: Path) -> None:
    risk = RiskConfig(daily_loss_pct=1.0, max_drawdown_pct=50.0, per_strike_pct=50.0)
    run = await run_engine(tmp_path, risk, [Churn(contracts=200)], sim_seconds=360)
    start = run.exchange.config.start_balance
    budget = start * 100 // 10_000  # 1 % of the day's starting equity
    floor = start - budget
    orders = run.audit.orders
    # A real losing streak: dozens of round trips, each losing the spread and two fees ...
    assert sum(o.filled > 0 for o in orders) >= 20
    final_cash = run.exchange.accounts.cash_of(run.user_id, 0, CRYPTO_SHARD)
    assert final_cash < floor + budget // 4, "the streak did not use most of the daily budget"

    # ... yet every order that opened exposure left room, in the exchange's own accounting at the
    # instant it arrived, to lose all of it (fees included) without passing the floor.
    for o in orders:
        if opens(o):
            assert o.cash - _opening_cost(o) - _fee(run.exchange, o) >= floor, o
    # The breaker tripped once nothing more could be risked, and the reason is on record ...
    with contextlib.closing(sqlite3.connect(tmp_path / "kxbtc.db")) as db:
        trips = db.execute("SELECT ts_ns FROM risk_events WHERE kind = 'daily_loss'").fetchall()
    assert trips, "the daily-loss breaker never tripped"
    tripped_at = trips[0][0]
    # ... and no order opened exposure after it (one already on the wire may land a moment later).
    late = [o for o in orders if o.ts_ns > tripped_at + 5_000_000_000 and opens(o)]
    assert not late, late
    # Nothing was left resting on the exchange after shutdown.
    assert not [o for o in run.exchange.orders.values() if o.user_id == run.user_id and o.is_live]


@on_virtual_time
async def test_a_restart_does_not_renew_the_days_loss_budget(tmp_path: Path) -> None:
    risk = RiskConfig(daily_loss_pct=1.0, max_drawdown_pct=50.0, per_strike_pct=50.0)
    first = await run_engine(tmp_path, risk, [Churn(contracts=200)], sim_seconds=300)
    start = first.exchange.config.start_balance
    floor = start - start * 100 // 10_000
    cash_at_restart = first.exchange.accounts.cash_of(first.user_id, 0, CRYPTO_SHARD)
    assert cash_at_restart < floor + (start - floor) // 4  # most of the day's budget is gone
    orders_before = len(first.audit.orders)

    second = await run_engine(tmp_path, risk, [Churn(contracts=200)], sim_seconds=120, restart_of=first)
    assert second.user_id == first.user_id
    # The restarted engine kept the day's starting equity: its orders still respect the original floor,
    # so the day's total loss stays within 1% (plus the sell-backs' spread and fees) however often
    # the engine restarts.
    for o in second.audit.orders[orders_before:]:
        if opens(o):
            assert o.cash - _opening_cost(o) - _fee(second.exchange, o) >= floor, o
    final_cash = second.exchange.accounts.cash_of(second.user_id, 0, CRYPTO_SHARD)
    assert final_cash > floor - start // 1_000  # never more than 0.1% past the line


@on_virtual_time
async def test_b_a_position_at_20_percent_of_equity_blocks_the_next_order(tmp_path: Path) -> None:
    # The default settings (5 % daily loss, 10 % drawdown, 20 % per strike): open positions count at
    # their exit marks, so the per-strike cap is the limit that binds on one market.
    risk = RiskConfig()
    run = await run_engine(tmp_path, risk, [Accumulate(contracts=60)], sim_seconds=150, seed=11)
    orders = run.audit.orders
    assert orders, "the strategy never traded"
    strike = orders[0].ticker
    on_strike = [o for o in orders if o.ticker == strike]

    # Every order on the strike kept the position's cost within 20% of equity at that instant. The gate
    # measures equity at decision time on its own copy of the book; by the time the order lands the mid
    # can have moved a few updates, so marks within three cents are allowed.
    for o in on_strike:
        cap = (o.equity + 3 * o.mark_tick) * 2_000 // 10_000
        assert o.cost_after <= cap, (o, cap)
    # It was driven to the edge: within $3 of the cap (one contract, plus 20 % of the gap between the
    # audit's mid marks and the exit marks, after exit fees, that the gate measures equity at) ...
    last = on_strike[-1]
    assert last.cost_after > last.equity * 2_000 // 10_000 - 3 * PRICE_SCALE * 100, last
    # ... and then the next orders on that strike were refused by the per-strike rule, not sent.
    assert run.engine.stats.rejected["per_strike"] > 0
    refused = [
        ts for ts, ticker, outcome in _decisions(tmp_path) if ticker == strike and "per_strike" in outcome
    ]
    assert refused and min(refused) >= on_strike[0].ts_ns
    # Four times what the old worst-case rule allowed: open exposure beyond the 5 % daily budget.
    assert last.cost_after > last.equity * 1_500 // 10_000
    assert not run.engine.core.risk.halted


@on_virtual_time
async def test_c_nothing_opens_in_the_final_60_seconds(tmp_path: Path) -> None:
    risk = RiskConfig(daily_loss_pct=100.0, max_drawdown_pct=100.0, per_strike_pct=100.0)
    # Start 780 s into a window: the close comes 120 s later; buy a little on every book change.
    run = await run_engine(
        tmp_path, risk, [Accumulate(contracts=1)], sim_seconds=150, seed=5, start_offset_s=780
    )
    orders = run.audit.orders
    first_ticker = orders[0].ticker
    near_close = [o for o in orders if o.ticker == first_ticker]
    # It traded right up to the edge ...
    assert min(o.seconds_to_close for o in near_close) < 75
    # ... and not one opening order reached the exchange inside the final minute.
    late = [o for o in orders if opens(o) and o.seconds_to_close <= 60]
    assert late == []


@on_virtual_time
async def test_d_resting_orders_count_against_the_limits_until_they_are_gone(tmp_path: Path) -> None:
    # A 1% daily budget ($10 of $1,000) and a 5% per-strike cap: resting bids alone exhaust both.
    risk = RiskConfig(daily_loss_pct=1.0, max_drawdown_pct=50.0, per_strike_pct=5.0)
    run = await run_engine(
        tmp_path, risk, [RestingBids(contracts=4)], sim_seconds=90, seed=3, start_offset_s=120
    )
    start = run.exchange.config.start_balance
    floor = start - start * 100 // 10_000
    orders = run.audit.orders
    assert len(orders) >= 3 and all(o.tif == "good_till_canceled" for o in orders)
    fee = run.exchange.series_by_ticker["KXBTC15M"].fees
    for o in orders:
        worst = _opening_cost(o) + fee.fee(Price(o.price), Count(o.count), True)
        # Everything already resting plus this order could fill and expire worthless: the account still
        # ends at or above the daily floor ...
        assert o.cash - o.resting_worst - worst >= floor, o
        # ... and this strike's resting orders plus this one stay within 5% of equity (marks within
        # three cents, as in the per-strike test).
        cap = (o.equity + 3 * o.mark_tick) * 500 // 10_000
        assert o.position_cost + o.resting_worst_here + worst <= cap, (o, cap)
    # The limits did bind: later bids were refused, not sent.
    rejected = run.engine.stats.rejected
    assert rejected["daily_loss_room"] + rejected["per_strike"] > 0, rejected
    # Nothing was left resting on the exchange after shutdown.
    assert not [o for o in run.exchange.orders.values() if o.user_id == run.user_id and o.is_live]


@on_virtual_time
async def test_e_orders_adopted_at_start_count_against_the_per_strike_cap(tmp_path: Path) -> None:
    # Before the engine starts, the account already has a bid resting deep under the market on the
    # open window (placed by an earlier run, say). Configured to adopt it, the engine leaves it there
    # and counts it: every order it then sends keeps resting + position + order within the 5% cap.
    risk = RiskConfig(daily_loss_pct=50.0, max_drawdown_pct=50.0, per_strike_pct=5.0)
    placed: list[str] = []

    def rest_a_bid(exchange: Exchange, user_id: str) -> None:
        [market] = [
            m for m in exchange.markets.values() if m.status == "active" and m.series_ticker == "KXBTC15M"
        ]
        result = exchange.create_order(
            user_id, ticker=market.ticker, side="bid", price=Price(500), count=Count(400 * WHOLE),
            time_in_force="good_till_canceled", self_trade_prevention_type=None,
        )  # fmt: skip
        placed.append(result.order.order_id)

    run = await run_engine(
        tmp_path, risk, [Accumulate(contracts=20)], sim_seconds=60, seed=11,
        on_start_resting="adopt", prepare=rest_a_bid,
    )  # fmt: skip
    [order_id] = placed
    orders = [o for o in run.audit.orders if o.ticker == run.exchange.orders[order_id].ticker]
    assert orders, "the strategy never traded the adopted order's market"
    # The adopted bid was still resting when the engine's orders arrived (not cancelled at start) ...
    assert all(o.resting_worst_here > 0 for o in orders)
    fee = run.exchange.series_by_ticker["KXBTC15M"].fees
    for o in orders:
        worst = _opening_cost(o) + fee.fee(Price(o.price), Count(o.count), True)
        cap = (o.equity + 3 * o.mark_tick) * 500 // 10_000
        # ... and it counted: the position, every resting order and this order all fit under the cap.
        assert o.position_cost + o.resting_worst_here + worst <= cap, (o, cap)
    assert run.engine.stats.rejected["per_strike"] > 0


@on_virtual_time
async def test_f_with_default_settings_a_losing_streak_trips_the_daily_loss_breaker(tmp_path: Path) -> None:
    # The default 5 % daily limit, losses measured as realized plus marked (exit prices after fees).
    run = await run_engine(tmp_path, RiskConfig(), [Churn(contracts=500)], sim_seconds=240)
    start = run.exchange.config.start_balance
    floor = start - start * 500 // 10_000
    for o in run.audit.orders:
        if opens(o):  # every opening order could be lost whole without passing the floor
            assert o.cash - _opening_cost(o) - _fee(run.exchange, o) >= floor, o
    with contextlib.closing(sqlite3.connect(tmp_path / "kxbtc.db")) as db:
        trips = db.execute("SELECT ts_ns FROM risk_events WHERE kind = 'daily_loss'").fetchall()
    assert trips, "the daily-loss breaker never tripped"
    assert run.engine.core.risk.halted
    late = [o for o in run.audit.orders if o.ts_ns > trips[0][0] + 5_000_000_000 and opens(o)]
    assert not late, late
    final_cash = run.exchange.accounts.cash_of(run.user_id, 0, CRYPTO_SHARD)
    assert floor - start // 1_000 < final_cash < floor + start // 100  # stopped near the 5 % line
