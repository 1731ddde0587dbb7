from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from kxbtc.clock import NS_PER_S, ManualClock
from kxbtc.config import RiskConfig
from kxbtc.pricing.fees import kalshi_taker_fee
from kxbtc.risk.limits import (
    ApprovedOrder,
    MarketRisk,
    OrderIntent,
    Rejection,
    RiskManager,
    opening_count,
    order_cost,
)
from kxbtc.risk.resting import RestingBook, RestingOrder
from kxbtc.units import Count, Money, Price

DOLLAR = 1_000_000


def _manager(equity: int = 1000 * DOLLAR) -> tuple[RiskManager, ManualClock]:
    clock = ManualClock()
    rm = RiskManager(RiskConfig(), clock)
    rm.update_equity(Money(equity))
    return rm, clock


def _market(clock: ManualClock, *, close_in_s: float = 600, position: int = 0, cost: int = 0) -> MarketRisk:
    return MarketRisk(
        "KXBTC15M-X", clock.time_ns() + int(close_in_s * NS_PER_S), Count(position), Money(cost), 0.1
    )


def _buy_yes(price: int, contracts: int) -> OrderIntent:
    return OrderIntent("KXBTC15M-X", "bid", Price(price), Count(contracts * 100), "test", "edge")


def test_daily_loss_breaker_trips_at_five_percent_and_halts_everything() -> None:
    rm, clock = _manager()
    assert rm.update_equity(Money(951 * DOLLAR + 20_000)) == []
    # Within one contract's worst case ($1.0175) of the floor: nothing more can be risked, so it trips.
    [event] = rm.update_equity(Money(951 * DOLLAR))
    assert event.kind == "daily_loss" and rm.halted
    decision = rm.check(_buy_yes(5000, 1), _market(clock))
    assert isinstance(decision, Rejection) and decision.rule == "halted"


def test_drawdown_breaker_measures_from_the_peak() -> None:
    rm, clock = _manager()
    rm.update_equity(Money(1040 * DOLLAR))
    clock.advance(86_400)  # next day: new day start 1040... equity path keeps the old peak
    rm.update_equity(Money(1100 * DOLLAR))
    clock.advance(86_400)
    rm.update_equity(Money(1050 * DOLLAR))  # day start 1050
    assert not rm.halted
    clock.advance(86_400)
    rm.update_equity(Money(1000 * DOLLAR))  # new day start 1000, but 9.1% below the 1100 peak
    [event] = rm.update_equity(Money(990 * DOLLAR))  # 10% below peak
    assert event.kind == "max_drawdown"


def test_per_strike_cap_is_twenty_percent_of_equity() -> None:
    rm, clock = _manager()
    # $200 at risk allowed on one strike; already $150 in it: room for about $50.
    decision = rm.check(_buy_yes(5000, 1000), _market(clock, position=300 * 100, cost=150 * DOLLAR))
    assert isinstance(decision, ApprovedOrder)
    assert order_cost("bid", 5000, decision.count) + 150 * DOLLAR <= 200 * DOLLAR
    full = rm.check(_buy_yes(5000, 1), _market(clock, position=400 * 100, cost=200 * DOLLAR))
    assert isinstance(full, Rejection) and full.rule == "per_strike"


def test_final_minute_freeze_blocks_opening_but_not_closing() -> None:
    rm, clock = _manager()
    opening = rm.check(_buy_yes(5000, 1), _market(clock, close_in_s=60))
    assert isinstance(opening, Rejection) and opening.rule == "final_freeze"
    sell_no_by_buying_yes = rm.check(
        _buy_yes(5000, 1), _market(clock, close_in_s=30, position=-100, cost=50 * 10**4)
    )
    assert isinstance(sell_no_by_buying_yes, ApprovedOrder)
    assert isinstance(rm.check(_buy_yes(5000, 1), _market(clock, close_in_s=61)), ApprovedOrder)


def test_stale_book_skew_and_manual_halt() -> None:
    rm, clock = _manager()
    stale = MarketRisk(
        "KXBTC15M-X", clock.time_ns() + 600 * NS_PER_S, Count(0), Money(0), 0.1, book_stale=True
    )
    assert isinstance(rm.check(_buy_yes(5000, 1), stale), Rejection)
    old = MarketRisk("KXBTC15M-X", clock.time_ns() + 600 * NS_PER_S, Count(0), Money(0), 30.0)
    assert isinstance(rm.check(_buy_yes(5000, 1), old), Rejection)
    rm.set_clock_skew(5_000)
    assert isinstance(rm.check(_buy_yes(5000, 1), _market(clock)), Rejection)
    rm.set_clock_skew(0)
    rm.halt("operator")
    assert isinstance(rm.check(_buy_yes(5000, 1), _market(clock)), Rejection)
    rm.resume()
    assert isinstance(rm.check(_buy_yes(5000, 1), _market(clock)), ApprovedOrder)


@given(
    equity=st.integers(100 * DOLLAR, 100_000 * DOLLAR),
    loss_so_far=st.integers(0, 60),  # per mille of equity already lost today
    price=st.integers(100, 9900),
    contracts=st.integers(1, 100_000),
    position=st.integers(-50_000, 50_000),
    side=st.sampled_from(["bid", "ask"]),
)
def test_no_approved_order_can_breach_a_limit(
    equity: int, loss_so_far: int, price: int, contracts: int, position: int, side: str
) -> None:
    rm, clock = _manager(equity)
    now_equity = equity - equity * loss_so_far // 1000
    rm.update_equity(Money(now_equity))
    cost = abs(position) * 5000
    intent = OrderIntent("KXBTC15M-X", side, Price(price), Count(contracts * 100), "t", "r")
    decision = rm.check(intent, _market(clock, position=position, cost=cost))
    if isinstance(decision, Rejection):
        return
    assert decision.count <= 500 * 100
    floor = equity - equity * 500 // 10_000
    if opening_count(side, decision.count, position):
        # Losing the whole order never takes equity below the daily-loss floor.
        assert now_equity - decision.worst_case_loss >= floor
    grows = (position >= 0) if side == "bid" else (position <= 0)
    if grows:
        assert cost + order_cost(side, price, decision.count) <= max(now_equity * 2000 // 10_000, cost)


def test_open_positions_count_against_the_daily_loss_budget() -> None:
    rm, clock = _manager()
    # $1,000 equity, floor $950; $40 already riding on other markets leaves $10 for a new order.
    market = MarketRisk(
        "KXBTC15M-X", clock.time_ns() + 600 * NS_PER_S, Count(0), Money(0), 0.1, open_value=Money(40 * DOLLAR)
    )
    decision = rm.check(_buy_yes(5000, 1000), market)
    assert isinstance(decision, ApprovedOrder)
    assert decision.count % 100 == 0
    assert 40 * DOLLAR + decision.worst_case_loss <= 50 * DOLLAR
    assert decision.count >= 1800  # 18 contracts at $0.5 + fees fit in $10
    full = MarketRisk(
        "KXBTC15M-X", clock.time_ns() + 600 * NS_PER_S, Count(0), Money(0), 0.1, open_value=Money(50 * DOLLAR)
    )
    assert isinstance(rm.check(_buy_yes(5000, 1), full), Rejection)


def test_resting_orders_count_against_the_per_strike_cap() -> None:
    rm, clock = _manager()
    # $200 allowed on the strike; nothing filled yet but $150 of bids rest there: room for about $50.
    resting = MarketRisk(
        "KXBTC15M-X",
        clock.time_ns() + 600 * NS_PER_S,
        Count(0),
        Money(0),
        0.1,
        resting_cost=Money(150 * DOLLAR),
    )
    decision = rm.check(_buy_yes(5000, 1000), resting)
    assert isinstance(decision, ApprovedOrder)
    assert 150 * DOLLAR + decision.worst_case_loss <= 200 * DOLLAR
    assert decision.count >= 9_000  # about 98 contracts at $0.50 plus fees
    full = MarketRisk(
        "KXBTC15M-X",
        clock.time_ns() + 600 * NS_PER_S,
        Count(0),
        Money(0),
        0.1,
        resting_cost=Money(200 * DOLLAR),
    )
    refused = rm.check(_buy_yes(5000, 1), full)
    assert isinstance(refused, Rejection) and refused.rule == "per_strike"


def test_a_resting_order_is_worth_its_full_fill_until_the_exchange_says_it_is_gone() -> None:
    book = RestingBook()
    bid = RestingOrder("o1", "KXBTC15M-X", "bid", Price(4000), Count(1000))  # 10 YES at $0.40
    ask = RestingOrder("o2", "KXBTC15M-Y", "ask", Price(7000), Count(500))  # 5 NO at $0.30
    book.update(bid, "resting")
    book.update(ask, "resting")
    assert book.worst_case("KXBTC15M-X") == 4 * DOLLAR + kalshi_taker_fee(4000, 1000)
    assert book.worst_case() == book.worst_case("KXBTC15M-X") + 1_500_000 + kalshi_taker_fee(7000, 500)
    # A partial fill shrinks what is left to fill; a cancel removes it for good, even if the create
    # acknowledgement arrives after the cancel.
    book.update(RestingOrder("o1", "KXBTC15M-X", "bid", Price(4000), Count(400)), "resting")
    assert book.worst_case("KXBTC15M-X") == 1_600_000 + kalshi_taker_fee(4000, 400)
    book.update(bid, "canceled")
    book.update(bid, "resting")
    assert book.worst_case("KXBTC15M-X") == 0 and "o1" not in book
    # The exchange's list at reconciliation replaces everything (a dropped cancel cannot leave a ghost).
    book.replace([RestingOrder("o3", "KXBTC15M-Z", "bid", Price(100), Count(100))])
    assert len(book) == 1 and book.worst_case() == 10_000 + kalshi_taker_fee(100, 100)
