"""Passive quoting: rest a bid and an offer around the model's fair value and earn the spread as a maker.

The takers of docs/RESEARCH.md lose about what they pay in spread and taker fees. A maker is paid the
spread instead of paying it, and pays less in fees (nothing on the BTC series as recorded in 2026, plain
``quadratic``; 0.0175 against 0.07 on a maker-fee series), so the question is whether the fills a resting
quote gets are worth more than the adverse selection they carry. Each evaluation (a book change, and
every timer tick: a quoter's ``Strategy.on_timer``, so quotes follow the index and are withdrawn on time
without a book change) returns the full set of quotes wanted on the market; the core sends only what
changed (``kxbtc.core.quotes``):

- fair = the settlement-average model's P(YES) (``model_probability``, as ``fair_value`` uses it), shifted
  against inventory by ``skew_per_contract`` a contract held (long YES -> both quotes lower);
- bid YES at fair - ``half_spread`` (rounded down to the grid), offer YES (buy NO) at fair +
  ``half_spread`` (rounded up); never crossing the book, and at most one tick better than the best
  price on its side, so a quote never pays up for queue position it does not need;
- ``quote_contracts`` a quote, no quote on a side that would take the position past ``max_position``;
- no quotes from ``final_freeze_s + freeze_margin_s`` before the close (the core cancels them), nor
  without a fair value.

Measured on the real recordings with the queue-position fill model (docs/RESEARCH.md, "Passive
quoting"): settings chosen on the earlier part only (half spread 0.01-0.08 x skew 0-0.002 at 50 ms; the
widest, 0.08 with no skew, was best there: +$59.04 on 420 contracts). Reported part (from
2026-05-13T15:00Z, 30 markets, after fees): -$143.57 at 50 ms (-$0.0661 a contract, 95 % interval
-$480 .. +$157), -$142.68 at 0 ms, -$101.05 at 250 ms. No edge shown: off by default.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field

from kxbtc.config import StrategyConfig, to_count, to_price
from kxbtc.domain.orders import OrderIntent
from kxbtc.domain.sides import BookSide
from kxbtc.strategy.base import (
    Decision,
    DecisionContext,
    MarketState,
    OracleView,
    Strategy,
    model_probability,
)
from kxbtc.units import COUNT_SCALE, PRICE_SCALE, Count, Price, PriceGrid, format_contracts, format_price_usd

GOOD_TILL_CANCELED = "good_till_canceled"


class PassiveQuoteConfig(StrategyConfig):
    """``[strategies.passive_quote]``: the shared settings plus the quote's width, skew, size and limits."""

    half_spread: Decimal = Field(Decimal("0.08"), gt=0, lt=Decimal("0.5"), decimal_places=4)
    #: Dollars the quotes move against a contract held (per contract of position).
    skew_per_contract: Decimal = Field(Decimal("0"), ge=0, le=Decimal("0.05"), decimal_places=5)
    quote_contracts: Decimal = Field(Decimal(10), gt=0, decimal_places=2)
    max_position: Decimal = Field(Decimal(100), gt=0, decimal_places=2)
    #: Quotes are withdrawn this long before the final-minute freeze begins.
    freeze_margin_s: float = Field(30.0, ge=0, le=900)


class PassiveQuote(Strategy[PassiveQuoteConfig]):
    name = "passive_quote"
    config_model = PassiveQuoteConfig
    quoter = True
    tail_df: float | None = 6.0  # as fair_value: the calibrated Student-t tails

    def __init__(self, config: PassiveQuoteConfig) -> None:
        super().__init__(config)
        self._half = to_price(config.half_spread)
        self._skew = float(config.skew_per_contract) * PRICE_SCALE  # price units per contract held
        self._size = to_count(config.quote_contracts)
        self._max = to_count(config.max_position)

    def on_book(self, market: MarketState, oracle: OracleView, ctx: DecisionContext) -> list[Decision]:
        book, contract = market.book, market.contract
        if (
            book.stale
            or contract.seconds_to_close(ctx.now_ns) <= ctx.final_freeze_s + self.config.freeze_margin_s
        ):
            return []
        p_yes = model_probability(contract, oracle, ctx.now_ns, 0.0, self.tail_df)
        if p_yes is None:
            return []
        grid = contract.grid or PriceGrid.linear_cent()
        position = market.position
        # In price units, rounded first: 0.4999999 must not lose a whole tick when snapped down.
        centre = round(p_yes * PRICE_SCALE - self._skew * position / COUNT_SCALE)
        best_bid, best_ask = book.best_yes_bid(), book.yes_ask()
        inputs: dict[str, float | str | int | None] = {
            "p_yes": p_yes,
            "spot": oracle.spot,
            "position": position,
            "yes_bid": best_bid,
            "yes_ask": best_ask,
            "seconds_to_close": contract.seconds_to_close(ctx.now_ns),
        }
        out: list[Decision] = []
        bid = grid.snap(centre - self._half, "down")
        if bid is not None and best_bid is not None:  # at most one tick above the best bid
            bid = min(bid, grid.next_up(best_bid) or bid)
        if bid is not None and best_ask is not None and bid >= best_ask:  # never take the offer
            bid = grid.next_down(best_ask)
        count = min(self._size, self._max - position)
        if bid is not None and count > 0:
            out.append(self._quote(market, BookSide.BID, bid, Count(count), p_yes, inputs))
        ask = grid.snap(centre + self._half, "up")
        if ask is not None and best_ask is not None:  # at most one tick below the best offer
            ask = max(ask, grid.next_down(best_ask) or ask)
        if ask is not None and best_bid is not None and ask <= best_bid:  # never hit the bid
            ask = grid.next_up(best_bid)
        count = min(self._size, self._max + position)
        if ask is not None and count > 0:
            out.append(self._quote(market, BookSide.ASK, ask, Count(count), p_yes, inputs))
        return out

    def _quote(
        self,
        market: MarketState,
        side: BookSide,
        price: Price,
        count: Count,
        p_yes: float,
        inputs: dict[str, float | str | int | None],
    ) -> Decision:
        reason = (
            f"quote {side} {format_price_usd(price)} around p_yes={p_yes:.4f}"
            f" (half spread {self.config.half_spread}, position {format_contracts(market.position)})"
        )
        intent = OrderIntent(
            market.contract.ticker, str(side), price, count, self.name, reason, GOOD_TILL_CANCELED
        )
        return Decision(intent, inputs)
