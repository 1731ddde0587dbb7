"""Random order flows from many users: the exchange's books and ledger stay consistent."""

from __future__ import annotations

from collections import Counter, defaultdict

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kxbtc.clock import NS_PER_S, ManualClock
from kxbtc.sim.events import BookDelta, FillEvent
from kxbtc.sim.exchange import Exchange, SimRejection
from kxbtc.units import Money

START_S = 1_781_159_000
USERS = 4

create_op = st.tuples(
    st.just("create"),
    st.integers(0, USERS - 1),
    st.integers(0, 1),  # market
    st.sampled_from(["bid", "ask"]),
    # price in cents, mostly near the middle so orders cross (plus a sub-cent offset on the 15M edges)
    st.one_of(st.integers(46, 54), st.integers(1, 99)),
    st.integers(1, 2000),  # count in hundredths
    st.sampled_from(["good_till_canceled", "immediate_or_cancel", "fill_or_kill"]),
    st.sampled_from(["taker_at_cross", "maker"]),
    st.booleans(),  # post_only
    st.booleans(),  # reduce_only
)
other_op = st.tuples(
    st.sampled_from(["cancel", "decrease", "amend", "wait"]),
    st.integers(0, USERS - 1),
    st.integers(0, 10_000),
    st.integers(46, 54),
    st.integers(1, 2000),
)


def _run(ops: list[tuple[object, ...]]) -> tuple[Exchange, ManualClock, list[object], list[str], list[str]]:
    clock = ManualClock(START_S * NS_PER_S)
    ex = Exchange(clock, seed=9, counterparties=False, start_balance=Money(60_000_000))
    queue = ex.subscribe()
    users = [ex.ensure_user(f"user-{i}") for i in range(USERS)]
    markets = [
        next(m.ticker for m in ex.markets.values() if m.series_ticker == "KXBTC15M" and m.status == "active"),
        next(m.ticker for m in ex.markets.values() if m.series_ticker == "KXBTCD" and m.status == "active"),
    ]
    order_ids: list[str] = []
    for op in ops:
        try:
            if op[0] == "create":
                _, u, mi, side, cents, count, tif, stp, post_only, reduce_only = op
                price = int(cents) * 100  # type: ignore[call-overload]
                if mi == 0 and (price < 1000 or price > 9000):
                    price += 50  # tenths of a cent exist near the edges of the 15M grid
                result = ex.create_order(
                    users[u],  # type: ignore[index]
                    ticker=markets[mi],  # type: ignore[index]
                    side=str(side),
                    price=price,
                    count=int(count),  # type: ignore[call-overload]
                    time_in_force=str(tif),
                    self_trade_prevention_type=str(stp),
                    post_only=bool(post_only),
                    reduce_only=bool(reduce_only),
                )
                order_ids.append(result.order.order_id)
            elif op[0] == "wait":
                clock.advance(int(op[2]) % 30)  # type: ignore[call-overload]
            elif order_ids:
                _, u, pick, cents, count = op
                oid = order_ids[int(pick) % len(order_ids)]  # type: ignore[call-overload]
                target = ex.orders[oid]
                if op[0] == "cancel":
                    ex.cancel_order(target.user_id, oid, exchange_index=2)
                elif op[0] == "decrease":
                    ex.decrease_order(target.user_id, oid, reduce_by=int(count), exchange_index=2)  # type: ignore[call-overload]
                else:
                    ex.amend_order(
                        target.user_id,
                        oid,
                        ticker=target.ticker,
                        side=target.side,
                        price=int(cents) * 100,
                        count=target.fill_count + int(count),  # type: ignore[call-overload]
                    )
        except SimRejection:
            pass
        ex.check_invariants()
    return ex, clock, queue.drain(), users, markets


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(create_op, other_op), min_size=5, max_size=60))
def test_random_flows_keep_books_ledger_and_reports_consistent(ops: list[tuple[object, ...]]) -> None:
    ex, clock, events, users, markets = _run(ops)

    # Every fill is reported exactly once on the stream and once in fills(), and they agree.
    streamed = Counter(
        (e.fill.fill_id, e.fill.user_id, e.fill.order_id) for e in events if isinstance(e, FillEvent)
    )
    assert all(n == 1 for n in streamed.values())
    listed = Counter(
        (f.fill_id, f.user_id, f.order_id) for u in users for f in ex.fills_page(u, limit=1000).items
    )
    assert streamed == listed

    # Positions equal the signed sum of fills.
    signed: dict[tuple[str, str], int] = defaultdict(int)
    for u in users:
        for f in ex.fills_page(u, limit=1000).items:
            signed[(u, f.ticker)] += f.count if f.side == "bid" else -f.count
    for (u, ticker), total in signed.items():
        state = ex.accounts.peek_position(u, 0, ticker)
        assert state is not None and state.position == total

    # The book rebuilt from the delta stream equals the exchange's book.
    levels: dict[tuple[str, str, int], int] = defaultdict(int)
    for e in events:
        if isinstance(e, BookDelta):
            levels[(e.ticker, e.side, e.yes_price)] += e.delta
    for ticker in markets:
        book = ex.books[ticker]
        expect = {("yes", p): c for p, c in book.levels("bid")} | {
            ("no", p): c for p, c in book.levels("ask")
        }
        rebuilt = {(side, p): c for (t, side, p), c in levels.items() if t == ticker and c}
        assert rebuilt == expect
        assert all(c > 0 for c in rebuilt.values())

    # Settlement pays exactly $1 per winning contract of the net position, and nothing else moves.
    holdings = {(u, t): ex.accounts.peek_position(u, 0, t) for u in users for t in markets}
    holdings = {k: None if v is None else v.copy() for k, v in holdings.items()}
    before = {u: ex.accounts.cash_of(u, 0, 2) for u in users}
    last_close = max(ex.markets[t].close_ns for t in markets)
    clock.set_ns(last_close + 61 * NS_PER_S)
    ex.step()
    for u in users:
        expected = before[u]
        for t in markets:
            state = holdings[(u, t)]
            market = ex.markets[t]
            if state is not None and market.result == "yes" and state.position > 0:
                expected += state.position * 10_000
            if state is not None and market.result == "no" and state.position < 0:
                expected += -state.position * 10_000
        assert ex.accounts.cash_of(u, 0, 2) == expected
        assert ex.balance(u).available == expected
    ex.check_invariants()
    assert ex.accounts.ledger.escrow == 0
