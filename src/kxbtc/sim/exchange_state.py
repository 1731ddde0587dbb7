"""The simulated exchange's state and its bookkeeping: ids, users and their accounts, resting orders
and the collateral they reserve. The behaviour lives in the mixins that ``kxbtc.sim.exchange.Exchange``
combines; each of them subclasses ``ExchangeState``."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from typing import Any

from kxbtc.clock import NS_PER_S, Clock
from kxbtc.sim.accounts import Accounts, Trade, reserve_for
from kxbtc.sim.events import EventBus
from kxbtc.sim.exchange_config import CRYPTO_SHARD, SHARDS, SimConfig
from kxbtc.sim.exchange_results import SimRejection, Transfer, invalid
from kxbtc.sim.markets import SERIES, Candle, Event, Market, Series
from kxbtc.sim.matching import Order, OrderBook
from kxbtc.sim.price_path import PricePath, SyntheticPath
from kxbtc.units import Money


@dataclass(slots=True)
class UserState:
    user_id: str
    internal: bool
    orders: list[Order] = field(default_factory=list)
    client_ids: set[str] = field(default_factory=set)


class ExchangeState:
    """Everything the exchange holds, and the bookkeeping all of its parts share."""

    def __init__(self, clock: Clock, cfg: SimConfig, *, seed: int, prices: PricePath | None) -> None:
        """The state of an exchange configured by ``cfg``; ``Exchange.__init__`` resolves its options,
        wires the synthetic counterparties and takes the first step."""
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
        self._users: dict[str, UserState] = {}
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

    # -- ids and time ---------------------------------------------------------------------------

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def now_ns(self) -> int:
        return self.clock.time_ns()

    def step(self, now_ns: int | None = None) -> None:
        """Bring the exchange up to the clock: ``MarketLifecycle.step`` (``exchange_lifecycle``) does it."""
        raise NotImplementedError

    # -- accounts -------------------------------------------------------------------------------

    def ensure_user(self, key_id: str, *, internal: bool = False, balance: Money | None = None) -> str:
        """The user behind an API key id, created and funded on first sight."""
        user_id = self._key_users.get(key_id)
        if user_id is not None:
            return user_id
        user_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"kxbtc-sim:{self.seed}:{key_id}"))
        self._key_users[key_id] = user_id
        self._users[user_id] = UserState(user_id, internal)
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

    def _user(self, user_id: str) -> UserState:
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
            raise invalid("invalid_parameters", "invalid parameters", "bad source/destination shard")
        if amount <= 0 or amount % 100:
            raise invalid("invalid_parameters", "invalid parameters", "amount must be positive centicents")
        if self.accounts.available(user_id, subaccount, source_shard) < amount:
            raise invalid("insufficient_balance", "insufficient balance")
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

    # -- resting index and reserves -------------------------------------------------------------

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
