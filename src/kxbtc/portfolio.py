"""The local portfolio: every fill once, positions and P&L derived from fills, settlements applied.

Fills arrive from the WS ``fill`` channel and from REST reconciliation; both go through ``add_fill``,
which keeps the first copy of each ``fill_id`` (so nothing is counted twice) and writes it to the store.
On start the portfolio is rebuilt from the store, then reconciled with the exchange.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from kxbtc.pnl import Ledger
from kxbtc.store.db import SqliteStore
from kxbtc.store.records import FillRecord, SettlementRecord
from kxbtc.units import Count, Money

#: Legacy (action, side) -> V2 book side (docs: order direction): buy YES / sell NO are bids.
_LEGACY_BOOK_SIDE = {
    ("buy", "yes"): "bid",
    ("sell", "no"): "bid",
    ("buy", "no"): "ask",
    ("sell", "yes"): "ask",
}


def book_side_of(book_side: str | None, action: str | None, side: str | None) -> str:
    """The V2 book side of a fill or order, from ``book_side`` or the deprecated action/side pair."""
    if book_side in ("bid", "ask"):
        return book_side
    derived = _LEGACY_BOOK_SIDE.get((action or "", side or ""))
    if derived is None:
        raise ValueError(
            f"cannot tell the direction: book_side={book_side!r} action={action!r} side={side!r}"
        )
    return derived


class Portfolio:
    def __init__(self, store: SqliteStore) -> None:
        self.store = store
        self.ledger = Ledger()
        self.fill_ids: set[str] = set()
        self.settled: set[str] = set()
        self.strategy_by_order: dict[str, str] = {}
        #: Told of each fill and settlement newly booked (whoever found it: stream, reconciliation),
        #: after the ledger has applied it; the operator's feed listens here.
        self.on_booked: Callable[[FillRecord | SettlementRecord], None] | None = None

    def load(self) -> None:
        """Rebuild from the store (after a restart): fills in time order, then settlements."""
        self.store.flush()
        for order in self.store.orders():
            if order.order_id:
                self.strategy_by_order[order.order_id] = order.strategy
        for fill in self.store.fills():
            self._apply(fill.fill_id, fill.ticker, fill.side, fill.price, fill.count, fill.fee)
        for settlement in self.store.settlements():
            self.ledger.settle(settlement.ticker, settlement.result)
            self.settled.add(settlement.ticker)

    def _apply(self, fill_id: str, ticker: str, side: str, price: int, count: int, fee: int) -> None:
        self.fill_ids.add(fill_id)
        self.ledger.apply_fill(ticker, side, price, count, fee)

    def add_fill(self, fill: FillRecord) -> bool:
        """Record a fill; False if it was already known (the same fill from another source).

        The fill is stored with the strategy that placed its order, when we know the order.
        """
        if fill.fill_id in self.fill_ids:
            return False
        if fill.ticker in self.settled:
            raise ValueError(f"fill {fill.fill_id} on {fill.ticker} arrived after its settlement")
        self._apply(fill.fill_id, fill.ticker, fill.side, fill.price, fill.count, fill.fee)
        strategy = fill.strategy or self.strategy_by_order.get(fill.order_id, "")
        self.store.record_fill(replace(fill, strategy=strategy))
        if self.on_booked is not None:
            self.on_booked(fill)
        return True

    def add_settlement(self, record: SettlementRecord) -> bool:
        if record.ticker in self.settled:
            return False
        self.ledger.settle(record.ticker, record.result)
        self.settled.add(record.ticker)
        self.store.record_settlement(record)
        if self.on_booked is not None:
            self.on_booked(record)
        return True

    def position(self, ticker: str) -> Count:
        m = self.ledger.markets.get(ticker)
        return Count(m.position if m else 0)

    def position_cost(self, ticker: str) -> Money:
        m = self.ledger.markets.get(ticker)
        return Money(m.cost if m else 0)
