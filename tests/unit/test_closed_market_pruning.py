"""Memory over a long run: what the core holds for a market goes once the market is over, so a day of
rolling markets does not keep every book and instrument ever listed (issue 15's flat-memory target)."""

from __future__ import annotations

from pathlib import Path

from kxbtc.clock import NS_PER_S, ManualClock
from kxbtc.config import Config
from kxbtc.core.books import BookSet
from kxbtc.core.trading_core import TradingCore
from kxbtc.domain.events import MarketListed
from kxbtc.domain.instrument import Instrument
from kxbtc.session.runner import DEFAULT_START_NS, SimSession
from kxbtc.store.db import SqliteStore

NOW = 1_780_315_200 * NS_PER_S


def _held_books(core: TradingCore) -> set[str]:
    assert isinstance(core.books, BookSet)
    return set(core.books._books)


def test_a_forgotten_market_leaves_no_book_or_instrument_in_the_core(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "core.db")
    core = TradingCore(Config(), clock=ManualClock(NOW), store=store, run_id="t", strategies=[])
    for ticker in ("K1", "K2"):
        instrument = Instrument(
            ticker, "EV", "KXBTCD", "greater", 100_000.0, None, NOW - 600 * NS_PER_S, NOW + 60 * NS_PER_S
        )
        core.handle(MarketListed(instrument, NOW))
    core.forget_market("K1")
    assert set(core.instruments) == {"K2"}
    assert _held_books(core) == {"K2"}
    store.close()


def _run(tmp_path: Path, config: Config, minutes: int) -> SimSession:
    tmp_path.mkdir()
    store = SqliteStore(tmp_path / "session.db")
    session = SimSession(config, store=store, seed=1, series=("KXBTC15M",))
    session.run_until(DEFAULT_START_NS + minutes * 60 * NS_PER_S)
    session.finish()
    store.close()
    return session


def _settled(session: SimSession) -> set[str]:
    return {t for t, m in session.exchange.markets.items() if m.status == "finalized"}


def test_markets_that_settled_are_pruned_whether_or_not_we_traded_them(tmp_path: Path) -> None:
    # No strategy: nothing is held, so no market gets a ``MarketSettled``; only the lifecycle says it is over.
    off = {"enabled": False}
    idle = Config.model_validate({"strategies": {"fair_value": off, "book_glitch": off}})
    for name, config in (("idle", idle), ("trading", Config())):
        session = _run(tmp_path / name, config, minutes=50)
        listed = session.venue.listed
        settled = _settled(session) & listed
        assert len(settled) >= 2, name  # three 15-minute windows closed in 50 minutes
        core = session.core
        assert not settled & set(core.instruments), name
        assert not settled & _held_books(core), name
        # What is left is the markets still open (or closed and awaiting settlement): a handful, not a day.
        assert len(core.instruments) == len(_held_books(core)) <= len(listed) - len(settled), name


def test_a_sessions_settled_markets_leave_their_fills_and_orders_in_the_store_only(tmp_path: Path) -> None:
    """50 minutes of trading: the fill ids and order attributions of a market over for half an hour leave
    the core's memory, and the end's re-read of every fill (``finish``) still books each exactly once."""
    store = SqliteStore(tmp_path / "hour.db")
    session = SimSession(Config(), store=store, seed=1, series=("KXBTC15M",))
    session.run_until(DEFAULT_START_NS + 50 * 60 * NS_PER_S)
    portfolio = session.core.portfolio
    in_memory = set(portfolio.fill_ids)
    session.finish()
    fills = session.exchange.accounts.fills.get(session.user_id, [])
    pruned = {f.ticker for f in fills if f.fill_id not in in_memory}
    assert pruned, "no traded market was pruned"
    assert not {f.fill_id for f in fills if f.ticker in pruned} & in_memory
    assert not {f.order_id for f in fills if f.ticker in pruned} & set(portfolio.strategy_by_order)
    assert sorted(f.fill_id for f in store.fills()) == sorted(
        f.fill_id for f in fills
    )  # none lost or doubled
    assert portfolio.fill_count == len(fills)
    store.close()
