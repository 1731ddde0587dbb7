"""The simulated Kalshi exchange: the facade the REST/WS server drives.

Everything is in exchange units: ``Price`` (1e-4 $, YES leg), ``Count`` (1e-2 contracts), ``Money``
(1e-6 $). Render results with ``kxbtc.sim.wire``. Every write raises ``SimRejection`` with Kalshi's
status, code and message when the exchange refuses it; the server turns it into the nested error body
(``wire.error_body``).

Time: the exchange reads the injected clock. ``step()`` brings it up to the clock's time (one index value
per second, market lifecycle, order expiry, synthetic counterparties); every public method calls it first,
so a test can advance a ``ManualClock`` and call the facade directly. ``run()`` steps on the clock forever.

Accounts: a user per API key id (``ensure_user``). Balances are per (user, subaccount, shard); new users
are funded on ``config.fund_shard`` (2, crypto) so BTC orders work out of the box. ``transfer`` moves funds
between shards.

Deterministic under ``seed``: ids, the index path and the counterparties draw from seeded generators.
"""

from __future__ import annotations

import heapq
import logging
import random
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Unpack

from kxbtc.clock import NS_PER_MS, NS_PER_S, Clock
from kxbtc.sim.accounts import (
    MONEY_PER_COUNT_DOLLAR,
    Accounts,
    Fill,
    PositionState,
    Settlement,
    Trade,
    leg_price,
    reserve_for,
)
from kxbtc.sim.events import (
    BookDelta,
    EventBus,
    EventCreated,
    EventQueue,
    FillEvent,
    IndexTick,
    LifecycleEvent,
    OrderUpdate,
    PositionUpdate,
    TickerUpdate,
    TradeEvent,
)
from kxbtc.sim.markets import (
    GRIDS,
    HOUR_NS,
    QUARTER_NS,
    RULES_SECONDARY,
    SERIES,
    STATUS_FILTERS,
    Candle,
    Event,
    Market,
    MarketSpec,
    Ohlc,
    Series,
    dollars_display,
    et_phrase,
    event_ticker_15m,
    event_ticker_hourly,
    in_weekly_maintenance,
    settlement_average_cents,
    spec_15m,
    specs_kxbtc,
    specs_kxbtcd,
)
from kxbtc.sim.matching import STP_TYPES, TIME_IN_FORCE, LevelChange, MatchPlan, Order, OrderBook

# Page, decode_cursor and encode_cursor (``as`` imports) stay importable from here, where they used to live.
from kxbtc.sim.paging import Page as Page
from kxbtc.sim.paging import PortfolioQuery, in_window, paginate, portfolio_page
from kxbtc.sim.paging import decode_cursor as decode_cursor
from kxbtc.sim.paging import encode_cursor as encode_cursor
from kxbtc.sim.price_path import PricePath, SyntheticPath
from kxbtc.units import PRICE_SCALE, Count, Money, Price, notional

log = logging.getLogger(__name__)

CRYPTO_SHARD = 2
DEFAULT_START_BALANCE = Money(1_000_000_000)  # $1,000 per new user
SHARDS = (0, 1, 2, 3)


# ----------------------------------------------------------------------------------------------
# configuration, errors and results


@dataclass(frozen=True, slots=True)
class SimConfig:
    """Knobs of the simulated exchange. Defaults give realistic BTC markets with liquidity."""

    start_balance: Money = DEFAULT_START_BALANCE
    fund_shard: int = CRYPTO_SHARD
    #: 15-minute windows listed ahead of the current one (``initialized`` until they open).
    windows_ahead_15m: int = 2
    #: Hourly events are listed this long before they open.
    hourly_lead_s: int = 600
    #: KXBTCD strikes each side of spot; KXBTC buckets each side of spot.
    ladder_each_side: int = 8
    range_each_side: int = 6
    series: tuple[str, ...] = ("KXBTC15M", "KXBTCD", "KXBTC")
    #: Index history generated before the start, so the first windows have strikes.
    history_s: int = 7200
    #: A cancel/decrease with neither ``exchange_index`` nor ``market_ticker`` goes to shard 0 (errata 5):
    #: BTC orders live on shard 2, so it answers 404 as the real exchange would.
    strict_shard_routing: bool = True
    #: REST orderbook arrays ascending (best bid last) or descending (errata Part 1 item 2: unresolved).
    orderbook_ascending: bool = True
    #: Synthetic counterparties (see ``liquidity.LiquidityConfig``): off gives an empty exchange.
    counterparties: bool = True
    #: Scale of the makers' mispricing against the true fair probability (0 = small realistic noise).
    mispricing: float = 0.0
    max_batch: int = 20
    #: Kalshi's weekly trading pause, Thursday 03:00-05:00 ET (cancels allowed, no new orders).
    weekly_maintenance: bool = False
    #: Finalized markets (and their trades) older than this are forgotten.
    retain_finalized_s: int = 6 * 3600
    #: Synthetic-path parameters (ignored when ``prices`` is given).
    start_price: float = 100_000.0
    annual_vol: float = 0.52


class SimRejection(Exception):
    """The exchange refuses a request; ``status``/``code``/``message``/``details`` as Kalshi sends them."""

    def __init__(self, status: int, code: str, message: str, details: str = "") -> None:
        super().__init__(f"{status} {code}: {message}" + (f" ({details})" if details else ""))
        self.status = status
        self.code = code
        self.message = message
        self.details = details


def _not_found() -> SimRejection:
    return SimRejection(404, "not_found", "not found")


def _invalid(code: str, message: str, details: str = "") -> SimRejection:
    return SimRejection(400, code, message, details)


def _market_inactive(market: Market) -> SimRejection:
    # Kalshi's REST spelling of MARKET_INACTIVE was never captured (kalshi-api.md §13 item 14); the FIX
    # text is upper case, REST codes are lower snake case, so this is the likely form.
    return _invalid("market_inactive", "market is not active", f"market status is {market.status}")


@dataclass(frozen=True, slots=True)
class CreateResult:
    """V2 create response: ``fill_count`` is what this request filled; averages only when it filled."""

    order: Order
    fill_count: Count
    remaining_count: Count
    average_fill_price: Price | None
    average_fee_paid: Price | None
    ts_ms: int


@dataclass(frozen=True, slots=True)
class CancelResult:
    order: Order
    reduced_by: Count
    ts_ms: int


@dataclass(frozen=True, slots=True)
class AmendResult:
    order: Order
    fill_count: Count
    remaining_count: Count
    average_fill_price: Price | None
    average_fee_paid: Price | None
    ts_ms: int


@dataclass(frozen=True, slots=True)
class DecreaseResult:
    order: Order
    reduced_by: Count
    remaining_count: Count
    ts_ms: int


@dataclass(frozen=True, slots=True)
class MarketPositionView:
    state: PositionState
    resting_orders_count: int


@dataclass(frozen=True, slots=True)
class EventPositionView:
    event_ticker: str
    total_cost: Money
    total_cost_shares: Count
    event_exposure: Money
    realized_pnl: Money
    fees_paid: Money


@dataclass(frozen=True, slots=True)
class PositionsPage:
    market_positions: list[MarketPositionView]
    event_positions: list[EventPositionView]
    cursor: str


@dataclass(frozen=True, slots=True)
class Balance:
    """``available`` excludes resting-order collateral; ``by_shard`` is the same per exchange_index."""

    available: Money
    by_shard: dict[int, Money]
    portfolio_value_cents: int
    updated_ts: int


@dataclass(frozen=True, slots=True)
class Orderbook:
    """REST book: YES bids and NO bids (NO-leg prices), each sorted per ``config.orderbook_ascending``."""

    yes: list[tuple[Price, Count]]
    no: list[tuple[Price, Count]]


@dataclass(frozen=True, slots=True)
class ExchangeStatus:
    exchange_active: bool
    trading_active: bool


@dataclass(frozen=True, slots=True)
class Transfer:
    transfer_id: str
    user_id: str
    subaccount: int
    source_shard: int
    destination_shard: int
    amount: Money
    status: str
    created_ns: int


@dataclass(slots=True)
class _UserState:
    user_id: str
    internal: bool
    orders: list[Order] = field(default_factory=list)
    client_ids: set[str] = field(default_factory=set)


# ----------------------------------------------------------------------------------------------
# the exchange


class Exchange:
    def __init__(
        self,
        clock: Clock,
        *,
        seed: int = 0,
        start_balance: Money | None = None,
        prices: PricePath | None = None,
        counterparties: bool | None = None,
        config: SimConfig | None = None,
    ) -> None:
        cfg = config or SimConfig()
        if start_balance is not None:
            cfg = replace(cfg, start_balance=start_balance)
        if counterparties is not None:
            cfg = replace(cfg, counterparties=counterparties)
        self.config = cfg
        self.clock = clock
        self.seed = seed
        self._rng = random.Random(seed)
        now_s = clock.time_ns() // NS_PER_S
        self.prices: PricePath = prices or SyntheticPath(
            now_s - cfg.history_s,
            seed=seed,
            start_price=cfg.start_price,
            annual_vol=cfg.annual_vol,
        )
        self.accounts = Accounts()
        self.bus = EventBus()
        self.series_by_ticker: dict[str, Series] = {t: SERIES[t] for t in cfg.series}
        self.markets: dict[str, Market] = {}
        self.events_by_ticker: dict[str, Event] = {}
        self.books: dict[str, OrderBook] = {}
        self.orders: dict[str, Order] = {}
        self.trades: dict[str, list[Trade]] = {}
        self.transfers: dict[str, list[Transfer]] = {}
        self.exchange_active = True
        self.trading_active = True
        self._users: dict[str, _UserState] = {}
        self._key_users: dict[str, str] = {}
        self._resting: dict[tuple[str, int, str], dict[str, Order]] = {}
        self._seq = 0
        self._last_s = max(self.prices.first_second(), now_s - 1)
        self._lifecycle: list[tuple[int, int, str]] = []  # (t_ns, seq, ticker)
        self._expiries: list[tuple[int, int, str]] = []  # (expiration_ts s, seq, order_id)
        self._created_closes: set[tuple[str, int]] = set()
        self._ticker_state: dict[str, tuple[int, int, int, int, int, int]] = {}
        self._recent: list[int] = []  # trailing 60 one-second values for IndexTick
        self._candles: dict[str, dict[int, Candle]] = {}  # per market, one-minute candles by end second
        self._stepping = False
        self.liquidity: Any = None
        if cfg.counterparties:
            from kxbtc.sim.liquidity import Counterparties, LiquidityConfig

            self.liquidity = Counterparties(self, LiquidityConfig(mispricing=cfg.mispricing), seed=seed)
        self.step()

    # -- ids and time ---------------------------------------------------------------------------

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def now_ns(self) -> int:
        return self.clock.time_ns()

    # -- accounts -------------------------------------------------------------------------------

    def ensure_user(self, key_id: str, *, internal: bool = False, balance: Money | None = None) -> str:
        """The user behind an API key id, created and funded on first sight."""
        user_id = self._key_users.get(key_id)
        if user_id is not None:
            return user_id
        user_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"kxbtc-sim:{self.seed}:{key_id}"))
        self._key_users[key_id] = user_id
        self._users[user_id] = _UserState(user_id, internal)
        amount = self.config.start_balance if balance is None else balance
        if amount:
            self.accounts.deposit(user_id, amount, self.config.fund_shard)
        return user_id

    def deposit(
        self, user_id: str, amount: Money, exchange_index: int = CRYPTO_SHARD, subaccount: int = 0
    ) -> None:
        self._user(user_id)
        self.accounts.deposit(user_id, amount, exchange_index, subaccount)

    def users(self, *, include_internal: bool = False) -> list[str]:
        return [u for u, s in self._users.items() if include_internal or not s.internal]

    def is_internal(self, user_id: str) -> bool:
        state = self._users.get(user_id)
        return state is not None and state.internal

    def _user(self, user_id: str) -> _UserState:
        state = self._users.get(user_id)
        if state is None:
            raise SimRejection(401, "authentication_error", "authentication_error", "NOT_FOUND")
        return state

    def transfer(
        self, user_id: str, *, source_shard: int, destination_shard: int, amount: Money, subaccount: int = 0
    ) -> Transfer:
        """Intra-exchange transfer (completes at once). ``amount`` in Money, at $0.0001 granularity."""
        self.step()
        self._user(user_id)
        if source_shard not in SHARDS or destination_shard not in SHARDS or source_shard == destination_shard:
            raise _invalid("invalid_parameters", "invalid parameters", "bad source/destination shard")
        if amount <= 0 or amount % 100:
            raise _invalid("invalid_parameters", "invalid parameters", "amount must be positive centicents")
        if self.accounts.available(user_id, subaccount, source_shard) < amount:
            raise _invalid("insufficient_balance", "insufficient balance")
        self.accounts.move_cash(user_id, subaccount, source_shard, -amount)
        self.accounts.move_cash(user_id, subaccount, destination_shard, amount)
        record = Transfer(
            self._uuid(),
            user_id,
            subaccount,
            source_shard,
            destination_shard,
            amount,
            "complete",
            self.now_ns(),
        )
        self.transfers.setdefault(user_id, []).append(record)
        return record

    # -- the clock ------------------------------------------------------------------------------

    def step(self, now_ns: int | None = None) -> None:
        """Bring the exchange up to ``now_ns`` (default: the clock): index seconds, lifecycle, expiry,
        counterparties. Re-entrant calls (from inside a step) do nothing."""
        if self._stepping:
            return
        self._stepping = True
        try:
            now = self.clock.time_ns() if now_ns is None else now_ns
            now_s = now // NS_PER_S
            while self._last_s < now_s:
                self._last_s += 1
                self._second(self._last_s)
            self._expire(now_s)
            if self.liquidity is not None:
                self.liquidity.step(now)
        finally:
            self._stepping = False

    async def run(self, interval_s: float = 0.1) -> None:
        """Step on the injected clock until cancelled."""
        while True:
            try:
                self.step()
            except Exception:  # the loop must survive one bad step; the error is logged with its type
                log.exception("simulated exchange step failed")
            await self.clock.sleep(interval_s)

    def _second(self, s: int) -> None:
        t_ns = s * NS_PER_S
        value = self.prices.value_cents(s)
        self._ensure_schedule(t_ns)
        while self._lifecycle and self._lifecycle[0][0] <= t_ns:
            _, _, ticker = heapq.heappop(self._lifecycle)
            self._advance_market(ticker, t_ns)
        if self.config.weekly_maintenance:
            paused = in_weekly_maintenance(t_ns)
            if paused == self.trading_active:
                self.set_trading_active(not paused)
        self._sample_candles(s)
        if self.bus.has_subscribers:
            self._publish_index(s, value)
        self._recent.append(value)
        if len(self._recent) > 60:
            del self._recent[0]

    def _publish_index(self, s: int, value: int) -> None:
        close_s = -(-s // 900) * 900
        size = s - (close_s - 60) if close_s - 60 < s else 0
        window_sum = sum(self.prices.value_cents(x) for x in range(close_s - size + 1, s + 1)) if size else 0
        self.bus.publish(
            IndexTick(
                s * NS_PER_S,
                value,
                sum(self._recent),
                len(self._recent),
                close_s * NS_PER_S,
                window_sum,
                size,
            )
        )

    def index_value(self, second: int | None = None) -> int:
        """The index (cents) at ``second`` (default: the last processed second)."""
        return self.prices.value_cents(self._last_s if second is None else second)

    def index_window(self, close_s: int, upto_s: int | None = None) -> list[int]:
        """Values of the settlement window ``(close - 60, close]`` observed up to ``upto_s``."""
        last = min(close_s, self._last_s if upto_s is None else upto_s)
        return [self.prices.value_cents(x) for x in range(close_s - 59, last + 1)]

    # -- schedule and lifecycle -------------------------------------------------------------------

    def _ensure_schedule(self, t_ns: int) -> None:
        if "KXBTC15M" in self.series_by_ticker:
            quarter = t_ns // QUARTER_NS * QUARTER_NS
            for k in range(1, self.config.windows_ahead_15m + 2):
                close = quarter + k * QUARTER_NS
                if ("KXBTC15M", close) not in self._created_closes:
                    self._created_closes.add(("KXBTC15M", close))
                    self._create_event(
                        "KXBTC15M",
                        event_ticker_15m(close),
                        close,
                        close - QUARTER_NS,
                        [spec_15m(close)],
                        t_ns,
                    )
        hour = t_ns // HOUR_NS * HOUR_NS
        for series in ("KXBTCD", "KXBTC"):
            if series not in self.series_by_ticker:
                continue
            for close in (hour + HOUR_NS, hour + 2 * HOUR_NS):
                if (series, close) in self._created_closes:
                    continue
                if close - HOUR_NS - self.config.hourly_lead_s * NS_PER_S > t_ns:
                    continue
                self._created_closes.add((series, close))
                ticker = event_ticker_hourly(series, close)
                spot = self.prices.value_cents(t_ns // NS_PER_S)
                if series == "KXBTCD":
                    specs = specs_kxbtcd(ticker, close, spot, self.config.ladder_each_side)
                else:
                    specs = specs_kxbtc(ticker, close, spot, self.config.range_each_side)
                self._create_event(series, ticker, close, close - HOUR_NS, specs, t_ns)
        self._prune(t_ns)

    def _create_event(
        self,
        series_ticker: str,
        event_ticker: str,
        close_ns: int,
        open_ns: int,
        specs: list[MarketSpec],
        t_ns: int,
    ) -> None:
        series = self.series_by_ticker[series_ticker]
        event = Event(
            event_ticker=event_ticker,
            series_ticker=series_ticker,
            title=series.title if series_ticker == "KXBTC15M" else f"{series.title} on {et_phrase(close_ns)}",
            sub_title=et_phrase(close_ns),
            strike_ns=close_ns,
            exchange_index=series.exchange_index,
            mutually_exclusive=series_ticker == "KXBTC",
            strike_period="fifteen_min" if series_ticker == "KXBTC15M" else "hour",
            updated_ns=t_ns,
            seq=self._next_seq(),
        )
        self.events_by_ticker[event_ticker] = event
        self.bus.publish(EventCreated(event, t_ns))
        for spec in specs:
            market = Market(
                ticker=spec.ticker,
                event_ticker=event_ticker,
                series_ticker=series_ticker,
                market_id=self._uuid(),
                title=spec.title,
                yes_sub_title=spec.yes_sub_title,
                no_sub_title=spec.no_sub_title,
                strike_type=spec.strike_type,
                floor_strike=spec.floor_strike,
                cap_strike=spec.cap_strike,
                created_ns=t_ns,
                open_ns=open_ns,
                close_ns=close_ns,
                settlement_timer_s=series.settlement_timer_s,
                price_level_structure=series.price_level_structure,
                grid=GRIDS[series.price_level_structure],
                exchange_index=series.exchange_index,
                rules_primary=spec.rules_primary,
                rules_secondary=RULES_SECONDARY,
                seq=self._next_seq(),
                updated_ns=t_ns,
            )
            self.markets[market.ticker] = market
            self.books[market.ticker] = OrderBook(market.ticker)
            self.trades[market.ticker] = []
            event.market_tickers.append(market.ticker)
            self.bus.publish(LifecycleEvent("created", market, t_ns))
            heapq.heappush(self._lifecycle, (max(open_ns, t_ns), market.seq, market.ticker))

    def _advance_market(self, ticker: str, t_ns: int) -> None:
        market = self.markets.get(ticker)
        if market is None:
            return
        if market.status == "initialized" and t_ns >= market.open_ns:
            if market.series_ticker == "KXBTC15M":
                strike = settlement_average_cents(self.index_window(market.open_ns // NS_PER_S))
                market.floor_strike = strike
                market.yes_sub_title = market.no_sub_title = f"Target Price: {dollars_display(strike)}"
                market.updated_ns = t_ns
                self.bus.publish(LifecycleEvent("metadata_updated", market, t_ns))
            market.status = "active"
        if market.status == "active" and t_ns >= market.close_ns:
            market.status = "closed"
            self._cancel_all_resting(market, t_ns, "MarketClosed")
        if market.status == "closed" and t_ns >= market.close_ns:
            value = settlement_average_cents(self.index_window(market.close_ns // NS_PER_S))
            market.settlement_value_cents = value
            market.result = "yes" if market.yes_wins(value) else "no"
            market.status = "determined"
            market.determined_ns = t_ns
            market.updated_ns = t_ns
            self.bus.publish(LifecycleEvent("determined", market, t_ns))
        if market.status == "determined":
            assert market.determined_ns is not None
            due = market.determined_ns + market.settlement_timer_s * NS_PER_S
            if t_ns >= due:
                self._settle(market, t_ns)
                return
            heapq.heappush(self._lifecycle, (due, market.seq, ticker))
            return
        if market.status == "initialized":
            heapq.heappush(self._lifecycle, (market.open_ns, market.seq, ticker))
        elif market.status == "active":
            heapq.heappush(self._lifecycle, (market.close_ns, market.seq, ticker))

    def _settle(self, market: Market, t_ns: int) -> None:
        market.status = "finalized"
        market.settled_ns = t_ns
        market.updated_ns = t_ns
        yes_won = market.result == "yes"
        for key in [k for k in self.accounts.positions if k[2] == market.ticker]:
            state = self.accounts.positions.pop(key)
            user_id, subaccount, _ = key
            pos = state.position
            won = pos > 0 if yes_won else pos < 0
            payout = Money(abs(pos) * MONEY_PER_COUNT_DOLLAR) if won else Money(0)
            if payout:
                self.accounts.move_cash(user_id, subaccount, state.exchange_index, payout)
            ledger = self.accounts.ledger
            ledger.payouts = Money(ledger.payouts + payout)
            if pos > 0:
                ledger.escrow = Money(ledger.escrow - pos * MONEY_PER_COUNT_DOLLAR)
            if self.is_internal(user_id):
                continue
            settlement = Settlement(
                user_id=user_id,
                subaccount=subaccount,
                ticker=market.ticker,
                event_ticker=market.event_ticker,
                exchange_index=market.exchange_index,
                market_result="yes" if yes_won else "no",
                yes_count=Count(max(pos, 0)),
                yes_total_cost=state.cost if pos > 0 else Money(0),
                no_count=Count(max(-pos, 0)),
                no_total_cost=state.cost if pos < 0 else Money(0),
                revenue=payout,
                value_cents=100 if yes_won else 0,
                fee_cost=state.fees_paid,
                settled_ns=t_ns,
                seq=self._next_seq(),
            )
            self.accounts.record_settlement(settlement)
            state.realized_pnl = Money(state.realized_pnl + payout - state.cost)
            state.cost = Money(0)
            state.position = Count(0)
            state.last_updated_ns = t_ns
            self.bus.publish(PositionUpdate(user_id, subaccount, state.copy(), t_ns))
        market.open_interest = Count(0)
        self.bus.publish(LifecycleEvent("settled", market, t_ns))

    def _prune(self, t_ns: int) -> None:
        horizon = t_ns - self.config.retain_finalized_s * NS_PER_S
        if t_ns % (60 * NS_PER_S):
            return  # once a minute is plenty
        for ticker in [
            t
            for t, m in self.markets.items()
            if m.status == "finalized" and m.settled_ns is not None and m.settled_ns < horizon
        ]:
            market = self.markets.pop(ticker)
            self.books.pop(ticker, None)
            self.trades.pop(ticker, None)
            self._candles.pop(ticker, None)
            self._ticker_state.pop(ticker, None)
            event = self.events_by_ticker.get(market.event_ticker)
            if event is not None and all(t not in self.markets for t in event.market_tickers):
                del self.events_by_ticker[market.event_ticker]

    # -- public market data ---------------------------------------------------------------------

    def exchange_status(self) -> ExchangeStatus:
        self.step()
        return ExchangeStatus(self.exchange_active, self.trading_active)

    def set_trading_active(self, active: bool) -> None:
        """Pause or resume trading (cancels stay allowed); orders with ``cancel_order_on_pause`` go."""
        self.trading_active = active
        if not active:
            now = self.now_ns()
            for order in [o for o in self.orders.values() if o.is_live and o.cancel_order_on_pause]:
                self._cancel(order, now, "ExchangePaused")

    def series(self, series_ticker: str) -> Series:
        series = self.series_by_ticker.get(series_ticker)
        if series is None:
            raise _not_found()
        return series

    def series_list(self) -> list[Series]:
        return list(self.series_by_ticker.values())

    def market(self, ticker: str) -> Market:
        self.step()
        market = self.markets.get(ticker)
        if market is None:
            raise _not_found()
        return market

    def markets_page(
        self,
        *,
        event_ticker: str | None = None,
        series_ticker: str | None = None,
        tickers: Iterable[str] | None = None,
        status: str | None = None,
        min_close_ts: int | None = None,
        max_close_ts: int | None = None,
        cursor: str = "",
        limit: int = 100,
    ) -> Page[Market]:
        """``GET /markets``: newest first; ``status`` is the REST filter (unopened|open|closed|settled)."""
        self.step()
        wanted = set(tickers) if tickers else None
        statuses = STATUS_FILTERS.get(status) if status else None

        def keep(m: Market) -> bool:
            return (
                (event_ticker is None or m.event_ticker == event_ticker)
                and (series_ticker is None or m.series_ticker == series_ticker)
                and (wanted is None or m.ticker in wanted)
                and (statuses is None or m.status in statuses)
                and (min_close_ts is None or m.close_ns >= min_close_ts * NS_PER_S)
                and (max_close_ts is None or m.close_ns <= max_close_ts * NS_PER_S)
            )

        return paginate([m for m in self.markets.values() if keep(m)], lambda m: m.seq, cursor, limit)

    def event(self, event_ticker: str) -> tuple[Event, list[Market]]:
        self.step()
        event = self.events_by_ticker.get(event_ticker)
        if event is None:
            raise _not_found()
        return event, [self.markets[t] for t in event.market_tickers if t in self.markets]

    def events_page(
        self,
        *,
        series_ticker: str | None = None,
        status: str | None = None,
        cursor: str = "",
        limit: int = 200,
    ) -> Page[Event]:
        """``GET /events``: an event matches ``status`` when any of its markets does."""
        self.step()
        statuses = STATUS_FILTERS.get(status) if status else None

        def keep(e: Event) -> bool:
            if series_ticker is not None and e.series_ticker != series_ticker:
                return False
            if statuses is None:
                return True
            return any(self.markets[t].status in statuses for t in e.market_tickers if t in self.markets)

        return paginate(
            [e for e in self.events_by_ticker.values() if keep(e)], lambda e: e.seq, cursor, limit
        )

    def orderbook(self, ticker: str, depth: int = 0) -> Orderbook:
        """REST book: YES bids, NO bids at NO-leg prices; ``depth`` 0 = all levels, else the N best."""
        market = self.market(ticker)
        book = self.books[market.ticker]
        yes = book.levels("bid")
        no = [(Price(PRICE_SCALE - p), c) for p, c in book.levels("ask")]
        if depth > 0:
            yes, no = yes[:depth], no[:depth]
        if self.config.orderbook_ascending:
            yes.reverse()
            no.reverse()
        return Orderbook(yes, no)

    def top_of_book(self, ticker: str) -> tuple[Price, Count, Price, Count]:
        """(yes_bid, size, yes_ask, size); an empty bid is 0 and an empty ask 1.0000."""
        book = self.books[ticker]
        bid, ask = book.best_bid(), book.best_ask()
        return (
            Price(0) if bid is None else bid,
            Count(0) if bid is None else book.size_at("bid", bid),
            Price(PRICE_SCALE) if ask is None else ask,
            Count(0) if ask is None else book.size_at("ask", ask),
        )

    def trades_page(
        self,
        *,
        ticker: str | None = None,
        min_ts: int | None = None,
        max_ts: int | None = None,
        cursor: str = "",
        limit: int = 100,
    ) -> Page[Trade]:
        self.step()
        if ticker is not None:
            source: Iterable[Trade] = self.trades.get(ticker, [])
        else:
            source = (t for ts in self.trades.values() for t in ts)
        items = [t for t in source if in_window(t.ts_ns, min_ts, max_ts)]
        return paginate(items, lambda t: t.seq, cursor, limit)

    def _candle(self, ticker: str, second: int) -> Candle:
        end = -(-second // 60) * 60
        per_market = self._candles.setdefault(ticker, {})
        candle = per_market.get(end)
        if candle is None:
            candle = per_market[end] = Candle(end)
        return candle

    def _sample_candles(self, s: int) -> None:
        for market in self.markets.values():
            if market.status != "active":
                continue
            bid, _, ask, _ = self.top_of_book(market.ticker)
            candle = self._candle(market.ticker, s)
            if candle.yes_bid is None or candle.yes_ask is None:
                candle.yes_bid, candle.yes_ask = Ohlc.of(bid), Ohlc.of(ask)
            else:
                candle.yes_bid.add(bid)
                candle.yes_ask.add(ask)
            candle.open_interest = market.open_interest

    def candlesticks(self, ticker: str, *, start_ts: int, end_ts: int, period_interval: int) -> list[Candle]:
        """Candles of ``period_interval`` minutes (1, 60 or 1440) ending in ``[start_ts, end_ts]`` (seconds).
        ``price`` is None for periods without trades; ``previous_price`` is the last trade price before."""
        self.market(ticker)
        if period_interval not in (1, 60, 1440):
            raise _invalid(
                "invalid_parameters", "invalid parameters", "period_interval must be 1, 60 or 1440"
            )
        span = period_interval * 60
        periods: dict[int, Candle] = {}
        last_price: int | None = None
        for end, minute in sorted(self._candles.get(ticker, {}).items()):
            period_end = -(-end // span) * span
            if period_end > end_ts:
                break
            if period_end >= start_ts:
                candle = periods.get(period_end)
                if candle is None:
                    candle = periods[period_end] = Candle(period_end, previous_price=last_price)
                candle.merge(minute)
                candle.end_ts = period_end
            if minute.price is not None:
                last_price = minute.price.close
        return [periods[k] for k in sorted(periods)]

    # -- order entry ----------------------------------------------------------------------------

    def create_order(
        self,
        user_id: str,
        *,
        ticker: str,
        side: str,
        price: int,
        count: int,
        time_in_force: str,
        self_trade_prevention_type: str | None,
        client_order_id: str | None = None,
        post_only: bool = False,
        reduce_only: bool = False,
        cancel_order_on_pause: bool = False,
        expiration_time: int | None = None,
        order_group_id: str | None = None,
        subaccount: int = 0,
        exchange_index: int | None = None,
    ) -> CreateResult:
        """V2 create (``POST /portfolio/events/orders``). ``side`` bid|ask on the YES leg; ``price`` on the
        market's grid; ``expiration_time`` Unix seconds (GTC only). ``self_trade_prevention_type`` None
        (legacy orders) behaves as ``taker_at_cross`` and is omitted from the rendered order."""
        self.step()
        user = self._user(user_id)
        market = self.markets.get(ticker)
        if market is None or (exchange_index is not None and exchange_index != market.exchange_index):
            raise _invalid("market_not_found", "market not found")
        if side not in ("bid", "ask"):
            raise _invalid("invalid_parameters", "invalid parameters", "side must be bid or ask")
        if time_in_force not in TIME_IN_FORCE:
            raise _invalid("invalid_parameters", "invalid parameters", "bad time_in_force")
        if self_trade_prevention_type is not None and self_trade_prevention_type not in STP_TYPES:
            raise _invalid("invalid_parameters", "invalid parameters", "bad self_trade_prevention_type")
        if count <= 0:
            raise _invalid("invalid_order_size", "invalid order size")
        if not market.grid.is_valid(price):
            raise _invalid("invalid_price", "invalid price")
        now = self.now_ns()
        if expiration_time is not None:
            if time_in_force != "good_till_canceled":
                raise _invalid("invalid_parameters", "invalid parameters", "expiration_time requires GTC")
            if expiration_time * NS_PER_S <= now:
                raise _invalid("invalid_order", "invalid order", "Expiration timestamp must be in the future")
        if client_order_id is not None and client_order_id in user.client_ids:
            raise SimRejection(409, "order_already_exists", "order already exists")
        if not self.exchange_active or not self.trading_active:
            # No recording of a paused exchange's answer exists; the FIX reject text is EXCHANGE_UNAVAILABLE.
            raise _invalid("trading_is_paused", "trading is paused")
        if not market.is_trading:
            raise _market_inactive(market)
        order = Order(
            order_id=self._uuid(),
            user_id=user_id,
            subaccount=subaccount,
            ticker=ticker,
            event_ticker=market.event_ticker,
            side="bid" if side == "bid" else "ask",
            price=Price(price),
            initial_count=Count(count),
            time_in_force=time_in_force,
            self_trade_prevention_type=self_trade_prevention_type,
            created_ns=now,
            seq=0,
            exchange_index=market.exchange_index,
            client_order_id=client_order_id,
            post_only=post_only,
            reduce_only=reduce_only,
            expiration_ts=expiration_time,
            cancel_order_on_pause=cancel_order_on_pause,
            order_group_id=order_group_id,
            remaining=Count(count),
            last_update_ns=now,
            internal=user.internal,
        )
        if reduce_only:
            order.remaining = self._reduce_only_cap(order)
        filled, cost, fees = self._enter(order, market, now)
        return CreateResult(
            order, filled, order.remaining, _average(cost, filled), _average(fees, filled), now // NS_PER_MS
        )

    def _reduce_only_cap(self, order: Order) -> Count:
        state = self.accounts.peek_position(order.user_id, order.subaccount, order.ticker)
        pos = 0 if state is None else state.position
        closable = max(-pos, 0) if order.side == "bid" else max(pos, 0)
        return Count(min(order.remaining, closable))

    def _enter(self, order: Order, market: Market, now: int) -> tuple[Count, Money, Money]:
        """Match, check collateral, execute and rest a new ``order``. Returns this entry's (filled, fill
        cost, fees). Raises before changing anything when the order is refused."""
        plan, rests = self._prepare(order, market)
        return self._commit(order, market, plan, rests, now)

    def _prepare(self, order: Order, market: Market) -> tuple[MatchPlan, bool]:
        """Plan ``order`` against the book and check it may enter; changes nothing."""
        stp = order.self_trade_prevention_type or "taker_at_cross"
        plan = self.books[order.ticker].plan(order, order.remaining, stp)
        if order.post_only and plan.crosses:
            raise _invalid("invalid_order", "invalid order", "post only cross")
        self_crossed = plan.stp_stopped or bool(plan.stp_cancels)
        if order.time_in_force == "fill_or_kill" and not self_crossed and plan.filled < order.remaining:
            # All-or-none: nothing executes. (A self-crossing FOK behaves like IOC per its STP mode.)
            return MatchPlan(crosses=plan.crosses), False
        rests = (
            order.time_in_force == "good_till_canceled"
            and not plan.stp_stopped
            and order.remaining - plan.filled > 0
        )
        self._check_collateral(order, market, plan, rests)
        return plan, rests

    def _commit(
        self, order: Order, market: Market, plan: MatchPlan, rests: bool, now: int
    ) -> tuple[Count, Money, Money]:
        user = self._users[order.user_id]
        if order.order_id not in self.orders and order.seq == 0:
            if order.client_order_id is not None:
                user.client_ids.add(order.client_order_id)
            if not user.internal:
                user.orders.append(order)
        self.orders[order.order_id] = order
        order.seq = self._next_seq()  # time priority restarts on every entry
        for own in plan.stp_cancels:
            self._cancel(own, now, "SelfTradePrevention")
        filled = cost = fees = 0
        for planned in plan.fills:
            fee, leg_cost = self._execute(order, planned.maker, planned.price, planned.count, market, now)
            filled += planned.count
            cost += leg_cost
            fees += fee
        book = self.books[order.ticker]
        if order.remaining > 0 and rests:
            order.status = "resting"
            self._index_resting(order)
            self._publish_level(book.rest(order), market, now)
            if order.expiration_ts is not None:
                heapq.heappush(self._expiries, (order.expiration_ts, order.seq, order.order_id))
        else:
            order.remaining = Count(0)
            if order.fill_count == order.initial_count:
                order.status = "executed"
            else:
                order.status = "canceled"
                order.last_update_reason = (
                    "SelfTradePrevention" if plan.stp_stopped else _unfilled_reason(order.time_in_force)
                )
            if order.internal:
                self.orders.pop(order.order_id, None)
        order.last_update_ns = now
        self._update_reserve(order.user_id, order.subaccount, order.ticker, market.exchange_index)
        self._publish_order(order, now)
        self._publish_ticker(market, now)
        return Count(filled), Money(cost), Money(fees)

    def _check_collateral(self, order: Order, market: Market, plan: MatchPlan, rests: bool) -> None:
        fees_schedule = self.series_by_ticker[market.series_ticker].fees
        current = self.accounts.peek_position(order.user_id, order.subaccount, order.ticker)
        sim = (
            current.copy()
            if current
            else PositionState(order.ticker, order.event_ticker, market.exchange_index)
        )
        cash = 0
        for planned in plan.fills:
            cash += sim.trade(order.side, planned.price, planned.count)
            cash -= fees_schedule.fee(planned.price, planned.count, is_taker=True)
        key = (order.user_id, order.subaccount, order.ticker)
        canceled = {o.order_id for o in plan.stp_cancels}
        others = [
            o
            for oid, o in self._resting.get(key, {}).items()
            if oid not in canceled and oid != order.order_id
        ]
        remainder = order.remaining - plan.filled if rests else 0
        after = reserve_for(others, [(order.side, order.price, remainder)], sim.position, fees_schedule)
        before = self.accounts.reserve_of(order.user_id, order.subaccount, order.ticker)
        available = self.accounts.available(order.user_id, order.subaccount, market.exchange_index)
        if available + cash - (after - before) < 0:
            raise _invalid("insufficient_balance", "insufficient balance")

    def _execute(
        self, taker: Order, maker: Order, price: Price, count: Count, market: Market, now: int
    ) -> tuple[Money, Money]:
        fees_schedule = self.series_by_ticker[market.series_ticker].fees
        trade_id = self._uuid()
        seq = self._next_seq()
        taker_fee = fees_schedule.fee(price, count, is_taker=True)
        maker_fee = fees_schedule.fee(price, count, is_taker=False)
        oi_change = 0
        results: list[tuple[Order, Money, PositionState]] = []
        for order, fee in ((maker, maker_fee), (taker, taker_fee)):
            state = self.accounts.position(
                order.user_id, order.subaccount, order.ticker, order.event_ticker, market.exchange_index
            )
            before = max(state.position, 0)
            exact = state.exact_cash(order.side, price, count)
            cash = state.trade(order.side, price, count)
            oi_change += max(state.position, 0) - before
            state.fees_paid = Money(state.fees_paid + fee)
            state.last_updated_ns = now
            self.accounts.move_cash(order.user_id, order.subaccount, market.exchange_index, cash - fee)
            ledger = self.accounts.ledger
            ledger.fees = Money(ledger.fees + fee)
            ledger.dust = Money(ledger.dust + exact - cash)
            leg_cost = notional(leg_price(order.side, price), count)
            order.remaining = Count(order.remaining - count)
            order.fill_count = Count(order.fill_count + count)
            if order is taker:
                order.taker_fill_cost = Money(order.taker_fill_cost + leg_cost)
                order.taker_fees = Money(order.taker_fees + fee)
            else:
                order.maker_fill_cost = Money(order.maker_fill_cost + leg_cost)
                order.maker_fees = Money(order.maker_fees + fee)
            order.last_update_ns = now
            results.append((order, fee, state))
        ledger = self.accounts.ledger
        ledger.escrow = Money(ledger.escrow + oi_change * MONEY_PER_COUNT_DOLLAR)
        market.open_interest = Count(market.open_interest + oi_change)
        market.volume = Count(market.volume + count)
        market.last_price = price
        market.recent_volume.append((now, count))
        if market.recent_volume[0][0] < now - 86_400 * NS_PER_S:
            market.recent_volume = [(t, c) for t, c in market.recent_volume if t >= now - 86_400 * NS_PER_S]
        candle = self._candle(market.ticker, now // NS_PER_S)
        candle.price = Ohlc.of(price) if candle.price is None else candle.price
        candle.price.add(price)
        candle.price_sum += price * count
        candle.volume += count
        candle.open_interest = market.open_interest
        trade = Trade(trade_id, market.ticker, price, count, taker.side, now, seq)
        self.trades[market.ticker].append(trade)
        # The maker's resting size shrinks first (the book change precedes the trade on the wire).
        if maker.remaining == 0:
            maker.status = "executed"
            self._unindex_resting(maker)
        change = self.books[market.ticker].take_from(maker, count)
        self._publish_level(change, market, now)
        self.bus.publish(TradeEvent(trade, market.market_id))
        for order, fee, state in results:
            fill = Fill(
                fill_id=trade_id,
                order_id=order.order_id,
                user_id=order.user_id,
                subaccount=order.subaccount,
                ticker=market.ticker,
                event_ticker=market.event_ticker,
                side=order.side,
                price=price,
                count=count,
                is_taker=order is taker,
                fee=fee,
                ts_ns=now,
                post_position=state.position,
                exchange_index=market.exchange_index,
                client_order_id=order.client_order_id,
                seq=seq,
            )
            if order.internal:
                continue  # synthetic counterparties have no connections to tell
            self.accounts.record_fill(fill)
            self.bus.publish(FillEvent(fill))
            self.bus.publish(PositionUpdate(order.user_id, order.subaccount, state.copy(), now))
        self._update_reserve(maker.user_id, maker.subaccount, maker.ticker, market.exchange_index)
        self._publish_order(maker, now)
        return taker_fee, notional(leg_price(taker.side, price), count)

    def _cancel(self, order: Order, now: int, reason: str) -> Count:
        """Take a live order off the book; returns the size removed."""
        reduced = order.remaining
        order.remaining = Count(0)
        order.status = "canceled"
        order.last_update_ns = now
        order.last_update_reason = reason
        self._unindex_resting(order)
        market = self.markets[order.ticker]
        change = self.books[order.ticker].take_from(order, reduced)
        self._publish_level(change, market, now)
        self._update_reserve(order.user_id, order.subaccount, order.ticker, market.exchange_index)
        self._publish_order(order, now)
        return reduced

    def _cancel_all_resting(self, market: Market, now: int, reason: str) -> None:
        for order in self.books[market.ticker].resting_orders():
            self._cancel(order, now, reason)
        self._publish_ticker(market, now)

    def _expire(self, now_s: int) -> None:
        while self._expiries and self._expiries[0][0] <= now_s:
            _, seq, order_id = heapq.heappop(self._expiries)
            order = self.orders.get(order_id)
            if order is not None and order.is_live and order.seq == seq:
                self._cancel(order, now_s * NS_PER_S, "Expired")
                self._publish_ticker(self.markets[order.ticker], now_s * NS_PER_S)

    def _find_order(
        self,
        user_id: str,
        order_id: str,
        subaccount: int | None,
        exchange_index: int | None,
        market_ticker: str | None,
    ) -> Order:
        order = self.orders.get(order_id)
        if order is None or order.user_id != user_id:
            raise _not_found()
        if subaccount is not None and order.subaccount != subaccount:
            raise _not_found()
        shard = exchange_index
        if shard is None and market_ticker is not None:
            market = self.markets.get(market_ticker)
            shard = market.exchange_index if market is not None else 0
        if shard is None:
            shard = 0 if self.config.strict_shard_routing else order.exchange_index
        if shard != order.exchange_index:
            raise _not_found()
        return order

    def cancel_order(
        self,
        user_id: str,
        order_id: str,
        *,
        subaccount: int | None = None,
        exchange_index: int | None = None,
        market_ticker: str | None = None,
    ) -> CancelResult:
        """V2 cancel. 404 ``not_found`` for unknown, canceled or executed orders, and for orders on another
        shard than the one the request routes to (no ``exchange_index``/``market_ticker`` = shard 0)."""
        self.step()
        self._user(user_id)
        order = self._find_order(user_id, order_id, subaccount, exchange_index, market_ticker)
        if not order.is_live:
            raise _not_found()
        now = self.now_ns()
        reduced = self._cancel(order, now, "Canceled")
        self._publish_ticker(self.markets[order.ticker], now)
        return CancelResult(order, reduced, now // NS_PER_MS)

    def decrease_order(
        self,
        user_id: str,
        order_id: str,
        *,
        reduce_by: int | None = None,
        reduce_to: int | None = None,
        subaccount: int | None = None,
        exchange_index: int | None = None,
        market_ticker: str | None = None,
    ) -> DecreaseResult:
        """V2 decrease: exactly one of ``reduce_by`` / ``reduce_to``; keeps queue priority; reaching zero
        cancels the order."""
        self.step()
        self._user(user_id)
        if (reduce_by is None) == (reduce_to is None):
            raise _invalid("invalid_parameters", "invalid parameters", "exactly one of reduce_by, reduce_to")
        order = self._find_order(user_id, order_id, subaccount, exchange_index, market_ticker)
        if not order.is_live:
            raise _not_found()
        market = self.markets[order.ticker]
        if not market.is_trading:
            raise _market_inactive(market)
        if reduce_by is not None:
            if reduce_by <= 0:
                raise _invalid("invalid_order_size", "invalid order size")
            new_remaining = max(order.remaining - reduce_by, 0)
        else:
            assert reduce_to is not None
            if reduce_to < 0:
                raise _invalid("invalid_order_size", "invalid order size")
            new_remaining = min(order.remaining, reduce_to)
        now = self.now_ns()
        reduced = Count(order.remaining - new_remaining)
        if new_remaining == 0:
            self._cancel(order, now, "Decrease")
        elif reduced:
            order.remaining = Count(new_remaining)
            order.last_update_ns = now
            order.last_update_reason = "Decrease"
            change = self.books[order.ticker].take_from(order, reduced)
            self._publish_level(change, market, now)
            self._update_reserve(order.user_id, order.subaccount, order.ticker, market.exchange_index)
            self._publish_order(order, now)
        self._publish_ticker(market, now)
        return DecreaseResult(order, reduced, order.remaining, now // NS_PER_MS)

    def amend_order(
        self,
        user_id: str,
        order_id: str,
        *,
        ticker: str,
        side: str,
        price: int,
        count: int,
        client_order_id: str | None = None,
        updated_client_order_id: str | None = None,
        subaccount: int | None = None,
        exchange_index: int | None = None,
    ) -> AmendResult:
        """V2 amend: ``count`` is the new total (filled + resting). A size-only decrease keeps priority;
        any other change re-enters the order (it may fill at once) at the back of its new level."""
        self.step()
        user = self._user(user_id)
        order = self._find_order(user_id, order_id, subaccount, exchange_index, ticker)
        if not order.is_live:
            raise _not_found()
        if order.ticker != ticker:
            raise _invalid("order_ticker_mismatch", "order ticker mismatch")
        if order.side != side:
            raise _invalid("order_side_mismatch", "order side mismatch")
        if client_order_id is not None and client_order_id != order.client_order_id:
            raise _invalid("order_id_and_client_order_id_mismatch", "order id and client order id mismatch")
        market = self.markets[order.ticker]
        if not market.is_trading:
            raise _market_inactive(market)
        if not market.grid.is_valid(price):
            raise _invalid("invalid_price", "invalid price")
        new_remaining = count - order.fill_count
        if new_remaining <= 0:
            raise _invalid("invalid_order", "invalid order", "amended count must exceed the filled count")
        if updated_client_order_id is not None and updated_client_order_id in user.client_ids:
            raise SimRejection(409, "order_already_exists", "order already exists")
        now = self.now_ns()
        filled_before = order.fill_count
        cost_before = order.taker_fill_cost
        fees_before = order.taker_fees
        if price == order.price and new_remaining <= order.remaining:
            if new_remaining < order.remaining:
                self.decrease_order(
                    user_id, order_id, reduce_to=new_remaining, exchange_index=order.exchange_index
                )
        else:
            # Plan the re-priced order first (its own resting size is on its own side, so it cannot
            # affect the plan); only then take it off its old level and re-enter it at the back.
            trial = replace(order, price=Price(price), remaining=Count(new_remaining))
            plan, rests = self._prepare(trial, market)
            self._unindex_resting(order)
            self._publish_level(self.books[order.ticker].remove(order), market, now)
            order.price = Price(price)
            order.remaining = Count(new_remaining)
            order.initial_count = Count(count)
            order.last_update_reason = "Amend"
            self._commit(order, market, plan, rests, now)
        if updated_client_order_id is not None:
            user.client_ids.add(updated_client_order_id)
            order.client_order_id = updated_client_order_id
        filled = Count(order.fill_count - filled_before)
        return AmendResult(
            order,
            order.fill_count,
            order.remaining,
            _average(Money(order.taker_fill_cost - cost_before), filled),
            _average(Money(order.taker_fees - fees_before), filled),
            now // NS_PER_MS,
        )

    def batch_create(self, user_id: str, orders: list[dict[str, Any]]) -> list[CreateResult | SimRejection]:
        """Each item is ``create_order``'s keyword arguments; one bad item fails alone."""
        if len(orders) > self.config.max_batch:
            raise _invalid(
                "invalid_parameters", "invalid parameters", f"at most {self.config.max_batch} orders"
            )
        out: list[CreateResult | SimRejection] = []
        for item in orders:
            try:
                out.append(self.create_order(user_id, **item))
            except SimRejection as rejection:
                out.append(rejection)
        return out

    def batch_cancel(self, user_id: str, targets: list[dict[str, Any]]) -> list[CancelResult | SimRejection]:
        """Each item is ``{"order_id", "subaccount"?, "exchange_index"?, "market_ticker"?}``."""
        if len(targets) > self.config.max_batch:
            raise _invalid(
                "invalid_parameters", "invalid parameters", f"at most {self.config.max_batch} orders"
            )
        out: list[CancelResult | SimRejection] = []
        for item in targets:
            try:
                out.append(
                    self.cancel_order(
                        user_id,
                        item["order_id"],
                        subaccount=item.get("subaccount"),
                        exchange_index=item.get("exchange_index"),
                        market_ticker=item.get("market_ticker"),
                    )
                )
            except SimRejection as rejection:
                out.append(rejection)
        return out

    # -- portfolio reads ------------------------------------------------------------------------

    def order(self, user_id: str, order_id: str) -> Order:
        self.step()
        order = self.orders.get(order_id)
        if order is None or order.user_id != user_id:
            raise _not_found()
        return order

    def orders_page(
        self,
        user_id: str,
        *,
        event_ticker: str | None = None,
        status: str | None = None,
        **query: Unpack[PortfolioQuery],
    ) -> Page[Order]:
        """Newest first. ``event_ticker`` may be a comma list."""
        self.step()
        events = set(event_ticker.split(",")) if event_ticker else None
        orders = (
            o
            for o in self._user(user_id).orders
            if (events is None or o.event_ticker in events) and (status is None or o.status == status)
        )
        return portfolio_page(orders, lambda o: o.created_ns, query)

    def fills_page(
        self, user_id: str, *, order_id: str | None = None, **query: Unpack[PortfolioQuery]
    ) -> Page[Fill]:
        self.step()
        self._user(user_id)
        fills = (
            f for f in self.accounts.fills.get(user_id, []) if order_id is None or f.order_id == order_id
        )
        return portfolio_page(fills, lambda f: f.ts_ns, query)

    def settlements_page(
        self, user_id: str, *, event_ticker: str | None = None, **query: Unpack[PortfolioQuery]
    ) -> Page[Settlement]:
        self.step()
        self._user(user_id)
        settlements = (
            s
            for s in self.accounts.settlements.get(user_id, [])
            if event_ticker is None or s.event_ticker == event_ticker
        )
        return portfolio_page(settlements, lambda s: s.settled_ns, query)

    def positions_page(
        self,
        user_id: str,
        *,
        ticker: str | None = None,
        event_ticker: str | None = None,
        count_filter: str | None = None,
        subaccount: int | None = None,
        exchange_index: int | None = None,
        cursor: str = "",
        limit: int = 100,
    ) -> PositionsPage:
        """Unsettled positions; ``count_filter`` ``position`` and/or ``total_traded`` drop zero rows."""
        self.step()
        self._user(user_id)
        filters = set(count_filter.split(",")) if count_filter else set()
        rows: list[tuple[int, MarketPositionView]] = []
        for (u, sub, t), state in self.accounts.positions.items():
            if u != user_id or (subaccount is not None and sub != subaccount):
                continue
            if (ticker is not None and t != ticker) or (
                event_ticker is not None and state.event_ticker != event_ticker
            ):
                continue
            if exchange_index is not None and state.exchange_index != exchange_index:
                continue
            if "position" in filters and state.position == 0:
                continue
            if "total_traded" in filters and state.total_traded == 0:
                continue
            resting = len(self._resting.get((u, sub, t), {}))
            market = self.markets.get(t)
            # Subaccounts (0..63) of one market share its sequence number: keep cursor keys unique.
            rows.append(((market.seq if market else 0) * 64 + sub, MarketPositionView(state, resting)))
        page = paginate(rows, lambda r: r[0], cursor, limit)
        views = [v for _, v in page.items]
        by_event: dict[str, list[PositionState]] = {}
        for view in views:
            by_event.setdefault(view.state.event_ticker, []).append(view.state)
        events = [
            EventPositionView(
                event_ticker=e,
                total_cost=Money(sum(s.total_traded for s in states)),
                total_cost_shares=Count(sum(s.volume for s in states)),
                event_exposure=Money(sum(s.cost for s in states)),
                realized_pnl=Money(sum(s.realized_pnl for s in states)),
                fees_paid=Money(sum(s.fees_paid for s in states)),
            )
            for e, states in by_event.items()
        ]
        return PositionsPage(views, events, page.cursor)

    def balance(self, user_id: str, *, subaccount: int = 0, exchange_index: int | None = None) -> Balance:
        self.step()
        self._user(user_id)
        shards = SHARDS if exchange_index is None else (exchange_index,)
        by_shard = {s: self.accounts.available(user_id, subaccount, s) for s in shards}
        value = 0
        for (u, sub, t), state in self.accounts.positions.items():
            if u != user_id or sub != subaccount or state.position == 0:
                continue
            market = self.markets.get(t)
            mark = market.last_price if market else 0
            leg = mark if state.position > 0 else PRICE_SCALE - mark
            value += notional(leg, abs(state.position))
        return Balance(
            available=Money(sum(by_shard.values())),
            by_shard=by_shard,
            portfolio_value_cents=value // 10_000,
            updated_ts=self.now_ns() // NS_PER_S,
        )

    def queue_position(self, user_id: str, order_id: str) -> Count:
        order = self.order(user_id, order_id)
        if not order.is_live:
            return Count(0)
        return self.books[order.ticker].queue_ahead(order)

    def transfers_of(self, user_id: str) -> list[Transfer]:
        return list(self.transfers.get(user_id, []))

    # -- events ---------------------------------------------------------------------------------

    def subscribe(self, maxlen: int = 200_000) -> EventQueue:
        """A queue of every exchange event from now on (see ``kxbtc.sim.events``)."""
        return self.bus.subscribe(maxlen)

    def unsubscribe(self, queue: EventQueue) -> None:
        self.bus.unsubscribe(queue)

    # -- internals: resting index, reserves, publishing -------------------------------------------

    def _index_resting(self, order: Order) -> None:
        self._resting.setdefault((order.user_id, order.subaccount, order.ticker), {})[order.order_id] = order

    def _unindex_resting(self, order: Order) -> None:
        key = (order.user_id, order.subaccount, order.ticker)
        entry = self._resting.get(key)
        if entry is not None:
            entry.pop(order.order_id, None)
            if not entry:
                del self._resting[key]
        if order.internal and not order.is_live:
            self.orders.pop(order.order_id, None)

    def _update_reserve(self, user_id: str, subaccount: int, ticker: str, exchange_index: int) -> None:
        market = self.markets[ticker]
        state = self.accounts.peek_position(user_id, subaccount, ticker)
        orders = list(self._resting.get((user_id, subaccount, ticker), {}).values())
        amount = reserve_for(
            orders,
            [],
            0 if state is None else state.position,
            self.series_by_ticker[market.series_ticker].fees,
        )
        self.accounts.set_reserve(user_id, subaccount, ticker, exchange_index, amount)

    def _publish_level(self, change: LevelChange, market: Market, now: int) -> None:
        if not self.bus.has_subscribers or change.delta == 0:
            return
        order = change.order
        self.bus.publish(
            BookDelta(
                ticker=market.ticker,
                market_id=market.market_id,
                side="yes" if change.side == "bid" else "no",
                yes_price=change.price,
                delta=change.delta,
                ts_ns=now,
                user_id=order.user_id,
                client_order_id=order.client_order_id,
                subaccount=order.subaccount,
            )
        )

    def _publish_order(self, order: Order, now: int) -> None:
        if self.bus.has_subscribers and not order.internal:
            self.bus.publish(OrderUpdate(replace(order), now))

    def _publish_ticker(self, market: Market, now: int) -> None:
        bid, bid_size, ask, ask_size = self.top_of_book(market.ticker)
        state = (bid, bid_size, ask, ask_size, market.volume, market.open_interest)
        if self._ticker_state.get(market.ticker) == state:
            return
        last = self._ticker_state.get(market.ticker)
        self._ticker_state[market.ticker] = state
        if self.bus.has_subscribers:
            traded = Count(market.volume - last[4]) if last else Count(0)
            self.bus.publish(TickerUpdate(market, bid, ask, bid_size, ask_size, traded, now))

    # -- tests and tools ------------------------------------------------------------------------

    def check_invariants(self) -> None:
        """Raise AssertionError if the books or the ledger are inconsistent (used by tests)."""
        for ticker, book in self.books.items():
            assert not book.is_crossed(), f"crossed book in {ticker}"
        ledger = self.accounts.ledger
        cash = sum(self.accounts.cash.values())
        assert cash + ledger.fees + ledger.dust + ledger.escrow == ledger.deposits, "cash not conserved"
        for ticker, market in self.markets.items():
            longs = sum(max(s.position, 0) for k, s in self.accounts.positions.items() if k[2] == ticker)
            shorts = sum(max(-s.position, 0) for k, s in self.accounts.positions.items() if k[2] == ticker)
            assert longs == shorts == market.open_interest, f"open interest mismatch in {ticker}"
        for key, (shard, amount) in self.accounts.reserves.items():
            assert self.accounts.cash_of(key[0], key[1], shard) >= 0, f"negative cash for {key}"
            assert amount >= 0


# ----------------------------------------------------------------------------------------------
# helpers


def _average(amount: int, count: int) -> Price | None:
    """Per-contract average of a Money total over ``count`` (1e-2), rounded half-up to 4 dp."""
    if count <= 0:
        return None
    return Price((2 * amount + count) // (2 * count))


def _unfilled_reason(time_in_force: str) -> str:
    return {"fill_or_kill": "FillOrKill", "immediate_or_cancel": "ImmediateOrCancel"}.get(
        time_in_force, "Canceled"
    )
