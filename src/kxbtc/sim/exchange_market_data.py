"""Public market data of the simulated exchange: status, series, markets, events, books, trades and
candlesticks (sampled once a second from the top of book). Reads only, except for the candle records."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypedDict

from kxbtc.clock import NS_PER_S
from kxbtc.sim.accounts import Trade
from kxbtc.sim.candles import Candle, Ohlc
from kxbtc.sim.exchange_results import ExchangeStatus, Orderbook, invalid, not_found
from kxbtc.sim.exchange_state import ExchangeState
from kxbtc.sim.history_tier import Tier, cutoff_ns, market_in_tier, trade_in_tier
from kxbtc.sim.markets import STATUS_FILTERS, Event, Market, Series
from kxbtc.sim.paging import Page, in_window, paginate
from kxbtc.units import PRICE_SCALE, Count, Price


class MarketsQuery(TypedDict, total=False):
    """``markets_page``'s keyword arguments (the facade passes them through; defaults there)."""

    event_ticker: str | None
    series_ticker: str | None
    tickers: Iterable[str] | None
    status: str | None
    min_close_ts: int | None
    max_close_ts: int | None
    min_settled_ts: int | None
    max_settled_ts: int | None
    tier: Tier
    cursor: str
    limit: int


class MarketData:
    """Public market-data reads over the exchange's state; the facade brings the exchange up to the clock
    before each."""

    def __init__(self, state: ExchangeState) -> None:
        self.state = state

    def exchange_status(self) -> ExchangeStatus:
        return ExchangeStatus(self.state.exchange_active, self.state.trading_active)

    def series(self, series_ticker: str) -> Series:
        series = self.state.series_by_ticker.get(series_ticker)
        if series is None:
            raise not_found()
        return series

    def series_list(self) -> list[Series]:
        return list(self.state.series_by_ticker.values())

    def market(self, ticker: str) -> Market:
        market = self.state.markets.get(ticker)
        if market is None:
            raise not_found()
        return market

    def markets_page(
        self,
        *,
        event_ticker: str | None = None,
        series_ticker: str | None = None,
        tickers: Iterable[str] | None = None,
        status: str | None = None,
        min_close_ts: int | None = None,
        max_close_ts: int | None = None,
        min_settled_ts: int | None = None,
        max_settled_ts: int | None = None,
        tier: Tier = None,
        cursor: str = "",
        limit: int = 100,
    ) -> Page[Market]:
        """``GET /markets``: newest first; ``status`` is the REST filter (unopened|open|closed|settled).
        ``tier`` keeps the markets of the live or the historical tier only (``kxbtc.sim.history_tier``)."""
        wanted = set(tickers) if tickers else None
        statuses = STATUS_FILTERS.get(status) if status else None
        cutoff = cutoff_ns(self.state)

        def keep(m: Market) -> bool:
            return (
                (event_ticker is None or m.event_ticker == event_ticker)
                and (series_ticker is None or m.series_ticker == series_ticker)
                and (wanted is None or m.ticker in wanted)
                and (statuses is None or m.status in statuses)
                and (min_close_ts is None or m.close_ns >= min_close_ts * NS_PER_S)
                and (max_close_ts is None or m.close_ns <= max_close_ts * NS_PER_S)
                and (min_settled_ts is None or (m.settled_ns or 0) >= min_settled_ts * NS_PER_S)
                and (max_settled_ts is None or (m.settled_ns or 0) <= max_settled_ts * NS_PER_S)
                and market_in_tier(m.settled_ns, cutoff, tier)
            )

        return paginate([m for m in self.state.markets.values() if keep(m)], lambda m: m.seq, cursor, limit)

    def event(self, event_ticker: str) -> tuple[Event, list[Market]]:
        event = self.state.events_by_ticker.get(event_ticker)
        if event is None:
            raise not_found()
        return event, [self.state.markets[t] for t in event.market_tickers if t in self.state.markets]

    def events_page(
        self,
        *,
        series_ticker: str | None = None,
        status: str | None = None,
        cursor: str = "",
        limit: int = 200,
    ) -> Page[Event]:
        """``GET /events``: an event matches ``status`` when any of its markets does."""
        statuses = STATUS_FILTERS.get(status) if status else None

        def keep(e: Event) -> bool:
            if series_ticker is not None and e.series_ticker != series_ticker:
                return False
            if statuses is None:
                return True
            return any(
                self.state.markets[t].status in statuses for t in e.market_tickers if t in self.state.markets
            )

        return paginate(
            [e for e in self.state.events_by_ticker.values() if keep(e)], lambda e: e.seq, cursor, limit
        )

    def orderbook(self, ticker: str, depth: int = 0) -> Orderbook:
        """REST book: YES bids, NO bids at NO-leg prices; ``depth`` 0 = all levels, else the N best."""
        market = self.market(ticker)
        book = self.state.books[market.ticker]
        yes = book.levels("bid")
        no = [(Price(PRICE_SCALE - p), c) for p, c in book.levels("ask")]
        if depth > 0:
            yes, no = yes[:depth], no[:depth]
        if self.state.config.orderbook_ascending:
            yes.reverse()
            no.reverse()
        return Orderbook(yes, no)

    def top_of_book(self, ticker: str) -> tuple[Price, Count, Price, Count]:
        """(yes_bid, size, yes_ask, size); an empty bid is 0 and an empty ask 1.0000."""
        book = self.state.books[ticker]
        bid, ask = book.best_bid(), book.best_ask()
        return (
            Price(0) if bid is None else bid,
            Count(0) if bid is None else book.size_at("bid", bid),
            Price(PRICE_SCALE) if ask is None else ask,
            Count(0) if ask is None else book.size_at("ask", ask),
        )

    def trades_page(
        self,
        *,
        ticker: str | None = None,
        min_ts: int | None = None,
        max_ts: int | None = None,
        tier: Tier = None,
        cursor: str = "",
        limit: int = 100,
    ) -> Page[Trade]:
        """``GET /markets/trades``: newest first; ``tier`` as in ``markets_page``."""
        cutoff = cutoff_ns(self.state)
        if ticker is not None:
            source: Iterable[Trade] = self.state.trades.get(ticker, [])
        else:
            source = (t for ts in self.state.trades.values() for t in ts)
        items = [
            t for t in source if in_window(t.ts_ns, min_ts, max_ts) and trade_in_tier(t.ts_ns, cutoff, tier)
        ]
        return paginate(items, lambda t: t.seq, cursor, limit)

    def candle(self, ticker: str, second: int) -> Candle:
        end = -(-second // 60) * 60
        per_market = self.state.candles.setdefault(ticker, {})
        candle = per_market.get(end)
        if candle is None:
            candle = per_market[end] = Candle(end)
        return candle

    def sample_candles(self, s: int) -> None:
        for market in self.state.markets.values():
            if market.status != "active":
                continue
            bid, _, ask, _ = self.top_of_book(market.ticker)
            candle = self.candle(market.ticker, s)
            if candle.yes_bid is None or candle.yes_ask is None:
                candle.yes_bid, candle.yes_ask = Ohlc.of(bid), Ohlc.of(ask)
            else:
                candle.yes_bid.add(bid)
                candle.yes_ask.add(ask)
            candle.open_interest = market.open_interest

    def candlesticks(self, ticker: str, *, start_ts: int, end_ts: int, period_interval: int) -> list[Candle]:
        """Candles of ``period_interval`` minutes (1, 60 or 1440) ending in ``[start_ts, end_ts]`` (seconds).
        ``price`` is None for periods without trades; ``previous_price`` is the last trade price before."""
        self.market(ticker)
        if period_interval not in (1, 60, 1440):
            raise invalid("invalid_parameters", "invalid parameters", "period_interval must be 1, 60 or 1440")
        span = period_interval * 60
        periods: dict[int, Candle] = {}
        last_price: int | None = None
        for end, minute in sorted(self.state.candles.get(ticker, {}).items()):
            period_end = -(-end // span) * span
            if period_end > end_ts:
                break
            if period_end >= start_ts:
                candle = periods.get(period_end)
                if candle is None:
                    candle = periods[period_end] = Candle(period_end, previous_price=last_price)
                candle.merge(minute)
                candle.end_ts = period_end
            if minute.price is not None:
                last_price = minute.price.close
        return [periods[k] for k in sorted(periods)]
