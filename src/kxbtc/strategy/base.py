"""The strategy interface.

A strategy sees a market (its contract terms, its book, our position) and the oracle (index estimate,
volatility, the settlement window observed so far), and returns order intents with their reasons. It
holds no exchange state of its own: positions come from the store, books from the WS stream, and
every intent still has to pass the risk gate before anything is sent.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import ClassVar, Generic

import msgspec
from typing_extensions import TypeVar

from kxbtc.book.orderbook import OrderBook
from kxbtc.config import StrategyConfig
from kxbtc.domain.instrument import Instrument
from kxbtc.domain.orders import OrderIntent
from kxbtc.pricing.fair_value import fair_value
from kxbtc.units import Count, Money

#: A market's contract terms as strategies see them: the domain's ``Instrument``.
ContractView = Instrument

# The views below are frozen ``msgspec.Struct``s: several are built for every evaluation of a market
# (every book change), and a Struct is built in C, about ten times faster than a frozen dataclass.


class OracleView(msgspec.Struct, frozen=True):
    """The index as the model sees it at one instant."""

    spot: float | None  # BRTI estimate, dollars
    dollar_vol: float | None  # dollars per sqrt(second)
    ts_ns: int
    # Settlement-window samples already published, per market close time (close_ns -> (sum, count)).
    observed: dict[int, tuple[float, int]] = msgspec.field(default_factory=dict)


class MarketState(msgspec.Struct, frozen=True):
    contract: ContractView
    book: OrderBook
    position: Count


class DecisionContext(msgspec.Struct, frozen=True):
    now_ns: int
    bankroll: Money
    #: Extra drift in dollars per second per ticker (order-book imbalance, an LLM prior).
    drift: dict[str, float] = msgspec.field(default_factory=dict)
    #: Probability priors per ticker from the LLM ensemble, with their blend weight.
    priors: dict[str, tuple[float, float]] = msgspec.field(default_factory=dict)
    #: The risk layer's final-minute freeze, so strategies don't propose what it will refuse.
    final_freeze_s: float = 60.0
    #: The signals the deciding strategy declared (``Strategy.signals``), per name and ticker, for the
    #: markets it is deciding on; computed by the core from ``strategy/signals.py``.
    signals: dict[str, dict[str, float]] = msgspec.field(default_factory=dict)
    #: Per ticker: the cost of what is held on the other strikes of its event (hourly ladders). Kelly
    #: sizes one event's strikes from one stake, so this much of the bankroll is already committed.
    event_cost_elsewhere: dict[str, Money] = msgspec.field(default_factory=dict)

    def signal(self, name: str, ticker: str) -> float:
        """One declared signal's value on one market; a clear error for one that was never declared."""
        try:
            return self.signals[name][ticker]
        except KeyError:
            raise KeyError(
                f"signal {name!r} for {ticker} is not in the context: declare it in the strategy's signals"
            ) from None


class Decision(msgspec.Struct, frozen=True):
    """An intent with what the strategy saw: recorded in the store's decisions table."""

    intent: OrderIntent
    inputs: dict[str, float | str | int | None]


#: A strategy's own settings model. Covariant so that a list of strategies with different settings is a
#: ``list[Strategy]``; defaulting to the shared fields so that a bare ``Strategy`` means just those.
SettingsT = TypeVar("SettingsT", bound=StrategyConfig, covariant=True, default=StrategyConfig)


class Strategy(ABC, Generic[SettingsT]):
    """A plug-in: its name, its settings and the signals it needs are declared here, on the class.

    ``strategy/registry.py`` lists every strategy once; the config sections, the known names and the
    strategies the core runs all come from that list, so a new strategy touches nothing else.
    """

    #: Its ``[strategies.<name>]`` section and its name in the store's records.
    name: ClassVar[str] = ""
    #: The model of its section: the shared fields of ``StrategyConfig`` plus its own, and nothing else,
    #: so a key meant for another strategy is refused at start instead of being silently ignored.
    config_model: ClassVar[type[StrategyConfig]] = StrategyConfig
    #: Signals it needs (names in ``strategy/signals.py``): the core computes exactly these, with this
    #: strategy's settings, for the markets it decides on and passes them in ``DecisionContext.signals``.
    signals: ClassVar[tuple[str, ...]] = ()
    #: A quoter returns, on each evaluation of a market, the full set of good-till-canceled quotes it wants
    #: resting there (at most one per book side); the core sends only what changed, cancelling quotes
    #: moved or no longer wanted (``kxbtc.core.quotes``). Other strategies' decisions are each sent.
    quoter: ClassVar[bool] = False

    def __init__(self, config: SettingsT) -> None:
        self.config = config

    @abstractmethod
    def on_book(self, market: MarketState, oracle: OracleView, ctx: DecisionContext) -> list[Decision]:
        """React to a book change on one market."""

    def on_timer(
        self, markets: Sequence[MarketState], oracle: OracleView, ctx: DecisionContext
    ) -> list[Decision]:
        """Periodic look across the open markets (ladders, signals that move without a book change).
        Default: nothing; for a quoter, its quotes on every market (what it returns is all it wants, so
        an empty answer would withdraw them), which also moves them with the index and withdraws them on
        time without a book change."""
        if self.quoter:
            return [d for market in markets for d in self.on_book(market, oracle, ctx)]
        return []


def model_probability(
    contract: ContractView, oracle: OracleView, now_ns: int, drift: float = 0.0, tail_df: float | None = None
) -> float | None:
    """P(YES) from the settlement-average model, or None when the oracle cannot price it yet."""
    if oracle.spot is None or oracle.dollar_vol is None:
        return None
    seconds = contract.seconds_to_close(now_ns)
    if seconds <= 0:
        return None
    observed_sum, observed_count = oracle.observed.get(contract.close_ns, (0.0, 0))
    strike_type = contract.strike_type
    if strike_type in ("less", "less_or_equal"):
        strike = contract.cap_strike if contract.cap_strike is not None else contract.floor_strike
    else:
        strike = contract.floor_strike
    if strike is None or strike_type not in (
        "greater",
        "greater_or_equal",
        "less",
        "less_or_equal",
        "between",
    ):
        return None
    return fair_value(
        oracle.spot,
        strike,
        seconds,
        oracle.dollar_vol,
        strike_type=strike_type,  # type: ignore[arg-type]  # checked just above
        cap=contract.cap_strike if strike_type == "between" else None,
        observed_sum=observed_sum,
        observed_count=min(observed_count, 60),
        drift=drift,
        tail_df=tail_df,
    )


def blend_prior(p_model: float, prior: tuple[float, float] | None) -> float:
    """Blend the model with an external prior (probability, weight in [0, 1])."""
    if prior is None:
        return p_model
    p_prior, weight = prior
    return (1 - weight) * p_model + weight * p_prior


def top_up(target: int, leg: str, position: int) -> int:
    """Contracts to buy of ``leg`` (``yes``/``no``) so that what is held reaches ``target``, never more.

    Fractional Kelly sizes the whole position, not each order: a fresh stake on every book update would
    stack until a loss limit stopped it. ``position`` is signed (> 0 YES, < 0 NO); contracts of the other
    leg are not counted as held (buying this leg first closes them, which only lowers risk).
    """
    held = max(0, position) if leg == "yes" else max(0, -position)
    return max(0, target - held)
