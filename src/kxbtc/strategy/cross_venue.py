"""Cross-venue pairs: Kalshi KXBTC15M against Polymarket's 15-minute BTC up/down market.

Two pairings cover "BTC ends the window higher" from both sides:

- Kalshi YES (buy at the YES ask = 1 - best NO bid) + Polymarket Down (buy at the Down ask);
- Kalshi NO (buy at the NO ask = 1 - best YES bid) + Polymarket Up (buy at the Up ask).

If the two venues settled on the same number, each pair would pay exactly $1 and a cost below $1 after
both taker fees would be riskless. **They do not.** Kalshi settles on the 60-second average of CF
Benchmarks' BRTI before close against a strike from the 60 seconds before open; Polymarket settles Up
iff the Chainlink BTC/USD data-stream price at the window's end is >= the price at its start (errata
Part 4 §2.9). Near the money the two can disagree and then both legs lose (or both win). So this is a
*basis trade*: a pair is proposed only when

    1 - cost_per_pair > min_edge + basis_margin

with ``basis_margin`` configured for that settlement risk. Only a Kalshi market whose close time equals
the Polymarket window's end (and whose window is the same 15 minutes) is paired, and only the
"greater / greater_or_equal" strike types whose YES means "up".

Cost per pair, in integer Money for the chosen size C: both legs' prices times C plus both taker fees
(Kalshi rounded up to $0.0001 per fill, Polymarket to 5 dp with the market's ``feeSchedule.rate``).
Size: the smaller top-of-book size of the two legs, whole contracts, capped by ``max_pair_contracts``,
and at least Polymarket's minimum order size. Both legs are fill-or-kill and meant to be sent together;
a leg that fails leaves a directional position.

Pairs of two legs on the same venue are the ``book_glitch`` strategy's business and are not looked for
here. Polymarket buy fees may be taken in shares (errata Part 4 §7.4); ``poly_fee_share_haircut`` in
the inputs is the extra worst-case loss if so, which ``basis_margin`` must also cover.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from kxbtc.book.orderbook import OrderBook
from kxbtc.clock import NS_PER_MS, NS_PER_S
from kxbtc.config import PolymarketConfig
from kxbtc.domain.sides import leg_price
from kxbtc.domain.updown import DOWN, UP, WINDOW_S, OutcomeBook, UpDownWindow
from kxbtc.pricing.polymarket_fees import polymarket_taker_fee
from kxbtc.risk.limits import OrderIntent
from kxbtc.strategy.base import ContractView, Decision
from kxbtc.units import (
    COUNT_SCALE,
    PRICE_SCALE,
    Count,
    Money,
    Price,
    format_contracts,
    format_price_usd,
    format_usd,
)

__all__ = ["CrossVenueArb", "PairQuote", "PairedTrade", "PolymarketIntent", "quote_pair"]

KALSHI_15M_SERIES = "KXBTC15M"
UP_STRIKE_TYPES = ("greater", "greater_or_equal")
InputValue = float | str | int | None


@dataclass(frozen=True, slots=True)
class PolymarketIntent:
    """The Polymarket leg: buy ``size`` shares of ``token_id`` at ``price`` or better, fill-or-kill."""

    token_id: str
    outcome: str  # "Up" | "Down"
    side: str  # "BUY"
    price: Price
    size: Count
    strategy: str
    reason: str
    time_in_force: str = "FOK"


@dataclass(frozen=True, slots=True)
class PairQuote:
    """One pairing priced at one size: what the pair costs and what it leaves after fees."""

    pairing: str  # "kalshi_yes+poly_down" | "kalshi_no+poly_up"
    kalshi_side: str  # OrderIntent side: "bid" buys YES, "ask" buys NO
    kalshi_price: Price  # the leg's own price (YES ask, or NO ask)
    poly_outcome: str
    poly_token: str
    poly_price: Price
    size: Count
    kalshi_fee: Money
    poly_fee: Money
    cost: Money  # both legs' notional plus both fees
    edge: Money  # $1 per pair minus cost (before basis risk)


@dataclass(frozen=True, slots=True)
class PairedTrade:
    kalshi: Decision
    polymarket: PolymarketIntent
    quote: PairQuote


def quote_pair(
    pairing: str,
    kalshi_price: int,
    poly_price: int,
    size: int,
    *,
    contract: ContractView,
    market: UpDownWindow,
) -> PairQuote:
    """Price one pairing at ``size`` (Count) in integer Money, with both venues' taker fees."""
    kalshi_fee = contract.fees.fee(kalshi_price, size, is_taker=True)  # p(1-p): either leg's price
    poly_fee = polymarket_taker_fee(poly_price, size, market.fee_rate) if market.fees_enabled else Money(0)
    cost = kalshi_price * size + poly_price * size + kalshi_fee + poly_fee
    yes_leg = pairing == "kalshi_yes+poly_down"
    outcome = DOWN if yes_leg else UP
    return PairQuote(
        pairing=pairing,
        kalshi_side="bid" if yes_leg else "ask",
        kalshi_price=Price(kalshi_price),
        poly_outcome=outcome,
        poly_token=market.down_token if yes_leg else market.up_token,
        poly_price=Price(poly_price),
        size=Count(size),
        kalshi_fee=kalshi_fee,
        poly_fee=poly_fee,
        cost=Money(cost),
        edge=Money(PRICE_SCALE * size - cost),
    )


def _price_units(value: Decimal) -> int:
    return int(value * PRICE_SCALE)


class CrossVenueArb:
    """Pure: books in, at most one paired trade out. Holds no state between calls."""

    name = "cross_venue"

    def __init__(self, config: PolymarketConfig) -> None:
        self.config = config
        self.required_per_contract = _price_units(config.min_edge) + _price_units(config.basis_margin)
        self.max_size = int(config.max_pair_contracts) * COUNT_SCALE

    def same_window(self, contract: ContractView, market: UpDownWindow) -> bool:
        return (
            contract.series == KALSHI_15M_SERIES
            and contract.strike_type in UP_STRIKE_TYPES
            and market.end_s - market.start_s == WINDOW_S
            and contract.close_ns == market.end_s * NS_PER_S
            and contract.close_ns - WINDOW_S * NS_PER_S == market.start_s * NS_PER_S
        )

    def quotes(
        self,
        contract: ContractView,
        kalshi: OrderBook,
        market: UpDownWindow,
        up: OutcomeBook,
        down: OutcomeBook,
    ) -> list[PairQuote]:
        """Both pairings at their top-of-book size (those with a price and a size on both legs)."""
        out: list[PairQuote] = []
        legs = (
            ("kalshi_yes+poly_down", kalshi.yes_ask(), kalshi.yes_ask_size(), down),
            (
                "kalshi_no+poly_up",
                kalshi.no_ask(),
                kalshi.no_ask_size(),
                up,
            ),
        )
        for pairing, k_price, k_size, poly in legs:
            p_price = poly.best_ask()
            if k_price is None or p_price is None:
                continue
            size = min(k_size, poly.best_ask_size(), self.max_size)
            size -= size % COUNT_SCALE  # whole contracts
            if size <= 0:
                continue
            if market.min_order_size is not None and size < market.min_order_size:
                continue
            out.append(quote_pair(pairing, k_price, p_price, size, contract=contract, market=market))
        return out

    def evaluate(
        self,
        contract: ContractView,
        kalshi: OrderBook,
        market: UpDownWindow,
        up: OutcomeBook,
        down: OutcomeBook,
        now_ns: int,
        *,
        final_freeze_s: float = 60.0,
    ) -> list[PairedTrade]:
        """The best pairing whose edge beats ``min_edge + basis_margin`` per contract, or nothing."""
        if not self.same_window(contract, market):
            return []
        if contract.seconds_to_close(now_ns) <= final_freeze_s:
            return []
        if kalshi.stale or not self._fresh(up, now_ns) or not self._fresh(down, now_ns):
            return []
        if up.asset_id != market.up_token or down.asset_id != market.down_token:
            return []
        best: PairQuote | None = None
        for quote in self.quotes(contract, kalshi, market, up, down):
            required = self.required_per_contract * quote.size
            if quote.edge > required and (best is None or quote.edge > best.edge):
                best = quote
        return [] if best is None else [self._trade(contract, market, best)]

    def _fresh(self, book: OutcomeBook, now_ns: int) -> bool:
        age = book.age_ms(now_ns // NS_PER_MS)
        return book.is_tradeable() and age is not None and age <= self.config.max_book_age_s * 1000

    def _trade(self, contract: ContractView, market: UpDownWindow, quote: PairQuote) -> PairedTrade:
        required = self.required_per_contract * quote.size
        leg = "YES" if quote.kalshi_side == "bid" else "NO"
        reason = (
            f"cross-venue basis pair: Kalshi {leg} {contract.ticker} @ {format_price_usd(quote.kalshi_price)}"
            f" + Polymarket {quote.poly_outcome} {market.slug} @ {format_price_usd(quote.poly_price)} x "
            f"{format_contracts(quote.size)}; cost {format_usd(quote.cost)} incl. fees "
            f"{format_usd(quote.kalshi_fee)} + {format_usd(quote.poly_fee)}; edge {format_usd(quote.edge)} > "
            f"required {format_usd(required)} (min_edge + basis_margin). NOT riskless: Kalshi settles on a "
            "60 s BRTI average, "
            "Polymarket on a Chainlink point price"
        )
        # Kalshi's intent is priced on the YES leg: buying NO at q is an "ask" at YES price 1 - q.
        kalshi_price = leg_price(quote.kalshi_side, quote.kalshi_price)
        intent = OrderIntent(
            contract.ticker,
            quote.kalshi_side,
            Price(kalshi_price),
            quote.size,
            self.name,
            reason,
            "fill_or_kill",
        )
        # If Polymarket takes its buy fee in shares, the Poly leg pays fee / price fewer dollars when it wins.
        haircut = quote.poly_fee * PRICE_SCALE // quote.poly_price - quote.poly_fee if quote.poly_price else 0
        inputs: dict[str, InputValue] = {
            "pairing": quote.pairing,
            "kalshi_ticker": contract.ticker,
            "kalshi_leg": leg,
            "kalshi_price": quote.kalshi_price,
            "poly_slug": market.slug,
            "poly_outcome": quote.poly_outcome,
            "poly_token": quote.poly_token,
            "poly_price": quote.poly_price,
            "size": quote.size,
            "kalshi_fee": quote.kalshi_fee,
            "poly_fee": quote.poly_fee,
            "poly_fee_rate": str(market.fee_rate),
            "cost": quote.cost,
            "edge": quote.edge,
            "required": required,
            "basis_margin": str(self.config.basis_margin),
            "poly_fee_share_haircut": haircut,
            "window_start_s": market.start_s,
            "window_end_s": market.end_s,
        }
        poly = PolymarketIntent(
            token_id=quote.poly_token,
            outcome=quote.poly_outcome,
            side="BUY",
            price=quote.poly_price,
            size=quote.size,
            strategy=self.name,
            reason=reason,
        )
        return PairedTrade(Decision(intent, inputs), poly, quote)
