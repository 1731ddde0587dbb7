"""Series schedule, tickers, strikes, lifecycle and settlement of the simulated BTC markets."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from kxbtc.clock import NS_PER_S, ManualClock
from kxbtc.sim import wire
from kxbtc.sim.events import EventCreated, IndexTick, LifecycleEvent
from kxbtc.sim.exchange import Exchange
from kxbtc.sim.market_specs import ladder_strikes
from kxbtc.sim.market_text import event_ticker_hourly, market_ticker_15m
from kxbtc.sim.markets import settlement_average_cents
from kxbtc.units import parse_count, parse_money, parse_price

START_S = 1_781_159_000  # 2026-06-11T06:23:20Z = 02:23:20 EDT


def utc_ns(*args: int) -> int:
    return int(dt.datetime(*args, tzinfo=dt.UTC).timestamp()) * NS_PER_S


def test_tickers_are_in_eastern_time_and_name_the_window_end() -> None:
    assert market_ticker_15m(utc_ns(2026, 6, 1, 7, 45)) == "KXBTC15M-26JUN010345-45"  # 03:45 EDT
    assert market_ticker_15m(utc_ns(2026, 4, 16, 5, 0)) == "KXBTC15M-26APR160100-00"
    assert market_ticker_15m(utc_ns(2026, 1, 15, 5, 15)) == "KXBTC15M-26JAN150015-15"  # EST, UTC-5
    assert event_ticker_hourly("KXBTCD", utc_ns(2025, 8, 5, 21, 0)) == "KXBTCD-25AUG0517"


def test_ladder_strikes_end_in_99_cents_at_250_dollar_steps() -> None:
    strikes = ladder_strikes(11_500_123, 2)
    assert strikes == [11_449_999, 11_474_999, 11_499_999, 11_524_999, 11_549_999]


def test_settlement_average_rounds_half_up_to_the_cent() -> None:
    assert settlement_average_cents([100, 101]) == 101
    assert settlement_average_cents([100, 100, 101]) == 100


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START_S * NS_PER_S)


def test_schedule_lists_current_and_next_windows_with_grids(clock: ManualClock) -> None:
    ex = Exchange(clock, seed=5, counterparties=False)
    quarters = sorted(
        (m for m in ex.markets.values() if m.series_ticker == "KXBTC15M"), key=lambda m: m.close_ns
    )
    assert [m.status for m in quarters] == ["active", "initialized", "initialized"]
    assert quarters[0].ticker == "KXBTC15M-26JUN110230-30"
    assert quarters[0].close_ns - quarters[0].open_ns == 900 * NS_PER_S
    assert quarters[0].floor_strike is not None and quarters[1].floor_strike is None
    assert quarters[0].price_level_structure == "tapered_deci_cent" and quarters[0].settlement_timer_s == 1
    body = wire.market_json(ex, quarters[0])
    assert body["price_ranges"][0] == {"start": "0.0000", "end": "0.1000", "step": "0.0010"}
    assert body["strike_type"] == "greater_or_equal" and body["yes_sub_title"].startswith("Target Price: $")
    hourly = [m for m in ex.markets.values() if m.series_ticker == "KXBTCD"]
    assert hourly and all(m.ticker.startswith("KXBTCD-26JUN1103-T") for m in hourly)
    assert all(m.price_level_structure == "linear_cent" and m.settlement_timer_s == 60 for m in hourly)
    ranges = [m for m in ex.markets.values() if m.series_ticker == "KXBTC"]
    kinds = [m.strike_type for m in ranges]
    assert kinds[0] == "less" and kinds[-1] == "greater" and set(kinds[1:-1]) == {"between"}
    for low, high in itertools.pairwise(ranges[1:-1]):
        assert high.floor_strike == low.cap_strike + 1  # type: ignore[operator]


def test_window_strike_is_the_previous_settlement_value_and_ties_go_to_yes(clock: ManualClock) -> None:
    ex = Exchange(clock, seed=7, counterparties=False)
    events = ex.subscribe()
    first = min((m for m in ex.markets.values() if m.series_ticker == "KXBTC15M"), key=lambda m: m.close_ns)
    clock.set_ns(first.close_ns + 2 * NS_PER_S)
    ex.step()
    assert first.status == "finalized"
    value = settlement_average_cents(ex.index_window(first.close_ns // NS_PER_S))
    assert first.settlement_value_cents == value
    assert first.result == ("yes" if value >= first.floor_strike else "no")  # type: ignore[operator]
    nxt = next(
        m for m in ex.markets.values() if m.series_ticker == "KXBTC15M" and m.open_ns == first.close_ns
    )
    assert nxt.status == "active" and nxt.floor_strike == value
    kinds = [(e.event_type, e.market.ticker) for e in events.drain() if isinstance(e, LifecycleEvent)]
    assert ("metadata_updated", nxt.ticker) in kinds
    assert kinds.index(("determined", first.ticker)) < kinds.index(("settled", first.ticker))
    assert first.yes_wins(first.floor_strike)  # type: ignore[arg-type]


def test_settlement_pays_one_dollar_per_winning_contract(clock: ManualClock) -> None:
    ex = Exchange(clock, seed=11, counterparties=False)
    market = min((m for m in ex.markets.values() if m.series_ticker == "KXBTC15M"), key=lambda m: m.close_ns)
    yes, no = ex.ensure_user("yes-buyer"), ex.ensure_user("no-buyer")
    ex.create_order(
        no,
        ticker=market.ticker,
        side="ask",
        price=parse_price("0.40"),
        count=parse_count("10"),
        time_in_force="good_till_canceled",
        self_trade_prevention_type="taker_at_cross",
    )
    ex.create_order(
        yes,
        ticker=market.ticker,
        side="bid",
        price=parse_price("0.40"),
        count=parse_count("10"),
        time_in_force="immediate_or_cancel",
        self_trade_prevention_type="taker_at_cross",
    )
    before = {u: ex.balance(u).available for u in (yes, no)}
    clock.set_ns(market.close_ns + 1 * NS_PER_S)
    ex.step()
    assert market.status == "finalized"
    winner = yes if market.result == "yes" else no
    loser = no if winner == yes else yes
    assert ex.balance(winner).available == before[winner] + parse_money("10")
    assert ex.balance(loser).available == before[loser]
    record = ex.settlements_page(winner).items[0]
    body = wire.settlement_json(record)
    assert body["revenue"] == 1000 and body["market_result"] == market.result
    assert body["yes_count_fp" if winner == yes else "no_count_fp"] == "10.00"
    assert ex.positions_page(winner).market_positions == []
    ex.check_invariants()
    assert ex.accounts.ledger.escrow == 0


def test_hourly_events_settle_after_their_timer(clock: ManualClock) -> None:
    ex = Exchange(clock, seed=2, counterparties=False)
    market = next(m for m in ex.markets.values() if m.series_ticker == "KXBTCD")
    clock.set_ns(market.close_ns + 30 * NS_PER_S)
    ex.step()
    assert market.status == "determined"
    clock.advance(31)
    ex.step()
    assert market.status == "finalized" and market.settled_ns is not None
    next_hour = [m for m in ex.markets.values() if m.series_ticker == "KXBTCD" and m.status == "active"]
    assert next_hour, "the next hourly ladder opens when the previous one closes"


def test_index_ticks_carry_the_final_minute_average(clock: ManualClock) -> None:
    ex = Exchange(clock, seed=4, counterparties=False)
    queue = ex.subscribe()
    market = min((m for m in ex.markets.values() if m.series_ticker == "KXBTC15M"), key=lambda m: m.close_ns)
    clock.set_ns(market.close_ns)
    ex.step()
    ticks = [e for e in queue.drain() if isinstance(e, IndexTick)]
    last = ticks[-1]
    assert last.ts_ns == market.close_ns and last.window_size == 60
    msg = wire.cfbenchmarks_msg(last)
    window = msg["last_60s_windowed_average_15min"]
    assert window["window_size"] == 60
    assert round(float(window["value"]), 2) == market.settlement_value_cents / 100  # type: ignore[operator]
    assert "last_60s_windowed_average_15min" not in wire.cfbenchmarks_msg(ticks[0])


def test_event_and_market_lifecycle_messages_render(clock: ManualClock) -> None:
    ex = Exchange(clock, seed=4, counterparties=False)
    queue = ex.subscribe()
    clock.advance(900)
    ex.step()
    items = queue.drain()
    created = [e for e in items if isinstance(e, LifecycleEvent) and e.event_type == "created"]
    assert created
    msg = wire.lifecycle_msg(created[0])
    assert {"open_ts", "close_ts", "price_ranges", "additional_metadata", "exchange_index"} <= msg.keys()
    events = [e for e in items if isinstance(e, EventCreated)]
    assert wire.event_lifecycle_msg(events[0])["exchange_index"] == 2


def test_candlesticks_from_trades_and_sampled_quotes(clock: ManualClock) -> None:
    ex = Exchange(clock, seed=3, counterparties=False)
    ticker = next(m.ticker for m in ex.markets.values() if m.series_ticker == "KXBTCD")
    a, b = ex.ensure_user("a"), ex.ensure_user("b")

    def trade(price: str, count: str) -> None:
        ex.create_order(
            b,
            ticker=ticker,
            side="ask",
            price=parse_price(price),
            count=parse_count(count),
            time_in_force="good_till_canceled",
            self_trade_prevention_type="taker_at_cross",
        )
        ex.create_order(
            a,
            ticker=ticker,
            side="bid",
            price=parse_price(price),
            count=parse_count(count),
            time_in_force="immediate_or_cancel",
            self_trade_prevention_type="taker_at_cross",
        )

    trade("0.40", "1")
    trade("0.50", "3")
    ex.create_order(
        a,
        ticker=ticker,
        side="bid",
        price=parse_price("0.30"),
        count=parse_count("1"),
        time_in_force="good_till_canceled",
        self_trade_prevention_type="taker_at_cross",
    )
    clock.advance(60)
    ex.step()
    trade("0.45", "2")
    clock.advance(60)
    ex.step()
    candles = ex.candlesticks(ticker, start_ts=START_S - 3600, end_ts=START_S + 600, period_interval=1)
    first, second = (wire.candlestick_json(c) for c in candles[:2])
    assert first["price"]["open_dollars"] == "0.4000" and first["price"]["close_dollars"] == "0.5000"
    assert first["price"]["mean_dollars"] == "0.4750" and first["volume_fp"] == "4.00"
    assert second["price"]["previous_dollars"] == "0.5000" and second["volume_fp"] == "2.00"
    assert second["yes_bid"]["close_dollars"] == "0.3000"
    hourly = ex.candlesticks(ticker, start_ts=START_S - 3600, end_ts=START_S + 7200, period_interval=60)
    assert len(hourly) == 1 and wire.candlestick_json(hourly[0])["volume_fp"] == "6.00"


def test_weekly_maintenance_pauses_trading() -> None:
    from kxbtc.sim.exchange import SimConfig, SimRejection

    clock = ManualClock(utc_ns(2026, 6, 11, 6, 59))  # Thursday 02:59 EDT
    ex = Exchange(clock, seed=1, config=SimConfig(counterparties=False, weekly_maintenance=True))
    user = ex.ensure_user("u")
    assert ex.exchange_status().trading_active
    clock.advance(120)
    assert not ex.exchange_status().trading_active
    ticker = next(
        m.ticker for m in ex.markets.values() if m.series_ticker == "KXBTC15M" and m.status == "active"
    )
    with pytest.raises(SimRejection) as err:
        ex.create_order(
            user,
            ticker=ticker,
            side="bid",
            price=parse_price("0.20"),
            count=parse_count("1"),
            time_in_force="good_till_canceled",
            self_trade_prevention_type="taker_at_cross",
        )
    assert err.value.code == "trading_is_paused"
    clock.set_ns(utc_ns(2026, 6, 11, 9, 0))  # 05:00 EDT
    assert ex.exchange_status().trading_active
