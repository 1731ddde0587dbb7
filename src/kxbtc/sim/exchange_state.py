"""The simulated exchange's shared state and the bookkeeping every component does on it: ids, users and
their funds, the index of resting orders and the collateral they reserve.

``ExchangeState`` holds data, not behaviour: the components in the other ``exchange_*`` modules each hold
a reference to it and change it; ``kxbtc.sim.exchange.Exchange`` owns it and them.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field

from kxbtc.clock import Clock
from kxbtc.sim.accounts import Accounts, Trade, reserve_for
from kxbtc.sim.candles import Candle
from kxbtc.sim.events import EventBus
from kxbtc.sim.exchange_config import CRYPTO_SHARD, SimConfig
from kxbtc.sim.exchange_results import SimRejection, Transfer
from kxbtc.sim.markets import SERIES, Event, Market, Series
from kxbtc.sim.matching import Order, OrderBook
from kxbtc.sim.price_path import PricePath
from kxbtc.units import Money


@dataclass(slots=True)
class UserState:
    user_id: str
    internal: bool
    orders: list[Order] = field(default_factory=list)
    client_ids: set[str] = field(default_factory=set)


class ExchangeState:
    """Everything the exchange holds: markets and their books, orders, trades, accounts, the event bus."""

    def __init__(self, clock: Clock, config: SimConfig, *, seed: int, prices: PricePath) -> None:
        self.config = config
        self.clock = clock
        self.seed = seed
        self.prices = prices
        # One generator for every id, so a seed reproduces a run id for id.
        self._rng = random.Random(seed)
        self._seq = 0
        self.accounts = Accounts()
        self.bus = EventBus()
        self.series_by_ticker: dict[str, Series] = {t: SERIES[t] for t in config.series}
        self.markets: dict[str, Market] = {}
        self.events_by_ticker: dict[str, Event] = {}
        self.books: dict[str, OrderBook] = {}
        self.orders: dict[str, Order] = {}
        self.trades: dict[str, list[Trade]] = {}
        self.transfers: dict[str, list[Transfer]] = {}
        self.exchange_active = True
        self.trading_active = True
        self.user_states: dict[str, UserState] = {}
        self.key_users: dict[str, str] = {}
        #: Live orders by (user, subaccount, ticker): what their collateral reserve covers.
        self.resting: dict[tuple[str, int, str], dict[str, Order]] = {}
        #: Heap of (expiration_ts s, seq, order_id) of resting orders with an expiry.
        self.expiries: list[tuple[int, int, str]] = []
        #: Trailing 60 one-second index values (cents), for ``IndexTick``.
        self.recent: list[int] = []
        #: Per market, one-minute candles by end second.
        self.candles: dict[str, dict[int, Candle]] = {}

    # -- ids and time ---------------------------------------------------------------------------

    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def uuid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def now_ns(self) -> int:
        return self.clock.time_ns()

    # -- users ----------------------------------------------------------------------------------

    def ensure_user(self, key_id: str, *, internal: bool = False, balance: Money | None = None) -> str:
        """The user behind an API key id, created and funded on first sight."""
        user_id = self.key_users.get(key_id)
        if user_id is not None:
            return user_id
        user_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"kxbtc-sim:{self.seed}:{key_id}"))
        self.key_users[key_id] = user_id
        self.user_states[user_id] = UserState(user_id, internal)
        amount = self.config.start_balance if balance is None else balance
        if amount:
            self.accounts.deposit(user_id, amount, self.config.fund_shard)
        return user_id

    def deposit(
        self, user_id: str, amount: Money, exchange_index: int = CRYPTO_SHARD, subaccount: int = 0
    ) -> None:
        self.user(user_id)
        self.accounts.deposit(user_id, amount, exchange_index, subaccount)

    def users(self, *, include_internal: bool = False) -> list[str]:
        return [u for u, s in self.user_states.items() if include_internal or not s.internal]

    def is_internal(self, user_id: str) -> bool:
        state = self.user_states.get(user_id)
        return state is not None and state.internal

    def user(self, user_id: str) -> UserState:
        """A known user's state; an unknown user is an authentication error, as on Kalshi."""
        state = self.user_states.get(user_id)
        if state is None:
            raise SimRejection(401, "authentication_error", "authentication_error", "NOT_FOUND")
        return state

    # -- resting index and reserves -------------------------------------------------------------

    def index_resting(self, order: Order) -> None:
        self.resting.setdefault((order.user_id, order.subaccount, order.ticker), {})[order.order_id] = order

    def unindex_resting(self, order: Order) -> None:
        key = (order.user_id, order.subaccount, order.ticker)
        entry = self.resting.get(key)
        if entry is not None:
            entry.pop(order.order_id, None)
            if not entry:
                del self.resting[key]
        # Counterparties' finished orders are never read back: forget them so memory stays flat.
        if order.internal and not order.is_live:
            self.orders.pop(order.order_id, None)

    def update_reserve(self, user_id: str, subaccount: int, ticker: str, exchange_index: int) -> None:
        """Recompute the collateral held for a user's resting orders in one market."""
        market = self.markets[ticker]
        state = self.accounts.peek_position(user_id, subaccount, ticker)
        orders = list(self.resting.get((user_id, subaccount, ticker), {}).values())
        amount = reserve_for(
            orders,
            [],
            0 if state is None else state.position,
            self.series_by_ticker[market.series_ticker].fees,
        )
        self.accounts.set_reserve(user_id, subaccount, ticker, exchange_index, amount)

    # -- tests and tools ------------------------------------------------------------------------

    def check_invariants(self) -> None:
        """Raise AssertionError if the books or the ledger are inconsistent (used by tests)."""
        for ticker, book in self.books.items():
            assert not book.is_crossed(), f"crossed book in {ticker}"
        ledger = self.accounts.ledger
        cash = sum(self.accounts.cash.values())
        assert cash + ledger.fees + ledger.dust + ledger.escrow == ledger.deposits, "cash not conserved"
        positions = self.accounts.positions
        for ticker, market in self.markets.items():
            longs = sum(max(s.position, 0) for k, s in positions.items() if k[2] == ticker)
            shorts = sum(max(-s.position, 0) for k, s in positions.items() if k[2] == ticker)
            assert longs == shorts == market.open_interest, f"open interest mismatch in {ticker}"
        for key, (shard, amount) in self.accounts.reserves.items():
            assert self.accounts.cash_of(key[0], key[1], shard) >= 0, f"negative cash for {key}"
            assert amount >= 0
