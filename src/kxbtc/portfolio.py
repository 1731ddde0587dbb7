"""The local portfolio: every fill once, positions and P&L derived from fills, settlements applied.

Fills arrive from the WS ``fill`` channel and from REST reconciliation; both go through ``add_fill``,
which keeps the first copy of each ``fill_id`` (so nothing is counted twice) and writes it to the store.
On start the portfolio is rebuilt from the store, then reconciled with the exchange.

The fill ids and the order -> strategy index are held in memory per market until the core ``forget``s the
market (a while after it closed: ``TradingCore.forget_market``); a running engine then holds a day's
markets, not every fill and order since it started. A fill of a forgotten market that is not in memory
any more is looked up in the store, which has every fill, so a late replay is still not counted twice.
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
        #: Fills booked, of the markets not forgotten (``forget``); ``fill_count`` counts them all.
        self.fill_ids: set[str] = set()
        self.fill_count = 0
        self.settled: set[str] = set()
        #: Order id -> the strategy that placed it, of the markets not forgotten (set it with ``note_order``).
        self.strategy_by_order: dict[str, str] = {}
        #: Per market: its fill ids and order ids in the two above, for ``forget``.
        self._keys: dict[str, tuple[list[str], list[str]]] = {}
        #: Markets forgotten: their fills and orders are in the store only.
        self._forgotten: set[str] = set()
        #: Told of each fill and settlement newly booked (whoever found it: stream, reconciliation),
        #: after the ledger has applied it; the operator's feed listens here.
        self.on_booked: Callable[[FillRecord | SettlementRecord], None] | None = None

    def load(self) -> None:
        """Rebuild from the store (after a restart): fills in time order, then settlements."""
        self.store.flush()
        for order in self.store.orders():
            if order.order_id:
                self.note_order(order.order_id, order.ticker, order.strategy)
        for fill in self.store.fills():
            self._apply(fill.fill_id, fill.ticker, fill.side, fill.price, fill.count, fill.fee)
        for settlement in self.store.settlements():
            self.ledger.settle(settlement.ticker, settlement.result)
            self.settled.add(settlement.ticker)

    def _apply(self, fill_id: str, ticker: str, side: str, price: int, count: int, fee: int) -> None:
        self.fill_ids.add(fill_id)
        self.fill_count += 1
        self._keys_of(ticker)[0].append(fill_id)
        self.ledger.apply_fill(ticker, side, price, count, fee)

    def _keys_of(self, ticker: str) -> tuple[list[str], list[str]]:
        keys = self._keys.get(ticker)
        if keys is None:
            keys = self._keys[ticker] = ([], [])
        return keys

    def note_order(self, order_id: str, ticker: str, strategy: str) -> None:
        """The strategy that placed ``order_id``: its fills are attributed to it."""
        self.strategy_by_order[order_id] = strategy
        self._keys_of(ticker)[1].append(order_id)

    def strategy_of(self, order_id: str, ticker: str) -> str | None:
        """The strategy that placed ``order_id`` (from the store for a forgotten market), None if unknown."""
        strategy = self.strategy_by_order.get(order_id)
        if strategy is None and ticker in self._forgotten:
            strategy = self.store.order_strategy(order_id)
        return strategy

    def knows_fill(self, fill_id: str, ticker: str) -> bool:
        """True if the fill is booked already (looked up in the store for a forgotten market)."""
        return fill_id in self.fill_ids or (ticker in self._forgotten and self.store.has_fill(fill_id))

    def booked_fill_ids(self) -> set[str]:
        """Every fill booked, forgotten markets' included: the store's, read once, when any is forgotten
        (a reconciliation compares the venue's fills with it)."""
        if not self._forgotten:
            return set(self.fill_ids)
        self.store.flush()
        return {f.fill_id for f in self.store.fills()}

    def forget(self, ticker: str) -> None:
        """Drop the market's fill ids and order attributions from memory (the store keeps them): its
        fills are all in and the reconciler no longer re-reads them. The ledger keeps its P&L."""
        fills, orders = self._keys.pop(ticker, ([], []))
        self.fill_ids.difference_update(fills)
        for order_id in orders:
            self.strategy_by_order.pop(order_id, None)
        self._forgotten.add(ticker)

    def add_fill(self, fill: FillRecord) -> bool:
        """Record a fill; False if it was already known (the same fill from another source).

        The fill is stored with the strategy that placed its order, when we know the order.
        """
        if self.knows_fill(fill.fill_id, fill.ticker):
            return False
        if fill.ticker in self.settled:
            raise ValueError(f"fill {fill.fill_id} on {fill.ticker} arrived after its settlement")
        self._apply(fill.fill_id, fill.ticker, fill.side, fill.price, fill.count, fill.fee)
        strategy = fill.strategy or self.strategy_of(fill.order_id, fill.ticker) or ""
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
