"""Order entry, matching, collateral, fees and errors of the simulated exchange (no counterparties)."""

from __future__ import annotations

import pytest

from kxbtc.clock import NS_PER_S, ManualClock
from kxbtc.sim import wire
from kxbtc.sim.exchange import Exchange, SimConfig, SimRejection
from kxbtc.units import Money, parse_count, parse_money, parse_price

START_S = 1_781_159_000  # 2026-06-11T06:23:20Z


def p(text: str) -> int:
    return parse_price(text)


def c(text: str) -> int:
    return parse_count(text)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START_S * NS_PER_S)


@pytest.fixture
def ex(clock: ManualClock) -> Exchange:
    return Exchange(clock, seed=3, counterparties=False)


def hourly(ex: Exchange) -> str:
    """An active linear_cent market."""
    return next(m.ticker for m in ex.markets.values() if m.series_ticker == "KXBTCD" and m.status == "active")


def quarter(ex: Exchange) -> str:
    return next(
        m.ticker for m in ex.markets.values() if m.series_ticker == "KXBTC15M" and m.status == "active"
    )


def order(
    ex: Exchange,
    user: str,
    ticker: str,
    side: str,
    price: str,
    count: str,
    tif: str = "good_till_canceled",
    stp: str = "taker_at_cross",
    **kw: object,
):
    return ex.create_order(
        user,
        ticker=ticker,
        side=side,
        price=p(price),
        count=c(count),
        time_in_force=tif,
        self_trade_prevention_type=stp,
        **kw,  # type: ignore[arg-type]
    )


def test_taker_fill_fee_and_response_match_the_recording(ex: Exchange, fixtures_dir) -> None:  # type: ignore[no-untyped-def]
    import json

    maker, taker = ex.ensure_user("maker"), ex.ensure_user("taker")
    t = hourly(ex)
    order(ex, maker, t, "ask", "0.52", "3")
    result = order(ex, taker, t, "bid", "0.99", "1", tif="immediate_or_cancel", client_order_id="cid-1")
    body = wire.create_response_json(result)
    recorded = json.loads((fixtures_dir / "orders__create_v2_taker_ioc.json").read_text())
    assert body.keys() == recorded.keys()
    assert (body["fill_count"], body["remaining_count"]) == ("1.00", "0.00")
    assert (body["average_fill_price"], body["average_fee_paid"]) == ("0.5200", "0.0175")
    fills = ex.fills_page(taker).items
    assert len(fills) == 1
    fill = wire.fill_json(fills[0])
    recorded_fill = json.loads((fixtures_dir / "fills__after_taker.json").read_text())["fills"][0]
    assert set(recorded_fill) <= set(fill)
    assert fill["fee_cost"] == "0.017500" and fill["yes_price_dollars"] == "0.5200" and fill["is_taker"]
    assert fill["no_price_dollars"] == "0.4800"
    # Cash: $1000 - 0.52 - 0.0175; the maker on a taker-only series pays no fee.
    assert ex.balance(taker).available == parse_money("999.462500")
    maker_fill = ex.fills_page(maker).items[0]
    assert maker_fill.fee == 0 and not maker_fill.is_taker and maker_fill.fill_id == fills[0].fill_id
    assert wire.balance_json(ex.balance(taker))["balance_dollars"] == "999.4625"
    ex.check_invariants()


def test_order_json_has_the_recorded_keys(ex: Exchange, fixtures_dir) -> None:  # type: ignore[no-untyped-def]
    import json

    user = ex.ensure_user("u")
    result = order(ex, user, hourly(ex), "bid", "0.01", "1", client_order_id="abc")
    body = wire.order_json(ex.order(user, result.order.order_id))
    recorded = json.loads((fixtures_dir / "orders__get_after_create.json").read_text())["order"]
    assert body.keys() - {"exchange_index"} == recorded.keys()
    assert (
        body["status"] == "resting"
        and body["yes_price_dollars"] == "0.0100"
        and body["no_price_dollars"] == "0.9900"
    )
    assert body["created_time"] == body["last_update_time"]


def test_post_only_cross_is_rejected_with_the_recorded_error(ex: Exchange, fixtures_dir) -> None:  # type: ignore[no-untyped-def]
    import json

    a, b = ex.ensure_user("a"), ex.ensure_user("b")
    t = hourly(ex)
    order(ex, a, t, "ask", "0.52", "3")
    with pytest.raises(SimRejection) as err:
        order(ex, b, t, "bid", "0.52", "1", post_only=True)
    recorded = json.loads((fixtures_dir / "orders__post_only_cross.json").read_text())
    assert err.value.status == 400 and wire.error_body(err.value) == recorded
    # A post-only order that does not cross rests.
    assert order(ex, b, t, "bid", "0.51", "1", post_only=True).order.status == "resting"


def test_client_order_id_is_never_reused_even_after_cancel(ex: Exchange) -> None:
    user = ex.ensure_user("u")
    t = hourly(ex)
    first = order(ex, user, t, "bid", "0.10", "1", client_order_id="same")
    ex.cancel_order(user, first.order.order_id, market_ticker=t)
    with pytest.raises(SimRejection) as err:
        order(ex, user, t, "bid", "0.10", "1", client_order_id="same")
    assert (err.value.status, err.value.code) == (409, "order_already_exists")
    # Another user may use the same id.
    order(ex, ex.ensure_user("other"), t, "bid", "0.10", "1", client_order_id="same")


def test_cancel_unknown_canceled_or_executed_is_404(ex: Exchange) -> None:
    a, b = ex.ensure_user("a"), ex.ensure_user("b")
    t = hourly(ex)
    with pytest.raises(SimRejection) as err:
        ex.cancel_order(a, "no-such-order", market_ticker=t)
    assert (err.value.status, err.value.code) == (404, "not_found")
    resting = order(ex, a, t, "bid", "0.40", "2")
    cancel = ex.cancel_order(a, resting.order.order_id, market_ticker=t)
    assert cancel.reduced_by == c("2") and wire.cancel_response_json(cancel).keys() == {
        "order_id",
        "reduced_by",
        "ts_ms",
    }
    with pytest.raises(SimRejection):
        ex.cancel_order(a, resting.order.order_id, market_ticker=t)
    order(ex, b, t, "ask", "0.40", "1")
    executed = order(ex, a, t, "bid", "0.40", "1", tif="immediate_or_cancel")
    assert executed.order.status == "executed"
    with pytest.raises(SimRejection):
        ex.cancel_order(a, executed.order.order_id, market_ticker=t)


def test_cancel_without_shard_routing_goes_to_shard_zero(ex: Exchange) -> None:
    user = ex.ensure_user("u")
    t = hourly(ex)
    resting = order(ex, user, t, "bid", "0.40", "1")
    with pytest.raises(SimRejection) as err:
        ex.cancel_order(user, resting.order.order_id)
    assert err.value.status == 404
    assert ex.cancel_order(user, resting.order.order_id, exchange_index=2).reduced_by == c("1")


def test_off_grid_price_is_invalid_price_and_grids_differ_by_series(ex: Exchange, fixtures_dir) -> None:  # type: ignore[no-untyped-def]
    import json

    user = ex.ensure_user("u")
    with pytest.raises(SimRejection) as err:
        order(ex, user, hourly(ex), "bid", "0.5150", "1")
    body = wire.error_body(err.value)
    recorded = json.loads((fixtures_dir / "orders__invalid_price_structure.json").read_text())
    recorded["error"].pop("service")  # removed from the API on 2026-08-06
    assert body == recorded
    # 15-minute markets are tapered_deci_cent: tenths of a cent below 10c, whole cents in the middle.
    assert order(ex, user, quarter(ex), "bid", "0.0150", "1").order.status == "resting"
    with pytest.raises(SimRejection):
        order(ex, user, quarter(ex), "bid", "0.5150", "1")


def test_insufficient_balance_counts_resting_collateral(clock: ManualClock) -> None:
    ex = Exchange(clock, seed=1, counterparties=False, start_balance=Money(10_000_000))  # $10
    user = ex.ensure_user("u")
    t = hourly(ex)
    order(ex, user, t, "bid", "0.50", "16")  # locks $8
    assert ex.balance(user).available == parse_money("2")
    with pytest.raises(SimRejection) as err:
        order(ex, user, t, "ask", "0.51", "5")  # buying NO at 0.49 x 5 = $2.45 > $2
    assert err.value.code == "insufficient_balance"
    order(ex, user, t, "ask", "0.60", "5")  # NO at 0.40 x 5: exactly $2.00
    assert ex.balance(user).available == 0


def test_selling_a_held_position_needs_no_collateral(clock: ManualClock) -> None:
    ex = Exchange(clock, seed=1, counterparties=False, start_balance=Money(10_000_000))
    a, b = ex.ensure_user("a"), ex.ensure_user("b")
    t = hourly(ex)
    order(ex, b, t, "ask", "0.50", "19")
    order(ex, a, t, "bid", "0.50", "19", tif="immediate_or_cancel")  # $9.50 + fee 0.3325
    left = ex.balance(a).available
    assert left == parse_money("10") - parse_money("9.5") - parse_money("0.3325")
    # Closing the YES position by selling it needs no cash and releases the pair's dollar.
    order(ex, ex.ensure_user("c"), t, "bid", "0.52", "19")
    order(ex, a, t, "ask", "0.52", "19", tif="immediate_or_cancel")
    state = ex.accounts.peek_position(a, 0, t)
    assert state is not None and state.position == 0
    assert state.realized_pnl == parse_money("0.38")  # (0.52 - 0.50) x 19 before fees
    assert ex.balance(a).available == left + parse_money("0.52") * 19 - parse_money(
        "0.3320"
    )  # 0.07 x 19 x 0.52 x 0.48 = 0.331968, rounded up
    ex.check_invariants()


def test_fill_or_kill_is_all_or_none(ex: Exchange) -> None:
    a, b = ex.ensure_user("a"), ex.ensure_user("b")
    t = hourly(ex)
    order(ex, a, t, "ask", "0.50", "3")
    order(ex, a, t, "ask", "0.51", "2")
    killed = order(ex, b, t, "bid", "0.51", "6", tif="fill_or_kill")
    assert (killed.fill_count, killed.remaining_count, killed.order.status) == (0, 0, "canceled")
    assert ex.orderbook(t).no == [(p("0.49"), c("2")), (p("0.50"), c("3"))]
    done = order(ex, b, t, "bid", "0.51", "5", tif="fill_or_kill")
    assert (done.fill_count, done.order.status) == (c("5"), "executed")
    assert done.average_fill_price == p("0.5040")
    assert ex.orderbook(t).no == []


def test_ioc_remainder_is_canceled_and_execution_is_at_the_resting_price(ex: Exchange) -> None:
    a, b = ex.ensure_user("a"), ex.ensure_user("b")
    t = hourly(ex)
    order(ex, a, t, "bid", "0.45", "2")
    result = order(ex, b, t, "ask", "0.30", "5", tif="immediate_or_cancel")
    assert (result.fill_count, result.remaining_count, result.order.status) == (c("2"), 0, "canceled")
    fill = ex.fills_page(b).items[0]
    assert fill.price == p("0.45") and fill.side == "ask"
    assert ex.accounts.peek_position(b, 0, t).position == -c("2")  # type: ignore[union-attr]


def test_stp_taker_at_cross_cancels_the_incoming_order_only(ex: Exchange, fixtures_dir) -> None:  # type: ignore[no-untyped-def]
    import json

    user = ex.ensure_user("u")
    t = hourly(ex)
    resting = order(ex, user, t, "bid", "0.47", "3")
    crossing = order(ex, user, t, "ask", "0.47", "1", tif="immediate_or_cancel", client_order_id="x")
    recorded = json.loads((fixtures_dir / "orders__stp_self_cross.json").read_text())
    body = wire.create_response_json(crossing)
    assert body.keys() == recorded.keys() and (body["fill_count"], body["remaining_count"]) == (
        "0.00",
        "0.00",
    )
    assert ex.order(user, resting.order.order_id).status == "resting"
    # Fills made before reaching the own order stand.
    other = ex.ensure_user("other")
    order(ex, other, t, "bid", "0.48", "2")
    partial = order(ex, user, t, "ask", "0.47", "5")
    assert partial.fill_count == c("2") and partial.order.status == "canceled"
    assert ex.order(user, resting.order.order_id).remaining == c("3")


def test_stp_maker_cancels_the_resting_own_order_and_keeps_matching(ex: Exchange) -> None:
    user, other = ex.ensure_user("u"), ex.ensure_user("o")
    t = hourly(ex)
    own = order(ex, user, t, "ask", "0.50", "2")
    order(ex, other, t, "ask", "0.50", "3")
    result = order(ex, user, t, "bid", "0.50", "3", stp="maker")
    assert result.fill_count == c("3")
    assert ex.order(user, own.order.order_id).status == "canceled"
    assert ex.orderbook(t).no == []


def test_reduce_only_is_capped_by_the_position(ex: Exchange) -> None:
    a, b = ex.ensure_user("a"), ex.ensure_user("b")
    t = hourly(ex)
    order(ex, b, t, "ask", "0.40", "5")
    order(ex, a, t, "bid", "0.40", "5")
    order(ex, b, t, "bid", "0.30", "50")
    result = order(ex, a, t, "ask", "0.30", "20", tif="immediate_or_cancel", reduce_only=True)
    assert result.fill_count == c("5")
    assert ex.accounts.peek_position(a, 0, t).position == 0  # type: ignore[union-attr]
    nothing = order(ex, a, t, "ask", "0.30", "1", reduce_only=True)
    assert (nothing.fill_count, nothing.order.status) == (0, "canceled")


def test_amend_and_decrease(ex: Exchange) -> None:
    a, b, z = ex.ensure_user("a"), ex.ensure_user("b"), ex.ensure_user("z")
    t = hourly(ex)
    first = order(ex, a, t, "bid", "0.40", "5")
    order(ex, z, t, "bid", "0.40", "5")
    dec = ex.decrease_order(a, first.order.order_id, reduce_by=c("2"), market_ticker=t)
    assert dec.remaining_count == c("3") and ex.queue_position(a, first.order.order_id) == 0  # priority kept
    order(ex, b, t, "ask", "0.45", "4")
    amended = ex.amend_order(a, first.order.order_id, ticker=t, side="bid", price=p("0.45"), count=c("6"))
    assert amended.fill_count == c("4") and amended.remaining_count == c("2")
    assert amended.average_fill_price == p("0.45")
    assert ex.orderbook(t).yes == [(p("0.40"), c("5")), (p("0.45"), c("2"))]
    ex.decrease_order(a, first.order.order_id, reduce_to=c("0"), exchange_index=2)
    assert ex.order(a, first.order.order_id).status == "canceled"
    ex.check_invariants()


def test_expiring_order_is_canceled_at_its_time(ex: Exchange, clock: ManualClock) -> None:
    user = ex.ensure_user("u")
    t = hourly(ex)
    result = order(ex, user, t, "bid", "0.20", "1", expiration_time=START_S + 5)
    clock.advance(4)
    assert ex.order(user, result.order.order_id).status == "resting"
    clock.advance(2)
    assert ex.order(user, result.order.order_id).status == "canceled"
    with pytest.raises(SimRejection):
        order(ex, user, t, "bid", "0.20", "1", expiration_time=START_S)


def test_orders_after_close_are_refused_and_resting_orders_canceled(ex: Exchange, clock: ManualClock) -> None:
    user = ex.ensure_user("u")
    t = quarter(ex)
    resting = order(ex, user, t, "bid", "0.20", "1")
    close_s = ex.markets[t].close_ns // NS_PER_S
    clock.set_ns(close_s * NS_PER_S)
    with pytest.raises(SimRejection) as err:
        order(ex, user, t, "bid", "0.20", "1")
    assert err.value.code == "market_inactive"
    assert ex.order(user, resting.order.order_id).status == "canceled"
    assert ex.balance(user).available == ex.config.start_balance


def test_pagination_is_newest_first_with_an_empty_final_cursor(ex: Exchange) -> None:
    user = ex.ensure_user("u")
    t = hourly(ex)
    ids = [order(ex, user, t, "bid", f"0.{10 + i}", "1").order.order_id for i in range(5)]
    page1 = ex.orders_page(user, limit=2)
    page2 = ex.orders_page(user, limit=2, cursor=page1.cursor)
    page3 = ex.orders_page(user, limit=2, cursor=page2.cursor)
    got = [o.order_id for o in page1.items + page2.items + page3.items]
    assert got == ids[::-1] and page3.cursor == "" and page1.cursor != ""
    assert [o.order_id for o in ex.orders_page(user, cursor="garbage!!").items] == ids[::-1]


def test_transfer_moves_funds_between_shards(ex: Exchange) -> None:
    user = ex.ensure_user("u")
    ex.transfer(user, source_shard=2, destination_shard=0, amount=parse_money("100"))
    bal = ex.balance(user)
    assert bal.by_shard[0] == parse_money("100") and bal.by_shard[2] == parse_money("900")
    body = wire.balance_json(bal)
    assert [b["exchange_index"] for b in body["balance_breakdown"]] == [0, 2]
    with pytest.raises(SimRejection):
        ex.transfer(user, source_shard=0, destination_shard=2, amount=parse_money("100.01"))


def test_price_time_priority_and_amend_losing_priority(ex: Exchange) -> None:
    first, second, taker = ex.ensure_user("first"), ex.ensure_user("second"), ex.ensure_user("taker")
    t = hourly(ex)
    a = order(ex, first, t, "ask", "0.55", "1")
    order(ex, second, t, "ask", "0.55", "1")
    order(ex, second, t, "ask", "0.54", "1")
    order(ex, taker, t, "bid", "0.55", "2", tif="immediate_or_cancel")
    # Best price first (0.54), then the earlier order at 0.55.
    assert [f.price for f in ex.fills_page(taker).items] == [p("0.55"), p("0.54")]
    assert ex.order(first, a.order.order_id).status == "executed"
    b = order(ex, first, t, "ask", "0.60", "1")
    order(ex, second, t, "ask", "0.60", "1")
    ex.amend_order(
        first, b.order.order_id, ticker=t, side="ask", price=p("0.60"), count=c("2")
    )  # size up: re-queued
    assert ex.queue_position(first, b.order.order_id) == c("1")


async def test_run_steps_on_the_injected_clock(clock: ManualClock) -> None:
    import asyncio

    ex = Exchange(clock, seed=1, counterparties=False)
    queue = ex.subscribe()
    task = asyncio.create_task(ex.run(interval_s=0.5))
    await clock.run_for(3.0, step=0.5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    ticks = [e for e in queue.drain() if type(e).__name__ == "IndexTick"]
    assert len(ticks) == 3


def test_resting_orders_that_would_close_a_holding_need_no_collateral(clock: ManualClock) -> None:
    ex = Exchange(clock, seed=1, counterparties=False, start_balance=Money(10_000_000))  # $10
    a, b = ex.ensure_user("a"), ex.ensure_user("b")
    t = hourly(ex)
    order(ex, b, t, "bid", "0.40", "10")
    order(ex, a, t, "ask", "0.40", "10", tif="immediate_or_cancel")  # a is long 10 NO at 0.60: $6 + fee
    left = ex.balance(a).available
    # A resting bid for 10 YES would close the NO holding: it locks nothing.
    order(ex, a, t, "bid", "0.30", "10")
    assert ex.balance(a).available == left
    # Beyond the holding it locks the YES price per extra contract.
    order(ex, a, t, "bid", "0.30", "1")
    assert ex.balance(a).available == left - parse_money("0.30")
    ex.check_invariants()


def test_a_forgotten_markets_orders_go_with_it_but_fills_and_client_ids_stay(clock: ManualClock) -> None:
    # A long-running simulator stays flat: a finalized market past its retention takes its users'
    # (finished) orders along; their fills and client order ids are the account's and stay.
    ex = Exchange(clock, seed=3, config=SimConfig(counterparties=False, retain_finalized_s=60))
    maker, taker = ex.ensure_user("maker"), ex.ensure_user("taker")
    t = quarter(ex)
    order(ex, maker, t, "ask", "0.40", "2")
    filled = order(ex, taker, t, "bid", "0.40", "2", client_order_id="gone-1").order
    resting = order(ex, taker, t, "bid", "0.10", "1").order
    clock.set_ns(ex.markets[t].close_ns + 2 * 3600 * NS_PER_S)
    ex.step()
    later = quarter(ex)  # a window listed since, still open
    live = order(ex, taker, later, "bid", "0.10", "1").order
    assert t not in ex.markets
    assert {o.order_id for o in ex.orders_page(taker, limit=100).items} == {live.order_id}
    with pytest.raises(SimRejection):
        ex.order(taker, filled.order_id)
    assert resting.order_id not in ex.orders
    assert [f.order_id for f in ex.accounts.fills[taker]] == [filled.order_id]
    with pytest.raises(SimRejection) as err:
        order(ex, taker, later, "bid", "0.10", "1", client_order_id="gone-1")
    assert err.value.code == "order_already_exists"
