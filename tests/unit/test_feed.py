"""The operator's feed, from the core's events: what a trader reads while kxbtc runs."""

from __future__ import annotations

from pathlib import Path

from kxbtc.clock import NS_PER_S, ManualClock
from kxbtc.config import Config
from kxbtc.core.feed import FeedEvent
from kxbtc.core.trading_core import TradingCore
from kxbtc.domain.events import FillEvent, MarketListed, MarketSettled
from kxbtc.domain.instrument import Instrument
from kxbtc.domain.orders import Fill
from kxbtc.store.db import SqliteStore
from kxbtc.store.records import RiskEventRecord
from kxbtc.units import Count, Money, Price

NOW = 1_780_315_200 * NS_PER_S
TICKER = "KXBTC15M-26JUN011215-15"


class Lines:
    def __init__(self) -> None:
        self.events: list[FeedEvent] = []

    def on_feed(self, event: FeedEvent) -> None:
        self.events.append(event)

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]


def _core(tmp_path: Path) -> tuple[TradingCore, Lines]:
    store = SqliteStore(tmp_path / "feed.db")
    core = TradingCore(Config(), clock=ManualClock(NOW), store=store, run_id="t", strategies=[])
    lines = Lines()
    core.feed.attach(lines)
    return core, lines


def _market() -> Instrument:
    return Instrument(
        TICKER, "EV", "KXBTC15M", "greater_or_equal", 101_234.5, None, NOW, NOW + 900 * NS_PER_S
    )


def test_a_market_is_followed_from_open_to_settlement_with_its_pnl(tmp_path: Path) -> None:
    core, lines = _core(tmp_path)
    core.handle(MarketListed(_market(), NOW))
    core.handle(MarketListed(_market(), NOW))  # listed again by a refresh: still one line
    # 10 YES at $0.40 (fee $0.17), then the market settles YES: $10.00 - $4.00 - $0.17.
    fill = Fill("f1", "o1", TICKER, "bid", Price(4000), Count(1000), Money(170_000), True, NOW + NS_PER_S)
    core.handle(FillEvent(fill))
    core.handle(FillEvent(fill))  # the same fill again (stream and reconciliation): one line
    settled = MarketSettled(
        TICKER,
        "EV",
        "yes",
        Count(1000),
        Count(0),
        Money(4_000_000),
        Money(0),
        Money(10_000_000),
        Money(0),
        NOW,
    )
    core.handle(settled)
    assert lines.kinds() == ["market_opened", "order_filled", "market_settled"]
    opened, filled, result = (e.text for e in lines.events)
    assert "BTC >= $101,234.50" in opened and "closes in 15 min" in opened
    assert "bought YES 10 contracts at $0.40, fee $0.17" in filled
    assert "YES, P&L $5.83 (net of fees)" in result
    assert lines.events[2].amount == 5_830_000


def test_breakers_halts_and_repairs_are_told_apart(tmp_path: Path) -> None:
    core, lines = _core(tmp_path)
    core.note(RiskEventRecord(NOW, "daily_loss", "halt", "equity $950.96 within one contract of the floor"))
    core.note(RiskEventRecord(NOW, "manual_halt", "halt", "operator"))
    core.note(RiskEventRecord(NOW, "repaired_fill", "warning", "fill f9 found on the exchange"))
    assert lines.kinds() == ["breaker", "halt", "repair"]
    assert lines.events[0].text.startswith("breaker tripped: daily_loss")
    assert (
        lines.events[2].text == "reconcile repaired a fill the stream missed: fill f9 found on the exchange"
    )


def test_a_broken_sink_is_detached_and_trading_goes_on(tmp_path: Path) -> None:
    core, lines = _core(tmp_path)

    class Broken:
        def on_feed(self, event: FeedEvent) -> None:
            raise RuntimeError("terminal gone")

    core.feed.attach(Broken())
    core.handle(MarketListed(_market(), NOW))
    core.handle(MarketListed(_market(), NOW + 1))
    assert lines.kinds() == ["market_opened"]
    assert core.feed.failures == ["Broken: RuntimeError('terminal gone')"]


def test_a_refused_order_names_the_binding_limit_once_per_ten_seconds(tmp_path: Path) -> None:
    from kxbtc.domain.orders import OrderIntent
    from kxbtc.strategy.base import Decision

    core, lines = _core(tmp_path)
    core.account.anchor = 1_000_000_000  # $1,000: no breaker in the way
    core.handle(MarketListed(_market(), NOW))
    intent = OrderIntent(TICKER, "bid", Price(4000), Count(1000), "fair_value", "edge")
    for _ in range(3):  # the same refusal on every book update
        assert core.act([Decision(intent, {})]) == []
    rejected = [e for e in lines.events if e.kind == "order_rejected"]
    assert len(rejected) == 1
    assert rejected[0].text == (
        f"order rejected {TICKER} [fair_value]: limit stale_data: {TICKER}: book is stale (resyncing)"
    )
    assert core.stats.rejected["stale_data"] == 3  # counted every time, told once


def test_an_order_the_exchange_refuses_says_so_with_its_code(tmp_path: Path) -> None:
    from kxbtc.core.commands import PlaceOrders
    from kxbtc.domain.events import AckEvent
    from kxbtc.domain.orders import OrderAck, OrderIntent
    from kxbtc.risk.limits import ApprovedOrder

    core, lines = _core(tmp_path)
    core.handle(MarketListed(_market(), NOW))
    intent = OrderIntent(TICKER, "ask", Price(6000), Count(500), "fair_value", "edge")
    core.send([ApprovedOrder(intent, Count(500), Money(2_000_000))], NOW)
    [place] = core.take_commands()
    assert isinstance(place, PlaceOrders)
    coid = place.orders[0].client_order_id
    ack = OrderAck(coid, TICKER, None, "rejected", Count(0), Count(500), "insufficient_balance")
    core.handle(AckEvent((ack,), NOW + NS_PER_S))
    assert lines.kinds() == ["market_opened", "order_sent", "order_rejected"]
    assert lines.events[1].text == f"order sent {TICKER}: sell YES 5 contracts at $0.60 [fair_value]"
    assert lines.events[2].text.startswith(f"order rejected {TICKER} by the exchange: insufficient_balance")
