"""Books of the simulated Polymarket venue and the makers that quote them.

``SimBook`` is one outcome token's L2 book (Price -> Count per side, like ``kxbtc.polymarket.book``).
It only changes through ``replace`` (a maker's new ladder) and ``clear``, which return the changes as
``LevelUpdate`` items in the order they were applied: removals first, then new sizes, then new levels,
so every intermediate book is a subset of the old or the new one and never crossed. Each item carries
the book's hash and best bid/ask *after* it, as Polymarket's ``price_change`` items do.

``TokenMaker`` is the seeded quoting process of one token: it knows the token's fair value and adds a
bias that follows a mean-reverting (Ornstein-Uhlenbeck) process on the normal-score scale, so
mispricings appear and decay (half-life ``bias_half_life_s``). Its ladder is ``levels`` prices a side on
the tick, the best ``half_spread`` away from its value, with random sizes.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass, field
from statistics import NormalDist

from kxbtc.polymarket.book import BUY, SELL
from kxbtc.sim.poly_config import PolySimConfig
from kxbtc.units import COUNT_SCALE, PRICE_SCALE, Count, Price

__all__ = ["BUY", "SELL", "LevelUpdate", "SimBook", "TokenMaker"]

_NORMAL = NormalDist()
#: phi(0): a probability standard deviation at p = 0.5 divided by this is one on the normal-score scale.
_PHI_0 = 0.3989422804014327

Levels = dict[int, int]


@dataclass(frozen=True, slots=True)
class LevelUpdate:
    """One level's new aggregate size (0 removed it), with the book's state after the change."""

    asset_id: str
    side: str  # BUY (bids) | SELL (asks)
    price: Price
    size: Count
    hash: str
    best_bid: Price | None
    best_ask: Price | None


@dataclass(slots=True)
class SimBook:
    asset_id: str
    market: str  # the condition id
    bids: Levels = field(default_factory=dict)
    asks: Levels = field(default_factory=dict)
    hash: str = ""

    def __post_init__(self) -> None:
        self.hash = self._content_hash()

    def best_bid(self) -> Price | None:
        return Price(max(self.bids)) if self.bids else None

    def best_ask(self) -> Price | None:
        return Price(min(self.asks)) if self.asks else None

    def crossed(self) -> bool:
        return bool(self.bids and self.asks and max(self.bids) >= min(self.asks))

    def replace(self, bids: Levels, asks: Levels) -> list[LevelUpdate]:
        """Make the book ``bids``/``asks``; the changes, in the order applied."""
        removals: list[tuple[str, int, int]] = []
        resizes: list[tuple[str, int, int]] = []
        additions: list[tuple[str, int, int]] = []
        for side, old, new in ((BUY, self.bids, bids), (SELL, self.asks, asks)):
            removals += [(side, price, 0) for price in sorted(old) if price not in new]
            for price in sorted(new):
                if price not in old:
                    additions.append((side, price, new[price]))
                elif old[price] != new[price]:
                    resizes.append((side, price, new[price]))
        return [self._set(side, price, size) for side, price, size in removals + resizes + additions]

    def clear(self) -> list[LevelUpdate]:
        return self.replace({}, {})

    def _set(self, side: str, price: int, size: int) -> LevelUpdate:
        levels = self.bids if side == BUY else self.asks
        if size:
            levels[price] = size
        else:
            levels.pop(price, None)
        self.hash = self._content_hash()
        return LevelUpdate(
            self.asset_id, side, Price(price), Count(size), self.hash, self.best_bid(), self.best_ask()
        )

    def _content_hash(self) -> str:
        text = f"{self.asset_id}|{sorted(self.bids.items())}|{sorted(self.asks.items())}"
        return hashlib.sha1(text.encode()).hexdigest()


class TokenMaker:
    """The quoting process of one outcome token."""

    def __init__(self, config: PolySimConfig, rng: random.Random) -> None:
        self.config = config
        self._rng = rng
        self._score_sd = (config.base_noise + config.mispricing) / _PHI_0
        self.bias = rng.gauss(0.0, self._score_sd)
        self.value: float | None = None

    def quote(self, fair: float, dt_s: float, book: SimBook) -> tuple[Levels, Levels]:
        """The ladder this maker wants after ``dt_s`` seconds, given the token's fair value now."""
        cfg = self.config
        decay = math.exp(-dt_s * math.log(2) / cfg.bias_half_life_s)
        shock = self._rng.gauss(0.0, 1.0)
        self.bias = self.bias * decay + self._score_sd * math.sqrt(max(0.0, 1 - decay * decay)) * shock
        score = _NORMAL.inv_cdf(min(0.999, max(0.001, fair))) + self.bias
        value = min(0.995, max(0.005, _NORMAL.cdf(score)))
        self.value = value
        tick = cfg.tick
        top_bid = math.floor((value - cfg.half_spread) * PRICE_SCALE / tick) * tick
        top_ask = math.ceil((value + cfg.half_spread) * PRICE_SCALE / tick) * tick
        bid_prices = [p for p in (top_bid - k * tick for k in range(cfg.levels)) if p >= tick]
        ask_prices = [p for p in (top_ask + k * tick for k in range(cfg.levels)) if p <= PRICE_SCALE - tick]
        bids = self._sizes(bid_prices, book.bids)
        asks = self._sizes(ask_prices, book.asks)
        if bids == book.bids and asks == book.asks:
            self._nudge(bids, asks)  # the book changes every requote, as a live venue's does
        return bids, asks

    def _sizes(self, prices: list[int], current: Levels) -> Levels:
        out: Levels = {}
        for price in prices:
            kept = current.get(price)
            resize = self._rng.random() < self.config.resize_probability
            out[price] = kept if kept is not None and not resize else self._size()
        return out

    def _nudge(self, bids: Levels, asks: Levels) -> None:
        sides = [levels for levels in (bids, asks) if levels]
        if not sides:
            return
        levels = sides[self._rng.randrange(len(sides))]
        price = sorted(levels)[self._rng.randrange(len(levels))]
        old = levels[price]
        while levels[price] == old:
            levels[price] = self._size()

    def _size(self) -> int:
        cfg = self.config
        return self._rng.randint(cfg.min_level_shares * COUNT_SCALE, cfg.max_level_shares * COUNT_SCALE)
