from __future__ import annotations

from dataclasses import replace

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


def test_open_positions_count_at_their_marks_and_unfilled_orders_at_their_worst_case() -> None:
    rm, clock = _manager()
    close = clock.time_ns() + 600 * NS_PER_S
    # Marked basis (default): $40 of positions on other markets are already in equity at their exit
    # marks; they do not shrink the room for a new order, which may lose the whole $50 daily budget.
    held = MarketRisk("KXBTC15M-X", close, Count(0), Money(0), 0.1, open_value=Money(40 * DOLLAR))
    wide = rm.check(_buy_yes(5000, 90), held)
    assert isinstance(wide, ApprovedOrder) and wide.count == 9000
    # $40 of orders not yet filled (in flight or resting) can still be lost whole: $10 is left.
    pending = MarketRisk("KXBTC15M-X", close, Count(0), Money(0), 0.1, pending_risk=Money(40 * DOLLAR))
    decision = rm.check(_buy_yes(5000, 1000), pending)
    assert isinstance(decision, ApprovedOrder) and decision.count % 100 == 0
    assert 40 * DOLLAR + decision.worst_case_loss <= 50 * DOLLAR
    assert decision.count >= 1800  # 18 contracts at $0.5 + fees fit in $10
    full = MarketRisk("KXBTC15M-X", close, Count(0), Money(0), 0.1, pending_risk=Money(50 * DOLLAR))
    refused = rm.check(_buy_yes(5000, 1), full)
    assert isinstance(refused, Rejection) and refused.rule == "daily_loss_room"


def test_the_worst_case_basis_counts_open_positions_as_lost() -> None:
    clock = ManualClock()
    rm = RiskManager(RiskConfig(loss_basis="worst_case"), clock)
    rm.update_equity(Money(1000 * DOLLAR))
    close = clock.time_ns() + 600 * NS_PER_S
    # $1,000 equity, floor $950; $40 already riding on other markets leaves $10 for a new order.
    market = MarketRisk("KXBTC15M-X", close, Count(0), Money(0), 0.1, open_value=Money(40 * DOLLAR))
    decision = rm.check(_buy_yes(5000, 1000), market)
    assert isinstance(decision, ApprovedOrder)
    assert 40 * DOLLAR + decision.worst_case_loss <= 50 * DOLLAR
    full = MarketRisk("KXBTC15M-X", close, Count(0), Money(0), 0.1, open_value=Money(50 * DOLLAR))
    assert isinstance(rm.check(_buy_yes(5000, 1), full), Rejection)


# -- the defaults bind (RiskConfig(): 5 % daily loss, 10 % drawdown, 20 % per strike) ------------


def _fill(market: MarketRisk, order: ApprovedOrder) -> MarketRisk:
    """The market after ``order`` filled in full (YES bought at its limit price)."""
    cost = order_cost(order.intent.side, order.intent.price, order.count)
    return replace(
        market,
        position=Count(market.position + order.count),
        position_cost=Money(market.position_cost + cost),
    )


def test_defaults_the_per_strike_cap_binds_before_the_breakers() -> None:
    rm, clock = _manager()
    market = _market(clock)
    equity = 1000 * DOLLAR
    sent = 0
    for _ in range(20):
        decision = rm.check(_buy_yes(5000, 100), market)
        if isinstance(decision, Rejection):
            break
        sent += 1
        market = _fill(market, decision)
        # Each fill is marked at the bid a cent under the price paid, after the exit fee: equity dips.
        equity -= decision.count * 100 + kalshi_taker_fee(5000, decision.count) * 2
        assert rm.update_equity(Money(equity)) == []
    assert isinstance(decision, Rejection) and decision.rule == "per_strike"
    # $200 at stake on one strike (20 % of equity): four times the $50 daily-loss budget.
    assert market.position_cost > 190 * DOLLAR and sent >= 4
    assert market.position_cost <= equity * 2000 // 10_000
    assert not rm.halted


def test_defaults_the_daily_loss_room_binds_then_the_breaker_trips() -> None:
    rm, clock = _manager()
    rm.update_equity(Money(955 * DOLLAR))  # $45 lost today (realized plus marked)
    decision = rm.check(_buy_yes(5000, 100), _market(clock))
    assert isinstance(decision, ApprovedOrder)
    assert decision.worst_case_loss <= 5 * DOLLAR and decision.count == 900  # 9 at $0.50 + fees
    assert "daily_loss room" in decision.notes
    [event] = rm.update_equity(Money(950 * DOLLAR + 900_000))  # less than one contract left
    assert event.kind == "daily_loss" and event.severity == "halt" and rm.halted
    refused = rm.check(_buy_yes(5000, 1), _market(clock))
    assert isinstance(refused, Rejection) and refused.rule == "halted"


def test_defaults_the_drawdown_room_binds_then_the_breaker_trips() -> None:
    rm, clock = _manager()  # day start $1,000
    rm.update_equity(Money(1100 * DOLLAR))  # new peak; the drawdown floor is $990
    rm.update_equity(Money(1010 * DOLLAR))  # up 1 % on the day, but $90 off the peak
    decision = rm.check(_buy_yes(5000, 100), _market(clock))
    assert isinstance(decision, ApprovedOrder) and decision.worst_case_loss <= 20 * DOLLAR
    assert "max_drawdown room" in decision.notes
    empty = rm.check(_buy_yes(5000, 100), replace(_market(clock), pending_risk=Money(20 * DOLLAR)))
    assert isinstance(empty, Rejection) and empty.rule == "max_drawdown_room"
    [event] = rm.update_equity(Money(990 * DOLLAR + 500_000))
    assert event.kind == "max_drawdown" and rm.halted


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
