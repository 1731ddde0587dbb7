"""The simulated Kalshi exchange: the facade the REST/WS server drives.

Everything is in exchange units: ``Price`` (1e-4 $, YES leg), ``Count`` (1e-2 contracts), ``Money``
(1e-6 $). Render results with ``kxbtc.sim.wire``. Every write raises ``SimRejection`` with Kalshi's
status, code and message when the exchange refuses it; the server turns it into the nested error body
(``wire.error_body``).

Time: the exchange reads the injected clock. ``step()`` brings it up to the clock's time (one index value
per second, market lifecycle, order expiry, synthetic counterparties); every request method calls it
first, so a test can advance a ``ManualClock`` and call the facade directly. ``run()`` steps on the clock
forever.

Accounts: a user per API key id (``ensure_user``). Balances are per (user, subaccount, shard); new users
are funded on ``config.fund_shard`` (2, crypto) so BTC orders work out of the box. ``transfer`` moves funds
between shards.

Deterministic under ``seed``: ids, the index path and the counterparties draw from seeded generators.

The work is done by components over one ``ExchangeState``, each with one job: ``MarketLifecycle``
(time, listing, settlement), ``OrderEntry`` on ``Execution`` (orders and matching), ``Publisher``
(events), ``MarketData`` and ``Portfolio`` (reads). ``Exchange`` owns them and delegates to them.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Generic, TypeVar, Unpack, cast, overload

from kxbtc.clock import NS_PER_S, Clock
from kxbtc.sim.accounts import Accounts, Fill, Settlement, Trade
from kxbtc.sim.candles import Candle
from kxbtc.sim.events import EventBus, EventQueue
from kxbtc.sim.exchange_config import CRYPTO_SHARD, DEFAULT_START_BALANCE, SHARDS, SimConfig
from kxbtc.sim.exchange_execution import Execution
from kxbtc.sim.exchange_lifecycle import MarketLifecycle, Participant
from kxbtc.sim.exchange_market_data import MarketData, MarketsQuery
from kxbtc.sim.exchange_orders import Amendment, Decrease, NewOrder, OrderEntry, OrderTarget
from kxbtc.sim.exchange_portfolio import Portfolio, PositionsQuery
from kxbtc.sim.exchange_publishing import Publisher
from kxbtc.sim.exchange_results import (
    AmendResult,
    Balance,
    CancelResult,
    CreateResult,
    DecreaseResult,
    EventPositionView,
    ExchangeStatus,
    MarketPositionView,
    Orderbook,
    PositionsPage,
    SimRejection,
    Transfer,
)
from kxbtc.sim.exchange_state import ExchangeState
from kxbtc.sim.history_tier import Tier
from kxbtc.sim.markets import Event, Market, Series
from kxbtc.sim.matching import Order, OrderBook
from kxbtc.sim.paging import Page, PortfolioQuery, decode_cursor, encode_cursor
from kxbtc.sim.price_path import PricePath, SyntheticPath
from kxbtc.units import Count, Money, Price

# Importable from here since before the exchange was split into components.
__all__ = [
    "CRYPTO_SHARD",
    "DEFAULT_START_BALANCE",
    "SHARDS",
    "AmendResult",
    "Balance",
    "CancelResult",
    "CreateResult",
    "DecreaseResult",
    "EventPositionView",
    "Exchange",
    "ExchangeStatus",
    "MarketPositionView",
    "Orderbook",
    "Page",
    "PositionsPage",
    "SimConfig",
    "SimRejection",
    "Transfer",
    "decode_cursor",
    "encode_cursor",
]

T = TypeVar("T")


class _Shared(Generic[T]):
    """An ``Exchange`` attribute that is the same-named attribute of its ``ExchangeState``."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, exchange: None, owner: type) -> _Shared[T]: ...
    @overload
    def __get__(self, exchange: Exchange, owner: type | None = None) -> T: ...
    def __get__(self, exchange: Exchange | None, owner: type | None = None) -> T | _Shared[T]:
        if exchange is None:  # looked up on the class (introspection, mocks)
            return self
        return cast(T, getattr(exchange.state, self.name))

    def __set__(self, exchange: Exchange, value: T) -> None:
        setattr(exchange.state, self.name, value)


class Exchange:
    """The facade: owns the state and the components, and brings the exchange up to the clock before
    every request it hands on."""

    config: _Shared[SimConfig] = _Shared()
    clock: _Shared[Clock] = _Shared()
    seed: _Shared[int] = _Shared()
    prices: _Shared[PricePath] = _Shared()
    accounts: _Shared[Accounts] = _Shared()
    bus: _Shared[EventBus] = _Shared()
    series_by_ticker: _Shared[dict[str, Series]] = _Shared()
    markets: _Shared[dict[str, Market]] = _Shared()
    events_by_ticker: _Shared[dict[str, Event]] = _Shared()
    books: _Shared[dict[str, OrderBook]] = _Shared()
    orders: _Shared[dict[str, Order]] = _Shared()
    trades: _Shared[dict[str, list[Trade]]] = _Shared()
    transfers: _Shared[dict[str, list[Transfer]]] = _Shared()
    exchange_active: _Shared[bool] = _Shared()
    trading_active: _Shared[bool] = _Shared()

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
        path = prices or SyntheticPath(
            clock.time_ns() // NS_PER_S - cfg.history_s,
            seed=seed,
            start_price=cfg.start_price,
            annual_vol=cfg.annual_vol,
        )
        self.state = ExchangeState(clock, cfg, seed=seed, prices=path)
        self.market_data = MarketData(self.state)
        self.publisher = Publisher(self.state, self.market_data)
        self.execution = Execution(self.state, self.publisher, self.market_data)
        self.entry = OrderEntry(self.state, self.execution, self.publisher)
        self.lifecycle = MarketLifecycle(self.state, self.execution, self.publisher, self.market_data)
        self.portfolio = Portfolio(self.state)
        if cfg.counterparties:
            # Imported here: the counterparties trade through this facade, whose module they import.
            from kxbtc.sim.liquidity import Counterparties, LiquidityConfig

            self.liquidity = Counterparties(self, LiquidityConfig(mispricing=cfg.mispricing), seed=seed)
        self.step()

    @property
    def liquidity(self) -> Participant | None:
        """The synthetic counterparties, stepped with the exchange (None when they are off)."""
        return self.lifecycle.counterparties

    @liquidity.setter
    def liquidity(self, participant: Participant | None) -> None:
        self.lifecycle.counterparties = participant

    # -- time -------------------------------------------------------------------------------------

    def now_ns(self) -> int:
        return self.state.now_ns()

    def step(self, now_ns: int | None = None) -> None:
        """Bring the exchange up to ``now_ns`` (default: the clock); see ``MarketLifecycle.step``."""
        self.lifecycle.step(now_ns)

    async def run(self, interval_s: float = 0.1) -> None:
        """Step on the injected clock until cancelled."""
        await self.lifecycle.run(interval_s)

    def index_value(self, second: int | None = None) -> int:
        """The index (cents) at ``second`` (default: the last processed second)."""
        return self.lifecycle.index_value(second)

    def index_window(self, close_s: int, upto_s: int | None = None) -> list[int]:
        """Values of the settlement window ``(close - 60, close]`` observed up to ``upto_s``."""
        return self.lifecycle.index_window(close_s, upto_s)

    def set_trading_active(self, active: bool) -> None:
        """Pause or resume trading (cancels stay allowed); orders with ``cancel_order_on_pause`` go."""
        self.lifecycle.set_trading_active(active)

    # -- users and events ---------------------------------------------------------------------------

    def ensure_user(self, key_id: str, *, internal: bool = False, balance: Money | None = None) -> str:
        """The user behind an API key id, created and funded on first sight."""
        return self.state.ensure_user(key_id, internal=internal, balance=balance)

    def deposit(
        self, user_id: str, amount: Money, exchange_index: int = CRYPTO_SHARD, subaccount: int = 0
    ) -> None:
        self.state.deposit(user_id, amount, exchange_index, subaccount)

    def users(self, *, include_internal: bool = False) -> list[str]:
        return self.state.users(include_internal=include_internal)

    def is_internal(self, user_id: str) -> bool:
        return self.state.is_internal(user_id)

    def subscribe(self, maxlen: int = 200_000) -> EventQueue:
        """A queue of every exchange event from now on (see ``kxbtc.sim.events``)."""
        return self.publisher.subscribe(maxlen)

    def unsubscribe(self, queue: EventQueue) -> None:
        self.publisher.unsubscribe(queue)

    # -- market data ------------------------------------------------------------------------------

    def exchange_status(self) -> ExchangeStatus:
        self.step()
        return self.market_data.exchange_status()

    def series(self, series_ticker: str) -> Series:
        return self.market_data.series(series_ticker)

    def series_list(self) -> list[Series]:
        return self.market_data.series_list()

    def market(self, ticker: str) -> Market:
        self.step()
        return self.market_data.market(ticker)

    def markets_page(self, **query: Unpack[MarketsQuery]) -> Page[Market]:
        """``GET /markets``: newest first; ``status`` is the REST filter (unopened|open|closed|settled)."""
        self.step()
        return self.market_data.markets_page(**query)

    def event(self, event_ticker: str) -> tuple[Event, list[Market]]:
        self.step()
        return self.market_data.event(event_ticker)

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
        return self.market_data.events_page(
            series_ticker=series_ticker, status=status, cursor=cursor, limit=limit
        )

    def orderbook(self, ticker: str, depth: int = 0) -> Orderbook:
        """REST book: YES bids, NO bids at NO-leg prices; ``depth`` 0 = all levels, else the N best."""
        self.step()
        return self.market_data.orderbook(ticker, depth)

    def top_of_book(self, ticker: str) -> tuple[Price, Count, Price, Count]:
        """(yes_bid, size, yes_ask, size); an empty bid is 0 and an empty ask 1.0000."""
        return self.market_data.top_of_book(ticker)

    def trades_page(
        self,
        *,
        ticker: str | None = None,
        min_ts: int | None = None,
        max_ts: int | None = None,
        tier: Tier = None,
        cursor: str = "",
        limit: int = 100,
    ) -> Page[Trade]:
        self.step()
        return self.market_data.trades_page(
            ticker=ticker, min_ts=min_ts, max_ts=max_ts, tier=tier, cursor=cursor, limit=limit
        )

    def candlesticks(self, ticker: str, *, start_ts: int, end_ts: int, period_interval: int) -> list[Candle]:
        """Candles of ``period_interval`` minutes (1, 60 or 1440) ending in ``[start_ts, end_ts]``."""
        self.step()
        return self.market_data.candlesticks(
            ticker, start_ts=start_ts, end_ts=end_ts, period_interval=period_interval
        )

    # -- orders -----------------------------------------------------------------------------------

    def create_order(self, user_id: str, **order: Unpack[NewOrder]) -> CreateResult:
        """V2 create (``POST /portfolio/events/orders``); see ``OrderEntry.create_order``."""
        self.step()
        return self.entry.create_order(user_id, **order)

    def cancel_order(self, user_id: str, order_id: str, **target: Unpack[OrderTarget]) -> CancelResult:
        """V2 cancel; see ``OrderEntry.cancel_order``."""
        self.step()
        return self.entry.cancel_order(user_id, order_id, **target)

    def decrease_order(self, user_id: str, order_id: str, **decrease: Unpack[Decrease]) -> DecreaseResult:
        """V2 decrease: exactly one of ``reduce_by`` / ``reduce_to``; see ``OrderEntry.decrease_order``."""
        self.step()
        return self.entry.decrease_order(user_id, order_id, **decrease)

    def amend_order(self, user_id: str, order_id: str, **amendment: Unpack[Amendment]) -> AmendResult:
        """V2 amend: ``count`` is the new total; see ``OrderEntry.amend_order``."""
        self.step()
        return self.entry.amend_order(user_id, order_id, **amendment)

    def batch_create(self, user_id: str, orders: list[dict[str, Any]]) -> list[CreateResult | SimRejection]:
        """Each item is ``create_order``'s keyword arguments; one bad item fails alone."""
        # Through ``self.create_order``: each item is a request of its own (and tests may wrap it).
        return self.entry.each_of_batch(orders, lambda item: self.create_order(user_id, **item))

    def batch_cancel(self, user_id: str, targets: list[dict[str, Any]]) -> list[CancelResult | SimRejection]:
        """Each item is ``{"order_id", "subaccount"?, "exchange_index"?, "market_ticker"?}``."""
        return self.entry.each_of_batch(
            targets,
            lambda item: self.cancel_order(
                user_id,
                item["order_id"],
                subaccount=item.get("subaccount"),
                exchange_index=item.get("exchange_index"),
                market_ticker=item.get("market_ticker"),
            ),
        )

    # -- portfolio --------------------------------------------------------------------------------

    def order(self, user_id: str, order_id: str) -> Order:
        self.step()
        return self.portfolio.order(user_id, order_id)

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
        return self.portfolio.orders_page(user_id, event_ticker=event_ticker, status=status, **query)

    def fills_page(
        self, user_id: str, *, order_id: str | None = None, **query: Unpack[PortfolioQuery]
    ) -> Page[Fill]:
        self.step()
        return self.portfolio.fills_page(user_id, order_id=order_id, **query)

    def settlements_page(
        self, user_id: str, *, event_ticker: str | None = None, **query: Unpack[PortfolioQuery]
    ) -> Page[Settlement]:
        self.step()
        return self.portfolio.settlements_page(user_id, event_ticker=event_ticker, **query)

    def positions_page(self, user_id: str, **query: Unpack[PositionsQuery]) -> PositionsPage:
        """Unsettled positions; ``count_filter`` ``position`` and/or ``total_traded`` drop zero rows."""
        self.step()
        return self.portfolio.positions_page(user_id, **query)

    def balance(self, user_id: str, *, subaccount: int = 0, exchange_index: int | None = None) -> Balance:
        self.step()
        return self.portfolio.balance(user_id, subaccount=subaccount, exchange_index=exchange_index)

    def queue_position(self, user_id: str, order_id: str) -> Count:
        self.step()
        return self.portfolio.queue_position(user_id, order_id)

    def transfer(
        self, user_id: str, *, source_shard: int, destination_shard: int, amount: Money, subaccount: int = 0
    ) -> Transfer:
        """Intra-exchange transfer (completes at once). ``amount`` in Money, at $0.0001 granularity."""
        self.step()
        return self.portfolio.transfer(
            user_id,
            source_shard=source_shard,
            destination_shard=destination_shard,
            amount=amount,
            subaccount=subaccount,
        )

    def transfers_of(self, user_id: str) -> list[Transfer]:
        return self.portfolio.transfers_of(user_id)

    # -- tests and tools --------------------------------------------------------------------------

    def check_invariants(self) -> None:
        """Raise AssertionError if the books or the ledger are inconsistent (used by tests)."""
        self.state.check_invariants()
