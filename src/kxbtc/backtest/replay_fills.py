"""How a taker order fills against a recorded book, and the cash it moves.

Conservative on purpose: an order takes only the displayed liquidity on the opposite side, best price
first, up to its limit and never more than the displayed size; fill-or-kill takes nothing unless the
whole count is there. Each price level is one fill at that level's price, charged the exchange's taker
fee for that fill. What the order takes is not removed from the books recorded after it (the recording
cannot know how the market would have reacted), so a strategy could take the same displayed size twice;
the per-ticker in-flight rule and the position limits keep that rare, and the report says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kxbtc.book.orderbook import OrderBook
from kxbtc.pricing.fees import FeeSchedule
from kxbtc.units import PRICE_SCALE, Count, Money, Price, notional

FILL_OR_KILL = "fill_or_kill"
IMMEDIATE_OR_CANCEL = "immediate_or_cancel"
GOOD_TILL_CANCELED = "good_till_canceled"


@dataclass(frozen=True, slots=True)
class TakerFill:
    price: Price  # YES price of the level taken
    count: Count
    fee: Money


def take(
    book: OrderBook, side: str, limit: int, count: int, time_in_force: str, fees: FeeSchedule
) -> list[TakerFill]:
    """The fills of a taker order on ``book``: ``bid`` buys YES up to ``limit``, ``ask`` sells YES
    (buys NO) down to ``limit``; YES prices throughout."""
    levels = book.yes_asks() if side == "bid" else book.yes_bids()
    fills: list[TakerFill] = []
    left = count
    for price, size in levels:
        if left <= 0 or (price > limit if side == "bid" else price < limit):
            break
        taken = min(left, size)
        fills.append(TakerFill(Price(price), Count(taken), fees.fee(price, taken, is_taker=True)))
        left -= taken
    if left > 0 and time_in_force == FILL_OR_KILL:
        return []
    return fills


@dataclass(slots=True)
class CashAccount:
    """Cash as the exchange would move it, kept apart from the ledger so the two can check each other.

    A fill pays for its own leg (YES at p, NO at 1 - p) plus its fee; a YES and a NO contract held
    together are one dollar, paid out at once; a settled position pays a dollar per winning contract.
    """

    cash: int  # Money
    positions: dict[str, int] = field(default_factory=dict)  # Count, signed: > 0 YES

    def fill(self, ticker: str, side: str, price: int, count: int, fee: int) -> None:
        held = self.positions.get(ticker, 0)
        if side == "bid":
            self.cash -= notional(price, count) + fee
            pairs = min(count, max(0, -held))
            self.positions[ticker] = held + count
        else:
            self.cash -= notional(PRICE_SCALE - price, count) + fee
            pairs = min(count, max(0, held))
            self.positions[ticker] = held - count
        self.cash += notional(PRICE_SCALE, pairs)

    def settle(self, ticker: str, result: str) -> None:
        held = self.positions.pop(ticker, 0)
        if (held > 0 and result == "yes") or (held < 0 and result == "no"):
            self.cash += notional(PRICE_SCALE, abs(held))

    def value(self, marks: dict[str, int]) -> int:
        """Cash plus the open positions at the given YES marks (positions without a mark count 0)."""
        total = self.cash
        for ticker, held in self.positions.items():
            mark = marks.get(ticker)
            if held and mark is not None:
                total += notional(mark, held) if held > 0 else notional(PRICE_SCALE - mark, -held)
        return total
