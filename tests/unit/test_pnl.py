from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from kxbtc.pnl import MarketPnl

fills = st.lists(
    st.tuples(st.sampled_from(["bid", "ask"]), st.integers(100, 9900), st.integers(1, 5000)),
    min_size=1,
    max_size=40,
)


@given(fills, st.sampled_from(["yes", "no"]))
def test_realized_pnl_after_settlement_equals_cash_flow(
    trades: list[tuple[str, int, int]], result: str
) -> None:
    """Gross legs, no netting: pay for every contract, $1 back per YES+NO pair and per winner."""
    pnl = MarketPnl("T")
    cash = 0
    yes = no = 0
    for side, price, count in trades:
        pnl.apply_fill(side, price, count, fee=0)
        if side == "bid":
            cash -= price * count
            yes += count
        else:
            cash -= (10_000 - price) * count
            no += count
    pairs = min(yes, no)
    cash += 10_000 * pairs
    yes, no = yes - pairs, no - pairs
    assert pnl.position == yes - no
    pnl.settle(result)
    cash += 10_000 * (yes if result == "yes" else no)
    assert pnl.realized == cash
    assert pnl.position == 0 and pnl.cost == 0


def test_round_trip_and_unrealized() -> None:
    pnl = MarketPnl("T")
    pnl.apply_fill("bid", 4000, 1000, fee=17000)  # buy 10 YES @ 0.40
    assert pnl.unrealized(5000) == 1_000_000  # worth $5.00, cost $4.00
    pnl.apply_fill("ask", 4500, 400, fee=7000)  # sell 4 YES @ 0.45
    assert pnl.realized == 200_000  # 4 x $0.05
    assert pnl.position == 600
    assert pnl.fees == 24000
    assert pnl.net_realized == 176_000
    pnl.apply_fill("ask", 3000, 1000, fee=0)  # sell 10 YES @ 0.30: closes 6, opens 4 NO @ 0.70
    assert pnl.position == -400
    assert pnl.cost == 4 * 7000 * 100
    assert pnl.realized == 200_000 - 600_000
