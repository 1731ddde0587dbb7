"""The rows of the history database, and their making from the venues' wire messages.

Every number is an integer at the wire's precision, never a float: Kalshi prices in 1e-4 $ (``Price``),
counts in 1e-2 contracts (``Count``); strikes, settlement values and BTC spot prices in cents; spot
volume in 1e-8 BTC. A wire value that does not fit its precision is a ``ProtocolError``: rounding it
would store a number the venue never sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from kxbtc.errors import ProtocolError
from kxbtc.kalshi.rest_messages import BidAskDistribution, Candlestick, Market, Trade, parse_rfc3339_ns
from kxbtc.units import UnitError, parse_count, parse_fixed, parse_price

NS_PER_S = 1_000_000_000


@dataclass(frozen=True, slots=True)
class MarketRow:
    ticker: str
    series_ticker: str
    event_ticker: str
    open_ts: int
    close_ts: int
    settled_ts: int | None
    status: str
    result: str
    strike_type: str | None
    floor_strike_cents: int | None
    cap_strike_cents: int | None
    #: The settlement value (``expiration_value``), in cents.
    expiration_value_cents: int | None
    volume: int | None
    #: 1 when the market came from the historical tier (its candles and trades are there too).
    archived: int


@dataclass(frozen=True, slots=True)
class CandleRow:
    ticker: str
    end_ts: int
    yes_bid_open: int | None
    yes_bid_low: int | None
    yes_bid_high: int | None
    yes_bid_close: int | None
    yes_ask_open: int | None
    yes_ask_low: int | None
    yes_ask_high: int | None
    yes_ask_close: int | None
    price_open: int | None
    price_low: int | None
    price_high: int | None
    price_close: int | None
    price_mean: int | None
    price_previous: int | None
    volume: int | None
    open_interest: int | None


@dataclass(frozen=True, slots=True)
class TradeRow:
    trade_id: str
    ticker: str
    created_ns: int
    yes_price: int
    no_price: int
    count: int
    taker_outcome_side: str | None
    is_block_trade: int | None


@dataclass(frozen=True, slots=True)
class SpotCandleRow:
    product: str
    start_ts: int
    low_cents: int
    high_cents: int
    open_cents: int
    close_cents: int
    #: Base-currency volume in 1e-8 units (satoshis for BTC).
    volume_e8: int


def _price(text: str | None, field: str) -> int | None:
    if text is None or text == "":
        return None
    try:
        return parse_price(text, field)
    except UnitError as exc:
        raise ProtocolError(str(exc)) from None


def _count(text: str | None, field: str) -> int | None:
    if text is None or text == "":
        return None
    try:
        return parse_count(text, field)
    except UnitError as exc:
        raise ProtocolError(str(exc)) from None


def exact_scaled(value: Decimal | str | int | float, decimals: int, field: str) -> int:
    """``value`` times 10**decimals as an exact integer. A float is read by its shortest repr (JSON
    numbers such as 100208.95 arrive as floats from generic decoders); any remainder is an error."""
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
        scaled = number.scaleb(decimals)
    except (InvalidOperation, ValueError):
        raise ProtocolError(f"{field}: {value!r} is not a number") from None
    if scaled != scaled.to_integral_value():
        raise ProtocolError(f"{field}: {value!r} has more than {decimals} decimal places")
    return int(scaled)


def _cents(value: Decimal | str | None, field: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            return parse_fixed(value, 2, field)
        except UnitError as exc:
            raise ProtocolError(str(exc)) from None
    return exact_scaled(value, 2, field)


def market_row(market: Market, series_ticker: str, *, archived: bool) -> MarketRow:
    settled = parse_rfc3339_ns(market.settlement_ts) // NS_PER_S if market.settlement_ts else None
    return MarketRow(
        ticker=market.ticker,
        series_ticker=series_ticker,
        event_ticker=market.event_ticker,
        open_ts=market.open_time_ns // NS_PER_S,
        close_ts=market.close_time_ns // NS_PER_S,
        settled_ts=settled,
        status=market.status,
        result=market.result,
        strike_type=market.strike_type,
        floor_strike_cents=_cents(market.floor_strike, "floor_strike"),
        cap_strike_cents=_cents(market.cap_strike, "cap_strike"),
        expiration_value_cents=_cents(market.expiration_value, "expiration_value"),
        volume=_count(market.volume_fp, "volume_fp"),
        archived=int(archived),
    )


Ohlc = tuple[int | None, int | None, int | None, int | None]


def _ohlc(side: BidAskDistribution | None, name: str) -> Ohlc:
    if side is None:
        return (None, None, None, None)
    return (
        _price(side.open_dollars, f"{name}.open_dollars"),
        _price(side.low_dollars, f"{name}.low_dollars"),
        _price(side.high_dollars, f"{name}.high_dollars"),
        _price(side.close_dollars, f"{name}.close_dollars"),
    )


def candle_row(ticker: str, candle: Candlestick) -> CandleRow:
    bid = _ohlc(candle.yes_bid, "yes_bid")
    ask = _ohlc(candle.yes_ask, "yes_ask")
    p = candle.price
    return CandleRow(
        ticker,
        candle.end_period_ts,
        *bid,
        *ask,
        price_open=_price(p.open_dollars, "price.open_dollars") if p else None,
        price_low=_price(p.low_dollars, "price.low_dollars") if p else None,
        price_high=_price(p.high_dollars, "price.high_dollars") if p else None,
        price_close=_price(p.close_dollars, "price.close_dollars") if p else None,
        price_mean=_price(p.mean_dollars, "price.mean_dollars") if p else None,
        price_previous=_price(p.previous_dollars, "price.previous_dollars") if p else None,
        volume=_count(candle.volume_fp, "volume_fp"),
        open_interest=_count(candle.open_interest_fp, "open_interest_fp"),
    )


def trade_row(trade: Trade) -> TradeRow:
    yes = _price(trade.yes_price_dollars, "yes_price_dollars")
    no = _price(trade.no_price_dollars, "no_price_dollars")
    count = _count(trade.count_fp, "count_fp")
    if yes is None or no is None or count is None:
        raise ProtocolError(f"trade {trade.trade_id}: price or count missing")
    return TradeRow(
        trade_id=trade.trade_id,
        ticker=trade.ticker,
        created_ns=parse_rfc3339_ns(trade.created_time),
        yes_price=yes,
        no_price=no,
        count=count,
        taker_outcome_side=trade.taker_outcome_side or trade.taker_side,
        is_block_trade=None if trade.is_block_trade is None else int(trade.is_block_trade),
    )
