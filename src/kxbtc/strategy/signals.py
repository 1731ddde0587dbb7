"""Signals: per-market values a strategy declares as inputs, computed by the core, not by the strategy.

A strategy names the signals it needs in ``Strategy.signals``; the core computes exactly those, with
that strategy's settings, for the markets it is deciding on (``with_signals``) and hands them over in
``DecisionContext.signals[name][ticker]``. The core knows no signal and no strategy by name: a new
signal is a provider here and an entry in ``PROVIDERS``.

The order-book imbalance (brief §5.2): imbalance = bid_qty / (bid_qty + ask_qty) over the top N YES
levels. Beyond the threshold (and symmetrically below 1 - threshold) it becomes a drift for the
fair-value model, scaled by the index's own dollar volatility so that it means the same thing in calm
and busy markets.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

import msgspec

from kxbtc.book.orderbook import OrderBook
from kxbtc.config import StrategyConfig
from kxbtc.strategy.base import DecisionContext, MarketState, OracleView, Strategy

#: A signal's value on one market: (book, oracle, the declaring strategy's settings) -> value.
SignalProvider = Callable[[OrderBook, OracleView, StrategyConfig], float]

IMBALANCE_DRIFT = "imbalance_drift"

#: Drift per unit of imbalance signal, in index standard deviations per second. Deliberately small: OBI
#: moves prices over seconds to a minute, not over the whole window.
DRIFT_PER_SIGNAL = 0.05


def imbalance_signal(book: OrderBook, levels: int, threshold: float) -> float:
    """0 inside (1 - threshold, threshold); rising linearly to +-1 at full imbalance."""
    imb = book.imbalance(levels)
    if imb is None or math.isnan(imb):
        return 0.0
    if imb >= threshold:
        return (imb - threshold) / (1 - threshold)
    if imb <= 1 - threshold:
        return -((1 - threshold) - imb) / (1 - threshold)
    return 0.0


def imbalance_drift(book: OrderBook, dollar_vol: float | None, levels: int, threshold: float) -> float:
    """Drift in dollars per second implied by the book's imbalance."""
    if dollar_vol is None:
        return 0.0
    return DRIFT_PER_SIGNAL * dollar_vol * imbalance_signal(book, levels, threshold)


@runtime_checkable
class ImbalanceParams(Protocol):
    """The settings a strategy declaring ``imbalance_drift`` must have."""

    imbalance_levels: int
    imbalance_threshold: float


def _imbalance_drift(book: OrderBook, oracle: OracleView, config: StrategyConfig) -> float:
    if not isinstance(config, ImbalanceParams):
        raise TypeError(
            f"the {IMBALANCE_DRIFT} signal reads imbalance_levels and imbalance_threshold from the"
            f" declaring strategy's settings; {type(config).__name__} has neither"
        )
    return imbalance_drift(book, oracle.dollar_vol, config.imbalance_levels, config.imbalance_threshold)


#: Every signal a strategy may declare, by name.
PROVIDERS: dict[str, SignalProvider] = {IMBALANCE_DRIFT: _imbalance_drift}


def with_signals(
    ctx: DecisionContext, strategy: Strategy, markets: Sequence[MarketState], oracle: OracleView
) -> DecisionContext:
    """``ctx`` with the signals ``strategy`` declared, computed for ``markets`` with its settings.

    Computed per strategy, not once per signal name: two strategies may declare one signal with
    different settings. A strategy that declares nothing gets ``ctx`` itself (the fast path's case).
    """
    if not strategy.signals:
        return ctx
    values = {
        name: {m.contract.ticker: PROVIDERS[name](m.book, oracle, strategy.config) for m in markets}
        for name in strategy.signals
    }
    return msgspec.structs.replace(ctx, signals=values)
