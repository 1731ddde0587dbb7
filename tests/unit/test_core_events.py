"""The trading core's own bookkeeping, driven with domain events only (no venue, no I/O but the store)."""

from __future__ import annotations

from pathlib import Path

from kxbtc.clock import NS_PER_S, ManualClock
from kxbtc.config import Config
from kxbtc.core.trading_core import TradingCore
from kxbtc.domain.events import FillEvent, MarketListed
from kxbtc.domain.instrument import Instrument
from kxbtc.domain.orders import Fill
from kxbtc.store.db import SqliteStore
from kxbtc.units import Count, Money, Price

NOW = 1_780_315_200 * NS_PER_S


def _strike(ticker: str, floor: float) -> Instrument:
    return Instrument(
        ticker, "KXBTCD-EV", "KXBTCD", "greater", floor, None, NOW - 600 * NS_PER_S, NOW + 3000 * NS_PER_S
    )


def test_what_one_strike_holds_counts_against_the_stake_of_the_other_strikes(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "core.db")
    core = TradingCore(Config(), clock=ManualClock(NOW), store=store, run_id="t", strategies=[])
    for ticker, floor in (("K1", 99_000.0), ("K2", 100_000.0), ("K3", 101_000.0)):
        core.handle(MarketListed(_strike(ticker, floor), NOW))
    # 10 YES on K1 at $0.60: $6.00 of cost (and a fee) on the event.
    core.handle(FillEvent(Fill("f1", "o1", "K1", "bid", Price(6000), Count(1000), Money(0), True, NOW)))
    elsewhere = core._context(NOW).event_cost_elsewhere
    assert elsewhere["K2"] == elsewhere["K3"] == 6_000_000
    assert elsewhere["K1"] == 0  # its own cost is its position, not the event's
    store.close()
