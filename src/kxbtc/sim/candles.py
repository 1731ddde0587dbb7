"""Candlesticks of the simulated markets: OHLC of the top of book and of trade prices per period."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Ohlc:
    open: int
    high: int
    low: int
    close: int

    @staticmethod
    def of(value: int) -> Ohlc:
        return Ohlc(value, value, value, value)

    def add(self, value: int) -> None:
        self.high = max(self.high, value)
        self.low = min(self.low, value)
        self.close = value

    def merge(self, later: Ohlc) -> None:
        self.high = max(self.high, later.high)
        self.low = min(self.low, later.low)
        self.close = later.close


@dataclass(slots=True)
class Candle:
    """One period of a market: top of book sampled each second, trade prices, volume, open interest."""

    end_ts: int  # Unix seconds, the period's end
    yes_bid: Ohlc | None = None
    yes_ask: Ohlc | None = None
    price: Ohlc | None = None
    price_sum: int = 0  # sum of trade prices x counts, for the volume-weighted mean
    volume: int = 0
    open_interest: int = 0
    previous_price: int | None = None  # last trade price before the period

    def merge(self, later: Candle) -> None:
        for name in ("yes_bid", "yes_ask", "price"):
            mine, theirs = getattr(self, name), getattr(later, name)
            if theirs is None:
                continue
            if mine is None:
                setattr(self, name, Ohlc(theirs.open, theirs.high, theirs.low, theirs.close))
            else:
                mine.merge(theirs)
        self.price_sum += later.price_sum
        self.volume += later.volume
        self.open_interest = later.open_interest
        self.end_ts = later.end_ts
