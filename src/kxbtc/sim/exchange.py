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

from dataclasses import replace

from kxbtc.clock import Clock
from kxbtc.sim.exchange_config import CRYPTO_SHARD, DEFAULT_START_BALANCE, SHARDS, SimConfig
from kxbtc.sim.exchange_lifecycle import MarketLifecycle
from kxbtc.sim.exchange_orders import OrderEntry
from kxbtc.sim.exchange_portfolio import PortfolioQueries
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
from kxbtc.sim.paging import Page, decode_cursor, encode_cursor
from kxbtc.sim.price_path import PricePath
from kxbtc.units import Money

# Everything below was defined here before the exchange was split into parts: it stays importable.
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


class Exchange(MarketLifecycle, OrderEntry, PortfolioQueries):
    """The facade: market lifecycle and settlement (``MarketLifecycle``), order entry (``OrderEntry`` on
    ``OrderExecution``), the event fan-out (``Publishing``), market data (``MarketData``) and portfolio
    reads (``PortfolioQueries``), all over one ``ExchangeState``."""

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
        super().__init__(clock, cfg, seed=seed, prices=prices)
        if cfg.counterparties:
            from kxbtc.sim.liquidity import Counterparties, LiquidityConfig

            self.liquidity = Counterparties(self, LiquidityConfig(mispricing=cfg.mispricing), seed=seed)
        self.step()

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
