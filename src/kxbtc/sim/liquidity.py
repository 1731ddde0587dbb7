"""Synthetic counterparties: market makers and noise takers, trading through the real matching engine.

Makers know the index, the time to close and the path's volatility. Each computes the fair probability
with the exact arithmetic-Brownian-motion formula for a 60-second average (settlement-and-pricing.md
§4.1, with the half-cent correction for the rounded settlement value), then adds its own bias (a
mean-reverting process, so mispricings appear and decay; ``mispricing`` scales it) and an inventory skew.
It quotes a ladder of ``levels`` prices per side around that value (sizes 10-500 contracts), keeping one
tick of edge, so the inside spread is typically one cent in the 1-cent band. Noise takers hit the best
price at random. Both are internal users of the exchange; every book change they make is a real order.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import TYPE_CHECKING

from kxbtc.clock import NS_PER_S
from kxbtc.sim.exchange import SimRejection
from kxbtc.sim.markets import Market
from kxbtc.sim.matching import Order
from kxbtc.sim.price_path import SECONDS_PER_YEAR
from kxbtc.units import COUNT_SCALE, PRICE_SCALE, Money, Price

if TYPE_CHECKING:
    from kxbtc.sim.exchange import Exchange

WINDOW = 60
COUNTERPARTY_BALANCE = Money(100_000_000 * 1_000_000)  # $100M each: never the binding constraint


@dataclass(frozen=True, slots=True)
class LiquidityConfig:
    #: Extra standard deviation of each maker's bias against the true fair value, in probability at
    #: p = 0.5 (the bias lives on the normal-score scale, so it shrinks towards 0 and 1 as real errors do).
    mispricing: float = 0.0
    #: Always-present bias (same units), so the market is good but not perfect.
    base_noise: float = 0.01
    bias_half_life_s: float = 90.0
    makers: int = 2
    levels: int = 4
    min_size: int = 10
    max_size: int = 500
    #: Edge each maker keeps each side of its value, in probability.
    half_edge: float = 0.001
    #: Probability shift per contract of inventory (positive inventory lowers the quotes).
    inventory_skew: float = 0.00005
    requote_15m_s: float = 1.0
    requote_hourly_s: float = 5.0
    #: Noise-taker arrivals per second per market.
    taker_rate_15m: float = 0.2
    taker_rate_hourly: float = 0.01
    taker_max_size: int = 50
    #: Makers stop quoting this close to the close.
    stop_before_close_s: int = 2
    balance: Money = COUNTERPARTY_BALANCE


_NORMAL = NormalDist()


def _score_sd(probability_sd: float) -> float:
    """A probability standard deviation at p = 0.5 expressed on the normal-score scale (phi(0) = 0.399)."""
    return probability_sd / 0.3989422804014327


def normal_cdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def fair_probability(
    market: Market,
    now_s: int,
    spot_cents: int,
    observed_cents: list[int],
    annual_vol: float,
) -> float | None:
    """P(YES) under ABM for the 60-second settlement average; None when the strike is not known yet.

    ``observed_cents`` are the window values already published ((close - 60, now]).
    """
    close_s = market.close_ns // NS_PER_S
    left = close_s - now_s  # unobserved samples (offsets 1..left) when inside the window
    spot = spot_cents / 100
    sigma = spot * annual_vol / math.sqrt(SECONDS_PER_YEAR)  # dollars per sqrt(second)
    if left >= WINDOW:
        mean = spot
        var = sigma * sigma * (left - 39.497)
    else:
        remaining = max(left, 0)
        mean = (sum(observed_cents) / 100 + remaining * spot) / WINDOW
        var = sigma * sigma * remaining * (remaining + 1) * (2 * remaining + 1) / (6 * WINDOW * WINDOW)
    sd = math.sqrt(max(var, 0.0))

    def above(level_dollars: float) -> float:
        if sd <= 0:
            return 1.0 if mean >= level_dollars else 0.0
        return 1.0 - normal_cdf((level_dollars - mean) / sd)

    # The settlement value is rounded to the cent: A_rounded >= K  <=>  A >= K - 0.005.
    if market.strike_type in ("greater_or_equal", "greater"):
        if market.floor_strike is None:
            return None
        k = market.floor_strike / 100
        return above(k - 0.005) if market.strike_type == "greater_or_equal" else above(k + 0.005)
    if market.strike_type == "less":
        assert market.cap_strike is not None
        return 1.0 - above(market.cap_strike / 100 - 0.005)
    assert market.floor_strike is not None and market.cap_strike is not None
    return above(market.floor_strike / 100 - 0.005) - above(market.cap_strike / 100 + 0.005)


@dataclass(slots=True)
class _MakerBook:
    bias: float = 0.0
    last_ns: int = 0
    quotes: dict[str, dict[int, Order]] = field(default_factory=lambda: {"bid": {}, "ask": {}})


class Counterparties:
    def __init__(self, exchange: Exchange, config: LiquidityConfig | None = None, *, seed: int = 0) -> None:
        self.exchange = exchange
        self.config = config or LiquidityConfig()
        self._rng = random.Random(seed * 7919 + 17)
        cfg = self.config
        self.maker_ids = [
            exchange.ensure_user(f"sim-maker-{i}", internal=True, balance=cfg.balance)
            for i in range(cfg.makers)
        ]
        self.taker_id = exchange.ensure_user("sim-noise-taker", internal=True, balance=cfg.balance)
        self._state: dict[tuple[str, str], _MakerBook] = {}
        self._last_ns: int | None = None

    # -- the loop -------------------------------------------------------------------------------

    def step(self, now_ns: int) -> None:
        if self._last_ns is not None and now_ns - self._last_ns < NS_PER_S // 4:
            return
        dt = 0.0 if self._last_ns is None else (now_ns - self._last_ns) / NS_PER_S
        self._last_ns = now_ns
        ex = self.exchange
        now_s = now_ns // NS_PER_S
        spot = ex.index_value()
        for market in list(ex.markets.values()):
            if market.status != "active":
                self._forget(market.ticker)
                continue
            if market.close_ns // NS_PER_S - now_s <= self.config.stop_before_close_s:
                continue
            observed = (
                ex.index_window(market.close_ns // NS_PER_S)
                if market.close_ns - now_ns < 60 * NS_PER_S
                else []
            )
            fair = fair_probability(market, now_s, spot, observed, ex.prices.annual_vol)
            if fair is None:
                continue
            for maker_id in self.maker_ids:
                self._quote(maker_id, market, fair, now_ns)
            self._noise(market, dt)

    def _forget(self, ticker: str) -> None:
        for maker_id in self.maker_ids:
            self._state.pop((maker_id, ticker), None)

    # -- makers ---------------------------------------------------------------------------------

    def _quote(self, maker_id: str, market: Market, fair: float, now_ns: int) -> None:
        cfg = self.config
        key = (maker_id, market.ticker)
        state = self._state.get(key)
        if state is None:
            state = self._state[key] = _MakerBook(
                bias=self._rng.gauss(0, _score_sd(cfg.base_noise + cfg.mispricing))
            )
        every = cfg.requote_15m_s if market.series_ticker == "KXBTC15M" else cfg.requote_hourly_s
        if state.last_ns and now_ns - state.last_ns < every * NS_PER_S:
            return
        dt = (now_ns - state.last_ns) / NS_PER_S if state.last_ns else 0.0
        state.last_ns = now_ns
        decay = math.exp(-dt * math.log(2) / cfg.bias_half_life_s)
        sd = _score_sd(cfg.base_noise + cfg.mispricing)
        state.bias = state.bias * decay + sd * math.sqrt(max(0.0, 1 - decay * decay)) * self._rng.gauss(0, 1)
        position = self.exchange.accounts.peek_position(maker_id, 0, market.ticker)
        inventory = 0 if position is None else position.position / COUNT_SCALE
        score = _NORMAL.inv_cdf(min(0.999, max(0.001, fair))) + state.bias
        value = min(0.995, max(0.005, _NORMAL.cdf(score) - inventory * cfg.inventory_skew))
        grid = market.grid
        top_bid = grid.snap(int((value - cfg.half_edge) * PRICE_SCALE), "down")
        top_ask = grid.snap(int((value + cfg.half_edge) * PRICE_SCALE) + 1, "up")
        # Pull stale quotes on both sides first, so a new bid never meets this maker's own old ask.
        self._pull(maker_id, state, "bid", self._ladder(market, "bid", top_bid))
        self._pull(maker_id, state, "ask", self._ladder(market, "ask", top_ask))
        # Never cross another maker: join the book one tick inside instead (keeps the book uncrossed).
        book = self.exchange.books[market.ticker]
        best_ask, best_bid = book.best_ask(), book.best_bid()
        if top_bid is not None and best_ask is not None and top_bid >= best_ask:
            top_bid = grid.next_down(best_ask)
        if top_ask is not None and best_bid is not None and top_ask <= best_bid:
            top_ask = grid.next_up(best_bid)
        self._place(maker_id, market, state, "bid", self._ladder(market, "bid", top_bid))
        self._place(maker_id, market, state, "ask", self._ladder(market, "ask", top_ask))

    def _ladder(self, market: Market, side: str, top: Price | None) -> list[int]:
        wanted: list[int] = []
        price = top
        while price is not None and len(wanted) < self.config.levels:
            wanted.append(price)
            price = market.grid.next_down(price) if side == "bid" else market.grid.next_up(price)
        return wanted

    def _pull(self, maker_id: str, state: _MakerBook, side: str, wanted: list[int]) -> None:
        """Cancel quotes off the wanted prices, filled ones, and ones mostly taken (to refresh size)."""
        quotes = state.quotes[side]
        for price, order in list(quotes.items()):
            if price in wanted and order.is_live and order.remaining >= order.initial_count * 3 // 10:
                continue
            if order.is_live:
                self.exchange.cancel_order(maker_id, order.order_id, exchange_index=order.exchange_index)
            del quotes[price]

    def _place(self, maker_id: str, market: Market, state: _MakerBook, side: str, wanted: list[int]) -> None:
        cfg = self.config
        quotes = state.quotes[side]
        for price in wanted:
            if price in quotes:
                continue
            size = self._rng.randint(cfg.min_size, cfg.max_size) * COUNT_SCALE
            try:
                result = self.exchange.create_order(
                    maker_id,
                    ticker=market.ticker,
                    side=side,
                    price=price,
                    count=size,
                    time_in_force="good_till_canceled",
                    self_trade_prevention_type="maker",
                    post_only=True,
                )
            except SimRejection:  # a refused quote (post-only cross) is simply not placed
                continue
            if result.order.is_live:
                quotes[price] = result.order

    # -- noise takers ---------------------------------------------------------------------------

    def _noise(self, market: Market, dt: float) -> None:
        cfg = self.config
        rate = cfg.taker_rate_15m if market.series_ticker == "KXBTC15M" else cfg.taker_rate_hourly
        arrivals = _poisson(self._rng, rate * dt)
        book = self.exchange.books[market.ticker]
        for _ in range(arrivals):
            side = "bid" if self._rng.random() < 0.5 else "ask"
            price = book.best_ask() if side == "bid" else book.best_bid()
            if price is None:
                continue
            size = self._rng.randint(1, cfg.taker_max_size) * COUNT_SCALE
            try:
                self.exchange.create_order(
                    self.taker_id,
                    ticker=market.ticker,
                    side=side,
                    price=price,
                    count=size,
                    time_in_force="immediate_or_cancel",
                    self_trade_prevention_type="taker_at_cross",
                )
            except SimRejection:  # nothing to take at that price any more
                continue


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    threshold, k, p = math.exp(-min(lam, 50.0)), 0, 1.0
    while True:
        p *= rng.random()
        if p <= threshold:
            return k
        k += 1
