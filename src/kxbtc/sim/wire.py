"""Exchange objects rendered as Kalshi's JSON, field for field as the 2026 wire recordings show them.

Decimal places are per field (errata item 3): prices and balances 4, costs/fees/exposures/P&L 6 (REST),
``average_fee_paid`` 4, counts 2. Times are RFC 3339 with trailing fractional zeros trimmed. Optional
fields are omitted when empty, never ``null``. Fields Kalshi has removed since the June recordings
(``liquidity_dollars``, ``fractional_trading_enabled``, ``response_price_units``, error ``service``) are
not emitted. Deprecated direction fields (``action``/``side``) are still sent, as Kalshi still sends them.

REST bodies: ``*_json``. WebSocket: ``*_msg`` give the ``msg`` object; the server adds type/sid/seq.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from kxbtc.clock import NS_PER_MS, NS_PER_S
from kxbtc.sim.accounts import Fill, Settlement, Trade
from kxbtc.sim.candles import Candle, Ohlc
from kxbtc.sim.events import (
    BookDelta,
    EventCreated,
    IndexTick,
    LifecycleEvent,
    PositionUpdate,
    TickerUpdate,
    TradeEvent,
)
from kxbtc.sim.exchange import (
    AmendResult,
    Balance,
    CancelResult,
    CreateResult,
    DecreaseResult,
    Exchange,
    ExchangeStatus,
    MarketPositionView,
    Orderbook,
    Page,
    PositionsPage,
    SimRejection,
    Transfer,
)
from kxbtc.sim.markets import Event, Market, Series
from kxbtc.sim.matching import Order
from kxbtc.units import PRICE_SCALE, format_count, format_fixed, format_money, format_price

T = TypeVar("T")
Json = dict[str, Any]

SETTLEMENT_SOURCES = [{"name": "CF Benchmarks", "url": "https://www.cfbenchmarks.com/data/indices/BRTI"}]


# ----------------------------------------------------------------------------------------------
# scalars


def rfc3339(t_ns: int) -> str:
    """``2026-06-11T06:29:20.866753Z``: microseconds with trailing zeros trimmed, no fraction if zero."""
    seconds, rem = divmod(t_ns, NS_PER_S)
    base = dt.datetime.fromtimestamp(seconds, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    micros = rem // 1000
    if micros == 0:
        return base + "Z"
    return f"{base}.{micros:06d}".rstrip("0") + "Z"


def money6(value: int) -> str:
    return format_money(value, 6)


def money4(value: int) -> str:
    """4 dp, rounding half away from zero when the amount has finer digits (only ever display)."""
    sign = -1 if value < 0 else 1
    return format_fixed(sign * ((abs(value) + 50) // 100), 4)


def strike_number(cents: int) -> float | int:
    """A strike as the JSON number Kalshi sends (``114999.99``, ``68000``)."""
    return cents // 100 if cents % 100 == 0 else cents / 100


def _direction(side: str) -> Json:
    # bid = buy YES; ask = sell YES (outcome NO), as the recorded order 19d9f274 echoes it.
    if side == "bid":
        return {"action": "buy", "side": "yes", "outcome_side": "yes", "book_side": "bid"}
    return {"action": "sell", "side": "yes", "outcome_side": "no", "book_side": "ask"}


def error_body(rejection: SimRejection) -> Json:
    """The nested error body of exchange rejections (``details`` only when there is one)."""
    inner: Json = {"code": rejection.code, "message": rejection.message}
    if rejection.details:
        inner["details"] = rejection.details
    return {"error": inner}


def flat_error(rejection: SimRejection) -> Json:
    """The flat ``ErrorResponse`` used inside batch items."""
    inner: Json = {"code": rejection.code, "message": rejection.message}
    if rejection.details:
        inner["details"] = rejection.details
    return inner


def page_json(key: str, page: Page[T], render: Callable[[T], Json]) -> Json:
    return {key: [render(item) for item in page.items], "cursor": page.cursor}


# ----------------------------------------------------------------------------------------------
# market data


def exchange_status_json(status: ExchangeStatus) -> Json:
    return {"exchange_active": status.exchange_active, "trading_active": status.trading_active}


def series_json(series: Series) -> Json:
    return {
        "ticker": series.ticker,
        "frequency": series.frequency,
        "title": series.title,
        "category": series.category,
        "tags": list(series.tags),
        "settlement_sources": SETTLEMENT_SOURCES,
        "contract_url": series.contract_url,
        "contract_terms_url": series.contract_terms_url,
        "fee_type": series.fees.fee_type,
        "fee_multiplier": float(series.fees.multiplier),
        "additional_prohibitions": [],
        "exchange_index": series.exchange_index,
    }


def event_json(event: Event, markets: Sequence[Json] | None = None) -> Json:
    body: Json = {
        "event_ticker": event.event_ticker,
        "series_ticker": event.series_ticker,
        "title": event.title,
        "sub_title": event.sub_title,
        "collateral_return_type": event.collateral_return_type,
        "mutually_exclusive": event.mutually_exclusive,
        "settlement_sources": SETTLEMENT_SOURCES,
        "strike_date": rfc3339(event.strike_ns),
        "exchange_index": event.exchange_index,
        "last_updated_ts": rfc3339(event.updated_ns),
    }
    if event.strike_period:
        body["strike_period"] = event.strike_period
    if markets is not None:
        body["markets"] = list(markets)
    return body


def market_json(exchange: Exchange, market: Market) -> Json:
    yes_bid, bid_size, yes_ask, ask_size = exchange.top_of_book(market.ticker)
    volume_24h = sum(c for t, c in market.recent_volume if t >= exchange.now_ns() - 86_400 * NS_PER_S)
    body: Json = {
        "ticker": market.ticker,
        "event_ticker": market.event_ticker,
        "market_type": "binary",
        "title": market.title,
        "yes_sub_title": market.yes_sub_title,
        "no_sub_title": market.no_sub_title,
        "created_time": rfc3339(market.created_ns),
        "updated_time": rfc3339(market.updated_ns),
        "open_time": rfc3339(market.open_ns),
        "close_time": rfc3339(market.close_ns),
        "expected_expiration_time": rfc3339(market.close_ns + market.settlement_timer_s * NS_PER_S),
        "expiration_time": rfc3339(market.close_ns),
        "latest_expiration_time": rfc3339(market.close_ns + 7 * 86_400 * NS_PER_S),
        "settlement_timer_seconds": market.settlement_timer_s,
        "status": market.status,
        "yes_bid_dollars": format_price(yes_bid),
        "yes_bid_size_fp": format_count(bid_size),
        "yes_ask_dollars": format_price(yes_ask),
        "yes_ask_size_fp": format_count(ask_size),
        "no_bid_dollars": format_price(PRICE_SCALE - yes_ask),
        "no_ask_dollars": format_price(PRICE_SCALE - yes_bid),
        "last_price_dollars": format_price(market.last_price),
        "previous_yes_bid_dollars": format_price(market.previous_yes_bid),
        "previous_yes_ask_dollars": format_price(market.previous_yes_ask),
        "previous_price_dollars": format_price(market.previous_price),
        "volume_fp": format_count(market.volume),
        "volume_24h_fp": format_count(volume_24h),
        "open_interest_fp": format_count(market.open_interest),
        "notional_value_dollars": "1.0000",
        "result": market.result,
        "can_close_early": False,
        "expiration_value": ""
        if market.settlement_value_cents is None
        else _dollars2(market.settlement_value_cents),
        "strike_type": market.strike_type,
        "rules_primary": market.rules_primary,
        "rules_secondary": market.rules_secondary,
        "price_level_structure": market.price_level_structure,
        "price_ranges": price_ranges_json(market),
        "exchange_index": market.exchange_index,
    }
    if market.floor_strike is not None:
        body["floor_strike"] = strike_number(market.floor_strike)
    if market.cap_strike is not None:
        body["cap_strike"] = strike_number(market.cap_strike)
    if market.result:
        body["settlement_value_dollars"] = "1.0000" if market.result == "yes" else "0.0000"
    if market.settled_ns is not None:
        body["settlement_ts"] = rfc3339(market.settled_ns)
    return body


def price_ranges_json(market: Market) -> list[Json]:
    return [
        {"start": format_price(r.start), "end": format_price(r.end), "step": format_price(r.step)}
        for r in market.grid.ranges
    ]


def _dollars2(cents: int) -> str:
    return format_fixed(cents, 2)


def orderbook_json(book: Orderbook) -> Json:
    return {
        "orderbook_fp": {
            "yes_dollars": [[format_price(p), format_count(c)] for p, c in book.yes],
            "no_dollars": [[format_price(p), format_count(c)] for p, c in book.no],
        }
    }


def trade_json(trade: Trade) -> Json:
    outcome = "yes" if trade.taker_side == "bid" else "no"
    return {
        "trade_id": trade.trade_id,
        "ticker": trade.ticker,
        "count_fp": format_count(trade.count),
        "yes_price_dollars": format_price(trade.price),
        "no_price_dollars": format_price(PRICE_SCALE - trade.price),
        "taker_outcome_side": outcome,
        "taker_book_side": trade.taker_side,
        "taker_side": outcome,
        "created_time": rfc3339(trade.ts_ns),
        "is_block_trade": False,
    }


def _ohlc(ohlc: Ohlc | None) -> Json | None:
    if ohlc is None:
        return None
    return {
        "open_dollars": format_price(ohlc.open),
        "low_dollars": format_price(ohlc.low),
        "high_dollars": format_price(ohlc.high),
        "close_dollars": format_price(ohlc.close),
    }


def candlestick_json(candle: Candle) -> Json:
    """One candle; ``price`` fields are null in periods without trades (as the spec marks them)."""
    price: Json = {k: None for k in ("open_dollars", "low_dollars", "high_dollars", "close_dollars")}
    price["mean_dollars"] = None
    if candle.price is not None:
        price.update(_ohlc(candle.price) or {})
        price["mean_dollars"] = format_price((2 * candle.price_sum + candle.volume) // (2 * candle.volume))
    price["previous_dollars"] = None if candle.previous_price is None else format_price(candle.previous_price)
    return {
        "end_period_ts": candle.end_ts,
        "yes_bid": _ohlc(candle.yes_bid),
        "yes_ask": _ohlc(candle.yes_ask),
        "price": price,
        "volume_fp": format_count(candle.volume),
        "open_interest_fp": format_count(candle.open_interest),
    }


def candlesticks_json(ticker: str, candles: Sequence[Candle]) -> Json:
    return {"ticker": ticker, "candlesticks": [candlestick_json(c) for c in candles]}


# ----------------------------------------------------------------------------------------------
# portfolio


def order_json(order: Order) -> Json:
    body: Json = {
        "order_id": order.order_id,
        "user_id": order.user_id,
        "ticker": order.ticker,
        **_direction(order.side),
        "type": "limit",
        "status": order.status,
        "yes_price_dollars": format_price(order.price),
        "no_price_dollars": format_price(PRICE_SCALE - order.price),
        "fill_count_fp": format_count(order.fill_count),
        "remaining_count_fp": format_count(order.remaining),
        "initial_count_fp": format_count(order.initial_count),
        "taker_fill_cost_dollars": money6(order.taker_fill_cost),
        "maker_fill_cost_dollars": money6(order.maker_fill_cost),
        "taker_fees_dollars": money6(order.taker_fees),
        "maker_fees_dollars": money6(order.maker_fees),
        "created_time": rfc3339(order.created_ns),
        "last_update_time": rfc3339(order.last_update_ns),
        "subaccount_number": order.subaccount,
        "exchange_index": order.exchange_index,
    }
    if order.client_order_id is not None:
        body["client_order_id"] = order.client_order_id
    if order.self_trade_prevention_type is not None:
        body["self_trade_prevention_type"] = order.self_trade_prevention_type
    if order.expiration_ts is not None:
        body["expiration_time"] = rfc3339(order.expiration_ts * NS_PER_S)
    if order.order_group_id is not None:
        body["order_group_id"] = order.order_group_id
    if order.cancel_order_on_pause:
        body["cancel_order_on_pause"] = True
    return body


def fill_json(fill: Fill) -> Json:
    return {
        "fill_id": fill.fill_id,
        "trade_id": fill.fill_id,
        "order_id": fill.order_id,
        "ticker": fill.ticker,
        "market_ticker": fill.ticker,
        **_direction(fill.side),
        "count_fp": format_count(fill.count),
        "yes_price_dollars": format_price(fill.price),
        "no_price_dollars": format_price(PRICE_SCALE - fill.price),
        "is_taker": fill.is_taker,
        "fee_cost": money6(fill.fee),
        "created_time": rfc3339(fill.ts_ns),
        "ts": fill.ts_ns // NS_PER_S,
        "subaccount_number": fill.subaccount,
        "exchange_index": fill.exchange_index,
    }


def market_position_json(view: MarketPositionView) -> Json:
    s = view.state
    return {
        "ticker": s.ticker,
        "exchange_index": s.exchange_index,
        "position_fp": format_count(s.position),
        "total_traded_dollars": money6(s.total_traded),
        "market_exposure_dollars": money6(s.cost),
        "realized_pnl_dollars": money6(s.realized_pnl),
        "fees_paid_dollars": money6(s.fees_paid),
        "resting_orders_count": view.resting_orders_count,
        "last_updated_ts": rfc3339(s.last_updated_ns),
    }


def positions_json(page: PositionsPage) -> Json:
    return {
        "market_positions": [market_position_json(v) for v in page.market_positions],
        "event_positions": [
            {
                "event_ticker": e.event_ticker,
                "total_cost_dollars": money6(e.total_cost),
                "total_cost_shares_fp": format_count(e.total_cost_shares),
                "event_exposure_dollars": money6(e.event_exposure),
                "realized_pnl_dollars": money6(e.realized_pnl),
                "fees_paid_dollars": money6(e.fees_paid),
            }
            for e in page.event_positions
        ],
        "cursor": page.cursor,
    }


def settlement_json(settlement: Settlement) -> Json:
    body: Json = {
        "ticker": settlement.ticker,
        "event_ticker": settlement.event_ticker,
        "exchange_index": settlement.exchange_index,
        "market_result": settlement.market_result,
        "yes_count_fp": format_count(settlement.yes_count),
        "yes_total_cost_dollars": money6(settlement.yes_total_cost),
        "no_count_fp": format_count(settlement.no_count),
        "no_total_cost_dollars": money6(settlement.no_total_cost),
        "revenue": settlement.revenue // 10_000,
        "settled_time": rfc3339(settlement.settled_ns),
        # The spec's example is 4 dp ("0.3400"); fees move in $0.0001 steps, so nothing is lost.
        "fee_cost": money4(settlement.fee_cost),
    }
    if settlement.value_cents is not None:
        body["value"] = settlement.value_cents
    return body


def balance_json(balance: Balance) -> Json:
    shards = [s for s, v in sorted(balance.by_shard.items()) if v] or [min(balance.by_shard)]
    return {
        "balance": balance.available // 10_000,
        "balance_dollars": format_money(balance.available, 4),
        "balance_breakdown": [
            {"exchange_index": s, "balance": format_money(balance.by_shard[s], 4)} for s in shards
        ],
        "portfolio_value": balance.portfolio_value_cents,
        "updated_ts": balance.updated_ts,
    }


def transfer_json(transfer: Transfer) -> Json:
    return {
        "transfer_id": transfer.transfer_id,
        "source": "event_contract",
        "destination": "event_contract",
        "source_exchange_shard": transfer.source_shard,
        "destination_exchange_shard": transfer.destination_shard,
        "amount": money4(transfer.amount),
        "status": transfer.status,
        "created_time": rfc3339(transfer.created_ns),
    }


# ----------------------------------------------------------------------------------------------
# order entry responses


def create_response_json(result: CreateResult) -> Json:
    body: Json = {"order_id": result.order.order_id}
    if result.order.client_order_id is not None:
        body["client_order_id"] = result.order.client_order_id
    body["fill_count"] = format_count(result.fill_count)
    body["remaining_count"] = format_count(result.remaining_count)
    if result.average_fill_price is not None:
        body["average_fill_price"] = format_price(result.average_fill_price)
    if result.average_fee_paid is not None:
        body["average_fee_paid"] = format_price(result.average_fee_paid)
    body["ts_ms"] = result.ts_ms
    return body


def cancel_response_json(result: CancelResult) -> Json:
    # The recorded V2 cancel omits client_order_id even when the order has one (errata Part 1 §2).
    return {
        "order_id": result.order.order_id,
        "reduced_by": format_count(result.reduced_by),
        "ts_ms": result.ts_ms,
    }


def amend_response_json(result: AmendResult) -> Json:
    body: Json = {"order_id": result.order.order_id}
    if result.order.client_order_id is not None:
        body["client_order_id"] = result.order.client_order_id
    body["fill_count"] = format_count(result.fill_count)
    body["remaining_count"] = format_count(result.remaining_count)
    if result.average_fill_price is not None:
        body["average_fill_price"] = format_price(result.average_fill_price)
    if result.average_fee_paid is not None:
        body["average_fee_paid"] = format_price(result.average_fee_paid)
    body["ts_ms"] = result.ts_ms
    return body


def decrease_response_json(result: DecreaseResult) -> Json:
    body: Json = {"order_id": result.order.order_id}
    if result.order.client_order_id is not None:
        body["client_order_id"] = result.order.client_order_id
    body["remaining_count"] = format_count(result.remaining_count)
    body["ts_ms"] = result.ts_ms
    return body


def batch_create_json(
    results: Sequence[CreateResult | SimRejection], client_ids: Sequence[str | None]
) -> Json:
    items: list[Json] = []
    for result, client_id in zip(results, client_ids, strict=True):
        if isinstance(result, SimRejection):
            item: Json = {"error": flat_error(result)}
            if client_id is not None:
                item["client_order_id"] = client_id
            items.append(item)
        else:
            items.append(create_response_json(result))
    return {"orders": items}


def batch_cancel_json(results: Sequence[CancelResult | SimRejection], order_ids: Sequence[str]) -> Json:
    items: list[Json] = []
    for result, order_id in zip(results, order_ids, strict=True):
        if isinstance(result, SimRejection):
            items.append({"order_id": order_id, "reduced_by": "0.00", "error": flat_error(result)})
        else:
            items.append(cancel_response_json(result))
    return {"orders": items}


def legacy_cancel_json(result: CancelResult) -> Json:
    return {"order": order_json(result.order), "reduced_by_fp": format_count(result.reduced_by)}


# ----------------------------------------------------------------------------------------------
# WebSocket message bodies


def orderbook_snapshot_msg(exchange: Exchange, ticker: str, use_yes_price: bool) -> Json:
    """Snapshot body; a side key is absent when that side is empty. Levels ascending by shown price."""
    market = exchange.markets[ticker]
    book = exchange.books[ticker]
    body: Json = {"market_ticker": ticker, "market_id": market.market_id}
    yes = sorted(book.levels("bid"))
    if yes:
        body["yes_dollars_fp"] = [[format_price(p), format_count(c)] for p, c in yes]
    asks = book.levels("ask")
    no = sorted((p if use_yes_price else PRICE_SCALE - p, c) for p, c in asks)
    if no:
        body["no_dollars_fp"] = [[format_price(p), format_count(c)] for p, c in no]
    return body


def orderbook_delta_msg(delta: BookDelta, use_yes_price: bool, for_user_id: str | None) -> Json:
    """Delta body; ``client_order_id``/``subaccount`` appear only for the user whose order changed."""
    body: Json = {
        "market_ticker": delta.ticker,
        "market_id": delta.market_id,
        "price_dollars": format_price(delta.price_for(use_yes_price)),
        "delta_fp": format_count(delta.delta),
        "side": delta.side,
        "ts": rfc3339(delta.ts_ns),
        "ts_ms": delta.ts_ns // NS_PER_MS,
    }
    if for_user_id is not None and for_user_id == delta.user_id:
        if delta.client_order_id is not None:
            body["client_order_id"] = delta.client_order_id
        if delta.subaccount:
            body["subaccount"] = delta.subaccount
    return body


def ticker_msg(update: TickerUpdate) -> Json:
    m = update.market
    return {
        "market_ticker": m.ticker,
        "market_id": m.market_id,
        "price_dollars": format_price(m.last_price),
        "yes_bid_dollars": format_price(update.yes_bid),
        "yes_ask_dollars": format_price(update.yes_ask),
        "yes_bid_size_fp": format_count(update.yes_bid_size),
        "yes_ask_size_fp": format_count(update.yes_ask_size),
        "last_trade_size_fp": format_count(update.last_trade_size),
        "volume_fp": format_count(m.volume),
        "open_interest_fp": format_count(m.open_interest),
        "dollar_volume": m.volume // 100,
        "dollar_open_interest": m.open_interest // 100,
        "ts": update.ts_ns // NS_PER_S,
        "ts_ms": update.ts_ns // NS_PER_MS,
        "time": rfc3339(update.ts_ns // NS_PER_S * NS_PER_S),
    }


def trade_msg(event: TradeEvent) -> Json:
    t = event.trade
    outcome = "yes" if t.taker_side == "bid" else "no"
    return {
        "trade_id": t.trade_id,
        "market_ticker": t.ticker,
        "yes_price_dollars": format_price(t.price),
        "no_price_dollars": format_price(PRICE_SCALE - t.price),
        "count_fp": format_count(t.count),
        "taker_side": outcome,
        "taker_outcome_side": outcome,
        "taker_book_side": t.taker_side,
        "is_block_trade": False,
        "ts": t.ts_ns // NS_PER_S,
        "ts_ms": t.ts_ns // NS_PER_MS,
    }


def fill_msg(fill: Fill) -> Json:
    direction = _direction(fill.side)
    body: Json = {
        "trade_id": fill.fill_id,
        "order_id": fill.order_id,
        "market_ticker": fill.ticker,
        "exchange_index": fill.exchange_index,
        "is_taker": fill.is_taker,
        **direction,
        "purchased_side": direction["outcome_side"],
        "yes_price_dollars": format_price(fill.price),
        "count_fp": format_count(fill.count),
        "fee_cost": money6(fill.fee),
        "post_position_fp": format_count(fill.post_position),
        "ts": fill.ts_ns // NS_PER_S,
        "ts_ms": fill.ts_ns // NS_PER_MS,
    }
    if fill.client_order_id is not None:
        body["client_order_id"] = fill.client_order_id
    if fill.subaccount:
        body["subaccount"] = fill.subaccount
    return body


def user_order_msg(order: Order) -> Json:
    """``user_order`` body. The spec documents its money fields at 4 dp (errata WS item 13)."""
    direction = _direction(order.side)
    body: Json = {
        "order_id": order.order_id,
        "user_id": order.user_id,
        "ticker": order.ticker,
        "status": order.status,
        "outcome_side": direction["outcome_side"],
        "book_side": order.side,
        "side": "yes",
        "is_yes": order.side == "bid",
        "yes_price_dollars": format_price(order.price),
        "fill_count_fp": format_count(order.fill_count),
        "remaining_count_fp": format_count(order.remaining),
        "initial_count_fp": format_count(order.initial_count),
        "taker_fill_cost_dollars": money4(order.taker_fill_cost),
        "maker_fill_cost_dollars": money4(order.maker_fill_cost),
        "taker_fees_dollars": money4(order.taker_fees),
        "maker_fees_dollars": money4(order.maker_fees),
        "client_order_id": order.client_order_id or "",
        "created_time": rfc3339(order.created_ns),
        "created_ts_ms": order.created_ns // NS_PER_MS,
        "last_update_time": rfc3339(order.last_update_ns),
        "last_updated_ts_ms": order.last_update_ns // NS_PER_MS,
        "subaccount_number": order.subaccount,
        "exchange_index": order.exchange_index,
    }
    if order.expiration_ts is not None:
        body["expiration_time"] = rfc3339(order.expiration_ts * NS_PER_S)
        body["expiration_ts_ms"] = order.expiration_ts * 1000
    if order.self_trade_prevention_type is not None:
        body["self_trade_prevention_type"] = order.self_trade_prevention_type
    if order.order_group_id is not None:
        body["order_group_id"] = order.order_group_id
    if order.last_update_reason is not None:
        body["last_update_reason"] = order.last_update_reason
    return body


def market_position_msg(update: PositionUpdate) -> Json:
    s = update.position
    body: Json = {
        "user_id": update.user_id,
        "market_ticker": s.ticker,
        "position_fp": format_count(s.position),
        "position_cost_dollars": money6(s.cost),
        "realized_pnl_dollars": money6(s.realized_pnl),
        "fees_paid_dollars": money6(s.fees_paid),
        # Fees attributable to the open position are not tracked apart from all fees paid in the market.
        "position_fee_cost_dollars": money6(s.fees_paid),
        "volume_fp": format_count(s.volume),
    }
    if update.subaccount:
        body["subaccount"] = update.subaccount
    return body


def lifecycle_msg(event: LifecycleEvent) -> Json:
    m = event.market
    body: Json = {"event_type": event.event_type, "market_ticker": m.ticker}
    if event.event_type == "created":
        metadata: Json = {
            "name": m.title,
            "title": m.title,
            "yes_sub_title": m.yes_sub_title,
            "no_sub_title": m.no_sub_title,
            "rules_primary": m.rules_primary,
            "rules_secondary": m.rules_secondary,
            "can_close_early": False,
            "event_ticker": m.event_ticker,
            "expected_expiration_ts": m.close_ns // NS_PER_S + m.settlement_timer_s,
            "strike_type": m.strike_type,
        }
        if m.floor_strike is not None:
            metadata["floor_strike"] = strike_number(m.floor_strike)
        if m.cap_strike is not None:
            metadata["cap_strike"] = strike_number(m.cap_strike)
        body.update(
            exchange_index=m.exchange_index,
            open_ts=m.open_ns // NS_PER_S,
            close_ts=m.close_ns // NS_PER_S,
            price_level_structure=m.price_level_structure,
            price_ranges=price_ranges_json(m),
            additional_metadata=metadata,
        )
    elif event.event_type == "determined":
        body.update(
            result=m.result,
            determination_ts=(m.determined_ns or event.ts_ns) // NS_PER_S,
            settlement_value="1.0000" if m.result == "yes" else "0.0000",
        )
    elif event.event_type == "settled":
        body["settled_ts"] = (m.settled_ns or event.ts_ns) // NS_PER_S
    elif event.event_type == "metadata_updated":
        body["strike_type"] = m.strike_type
        body["yes_sub_title"] = m.yes_sub_title
        if m.floor_strike is not None:
            body["floor_strike"] = strike_number(m.floor_strike)
        if m.cap_strike is not None:
            body["cap_strike"] = strike_number(m.cap_strike)
    elif event.event_type in ("activated", "deactivated"):
        body["is_deactivated"] = event.event_type == "deactivated"
    elif event.event_type == "close_date_updated":
        body["close_ts"] = m.close_ns // NS_PER_S
    return body


def event_lifecycle_msg(event: EventCreated) -> Json:
    e = event.event
    body: Json = {
        "event_ticker": e.event_ticker,
        "exchange_index": e.exchange_index,
        "title": e.title,
        "subtitle": e.sub_title,
        "collateral_return_type": e.collateral_return_type,
        "series_ticker": e.series_ticker,
        "strike_date": e.strike_ns // NS_PER_S,
    }
    if e.strike_period:
        body["strike_period"] = e.strike_period
    return body


def _avg8(sum_cents: int, size: int) -> str:
    """An average of cent values with 8 decimals, as the cfbenchmarks channel writes it."""
    return format_fixed((2 * sum_cents * 1_000_000 + size) // (2 * size), 8)


def cfbenchmarks_msg(tick: IndexTick, index_id: str = "BRTI") -> Json:
    ts_ms = tick.ts_ns // NS_PER_MS
    value = _dollars2(tick.value_cents)
    raw = json.dumps({"type": "value", "id": index_id, "time": ts_ms, "value": value}, separators=(",", ":"))
    if tick.trailing_size:
        trailing = _avg8(tick.trailing_sum_cents, tick.trailing_size)
    else:
        trailing = _avg8(tick.value_cents, 1)  # no prior tick: falls back to the current value
    body: Json = {
        "index_id": index_id,
        "received_at": ts_ms,
        "data": raw,
        "avg_60s_data": {
            "value": trailing,
            "window_size": tick.trailing_size,
            "window_start_ts_ms": ts_ms - 60_000,
            "window_end_ts_exclusive": ts_ms,
        },
    }
    if tick.window_size:
        close_ms = tick.window_close_ns // NS_PER_MS
        body["last_60s_windowed_average_15min"] = {
            "value": _avg8(tick.window_sum_cents, tick.window_size),
            "window_size": tick.window_size,
            "window_start_ts_ms": close_ms - 60_000,
            "window_end_ts_exclusive": close_ms + 1,
        }
    return body
