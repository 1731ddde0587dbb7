"""The simulator's JSON renderings against the recorded wire shapes and the WS spec's required fields."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kxbtc.clock import NS_PER_S, ManualClock
from kxbtc.sim import wire
from kxbtc.sim.events import BookDelta, FillEvent, OrderUpdate, PositionUpdate, TickerUpdate, TradeEvent
from kxbtc.sim.exchange import Exchange
from kxbtc.units import parse_count, parse_price

START_S = 1_781_159_000


@pytest.fixture
def ex() -> Exchange:
    return Exchange(ManualClock(START_S * NS_PER_S), seed=3, counterparties=False)


def _hourly(ex: Exchange) -> str:
    return next(m.ticker for m in ex.markets.values() if m.series_ticker == "KXBTCD" and m.status == "active")


def _place(ex: Exchange, user: str, ticker: str, side: str, price: str, count: str, **kw: object) -> None:
    ex.create_order(
        user,
        ticker=ticker,
        side=side,
        price=parse_price(price),
        count=parse_count(count),
        time_in_force=str(kw.pop("tif", "good_till_canceled")),
        self_trade_prevention_type="taker_at_cross",
        **kw,  # type: ignore[arg-type]
    )


def test_rfc3339_trims_fractional_zeros() -> None:
    assert wire.rfc3339(1_781_159_360_866_753_000) == "2026-06-11T06:29:20.866753Z"
    assert wire.rfc3339(1_781_154_771_285_630_000) == "2026-06-11T05:12:51.28563Z"
    assert wire.rfc3339(1_781_154_769 * NS_PER_S) == "2026-06-11T05:12:49Z"


def test_rest_orderbook_matches_the_recording(ex: Exchange, fixtures_dir: Path) -> None:
    t = _hourly(ex)
    _place(ex, ex.ensure_user("a"), t, "bid", "0.47", "3")
    _place(ex, ex.ensure_user("b"), t, "ask", "0.52", "3")
    recorded = json.loads((fixtures_dir / "orderbook__base.json").read_text())
    assert wire.orderbook_json(ex.orderbook(t)) == recorded
    market = wire.market_json(ex, ex.market(t))
    assert (market["yes_bid_dollars"], market["yes_ask_dollars"]) == ("0.4700", "0.5200")
    assert (market["no_bid_dollars"], market["no_ask_dollars"]) == ("0.4800", "0.5300")


def test_market_json_has_the_recorded_fields(ex: Exchange, fixtures_dir: Path) -> None:
    recorded = json.loads((fixtures_dir / "markets__single.json").read_text())["market"]
    body = wire.market_json(ex, ex.market(_hourly(ex)))
    removed = {
        "liquidity_dollars",
        "fractional_trading_enabled",
        "response_price_units",
    }  # gone since the recording
    not_btc = {"custom_strike", "early_close_condition", "occurrence_datetime"}  # sports-market fields
    assert recorded.keys() - body.keys() == removed | not_btc
    assert body.keys() - recorded.keys() == {"floor_strike", "exchange_index"}
    assert isinstance(body["floor_strike"], float) and body["settlement_timer_seconds"] == 60


def test_positions_json_has_the_recorded_fields(ex: Exchange, fixtures_dir: Path) -> None:
    t = _hourly(ex)
    a, b = ex.ensure_user("a"), ex.ensure_user("b")
    _place(ex, b, t, "ask", "0.52", "3")
    _place(ex, a, t, "bid", "0.99", "3", tif="immediate_or_cancel")
    body = wire.positions_json(ex.positions_page(a))
    recorded = json.loads((fixtures_dir / "portfolio__positions.json").read_text())
    assert body.keys() == recorded.keys()
    assert body["market_positions"][0].keys() - {"exchange_index"} == recorded["market_positions"][0].keys()
    assert body["event_positions"][0].keys() == recorded["event_positions"][0].keys()
    row = body["market_positions"][0]
    assert (row["position_fp"], row["market_exposure_dollars"], row["total_traded_dollars"]) == (
        "3.00",
        "1.560000",
        "1.560000",
    )
    assert row["fees_paid_dollars"] == "0.052500"  # 0.07 x 3 x 0.52 x 0.48 = 0.052416 -> 0.0525


def test_ws_bodies_carry_the_spec_required_fields(ex: Exchange) -> None:
    t = _hourly(ex)
    queue = ex.subscribe()
    a, b = ex.ensure_user("a"), ex.ensure_user("b")
    _place(ex, b, t, "ask", "0.52", "3", client_order_id="maker-1")
    _place(ex, a, t, "bid", "0.52", "1", tif="immediate_or_cancel", client_order_id="taker-1")
    events = queue.drain()

    fills = [e for e in events if isinstance(e, FillEvent)]
    assert {e.fill.user_id for e in fills} == {a, b}
    fill = wire.fill_msg(next(e.fill for e in fills if e.fill.user_id == a))
    assert {
        "trade_id",
        "order_id",
        "market_ticker",
        "exchange_index",
        "is_taker",
        "side",
        "yes_price_dollars",
        "count_fp",
        "fee_cost",
        "action",
        "outcome_side",
        "book_side",
        "ts",
        "ts_ms",
        "post_position_fp",
        "purchased_side",
    } <= fill.keys()
    assert (fill["post_position_fp"], fill["fee_cost"], fill["client_order_id"]) == (
        "1.00",
        "0.017500",
        "taker-1",
    )

    trade = wire.trade_msg(next(e for e in events if isinstance(e, TradeEvent)))
    assert (trade["taker_book_side"], trade["taker_outcome_side"], trade["yes_price_dollars"]) == (
        "bid",
        "yes",
        "0.5200",
    )

    order = wire.user_order_msg(
        next(e.order for e in events if isinstance(e, OrderUpdate) and e.order.user_id == a)
    )
    assert {
        "order_id",
        "user_id",
        "ticker",
        "status",
        "outcome_side",
        "book_side",
        "side",
        "is_yes",
        "yes_price_dollars",
        "fill_count_fp",
        "remaining_count_fp",
        "initial_count_fp",
        "taker_fill_cost_dollars",
        "maker_fill_cost_dollars",
        "taker_fees_dollars",
        "maker_fees_dollars",
        "client_order_id",
        "created_time",
        "created_ts_ms",
    } <= order.keys()
    assert order["status"] == "executed" and order["taker_fees_dollars"] == "0.0175"

    position = wire.market_position_msg(
        next(e for e in events if isinstance(e, PositionUpdate) and e.user_id == a)
    )
    assert position["position_fp"] == "1.00" and position["position_cost_dollars"] == "0.520000"

    ticker = wire.ticker_msg([e for e in events if isinstance(e, TickerUpdate)][-1])
    assert (ticker["yes_ask_dollars"], ticker["yes_ask_size_fp"], ticker["volume_fp"]) == (
        "0.5200",
        "2.00",
        "1.00",
    )


def test_book_deltas_on_both_price_scales_and_owner_only_client_ids(ex: Exchange) -> None:
    t = _hourly(ex)
    queue = ex.subscribe()
    owner = ex.ensure_user("owner")
    _place(ex, owner, t, "ask", "0.52", "2", client_order_id="mine")
    delta = next(e for e in queue.drain() if isinstance(e, BookDelta))
    yes_scale = wire.orderbook_delta_msg(delta, use_yes_price=True, for_user_id=owner)
    no_scale = wire.orderbook_delta_msg(delta, use_yes_price=False, for_user_id="someone-else")
    assert (yes_scale["side"], yes_scale["price_dollars"], yes_scale["delta_fp"]) == ("no", "0.5200", "2.00")
    assert (no_scale["side"], no_scale["price_dollars"]) == ("no", "0.4800")
    assert yes_scale["client_order_id"] == "mine" and "client_order_id" not in no_scale
    assert yes_scale["ts_ms"] == START_S * 1000 and yes_scale["ts"].startswith("2026-06-11T")

    snap_yes = wire.orderbook_snapshot_msg(ex, t, use_yes_price=True)
    snap_no = wire.orderbook_snapshot_msg(ex, t, use_yes_price=False)
    assert "yes_dollars_fp" not in snap_yes  # an empty side is absent
    assert snap_yes["no_dollars_fp"] == [["0.5200", "2.00"]] and snap_no["no_dollars_fp"] == [
        ["0.4800", "2.00"]
    ]
