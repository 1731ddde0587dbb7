"""The vocabulary of the simulator's WebSocket protocol (kalshi-api.md §7): its channels and error codes,
a client's subscription, the checks on command parameters, and which frame a subscription shows for an
exchange event."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kxbtc.sim import wire
from kxbtc.sim.events import (
    BookDelta,
    EventCreated,
    ExchangeEvent,
    FillEvent,
    IndexTick,
    LifecycleEvent,
    OrderUpdate,
    PositionUpdate,
    TickerUpdate,
    TradeEvent,
)

CHANNELS = (
    "orderbook_delta",
    "ticker",
    "trade",
    "fill",
    "market_positions",
    "market_lifecycle_v2",
    "multivariate_market_lifecycle",
    "communications",
    "order_group_updates",
    "user_orders",
    "cfbenchmarks_value",
    "pyth_value",
)
#: Channels whose frames carry ``seq``.
SEQUENCED = frozenset({"orderbook_delta", "trade", "market_lifecycle_v2", "cfbenchmarks_value"})
#: Channels that accept a market filter, and which of them accept market ids.
TICKER_FILTERED = frozenset({"orderbook_delta", "ticker", "trade", "fill", "market_positions", "user_orders"})
INDEX_IDS = ("BRTI",)

ERRORS = {
    1: "Unable to process message",
    2: "Params required",
    3: "Channels required",
    4: "Subscription IDs required",
    5: "Unknown command",
    7: "Unknown subscription ID",
    8: "Unknown channel name",
    11: "Invalid parameter",
    12: "Exactly one subscription ID is required",
    13: "Unsupported action",
    14: "Market Ticker required",
    15: "Action required",
    24: "Index IDs required",
    25: "Subscription buffer overflow",
}


class CommandError(Exception):
    def __init__(self, code: int, sid: int | None = None) -> None:
        super().__init__(ERRORS[code])
        self.code = code
        self.sid = sid


@dataclass
class Subscription:
    sid: int
    channel: str
    tickers: set[str] | None = None  # None: every market
    market_ids: set[str] | None = None
    use_yes_price: bool = False
    skip_ticker_ack: bool = False
    index_ids: set[str] = field(default_factory=set)
    seq: int = 0

    def wants(self, ticker: str, market_id: str = "") -> bool:
        if self.tickers is None and self.market_ids is None:
            return True
        return (self.tickers is not None and ticker in self.tickers) or (
            self.market_ids is not None and market_id in self.market_ids
        )

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq


def render(sub: Subscription, event: ExchangeEvent, mine: str) -> tuple[str, dict[str, Any]] | None:
    """The (type, msg) subscription ``sub`` of user ``mine`` shows for ``event``, or None when it does not
    concern it."""
    channel = sub.channel
    if channel == "orderbook_delta" and isinstance(event, BookDelta) and sub.wants(event.ticker):
        return "orderbook_delta", wire.orderbook_delta_msg(event, sub.use_yes_price, mine)
    if channel == "ticker" and isinstance(event, TickerUpdate):
        if sub.wants(event.market.ticker, event.market.market_id):
            return "ticker", wire.ticker_msg(event)
        return None
    if channel == "trade" and isinstance(event, TradeEvent) and sub.wants(event.trade.ticker):
        return "trade", wire.trade_msg(event)
    if channel == "fill" and isinstance(event, FillEvent) and event.fill.user_id == mine:
        return ("fill", wire.fill_msg(event.fill)) if sub.wants(event.fill.ticker) else None
    if channel == "user_orders" and isinstance(event, OrderUpdate) and event.order.user_id == mine:
        return ("user_order", wire.user_order_msg(event.order)) if sub.wants(event.order.ticker) else None
    if channel == "market_positions" and isinstance(event, PositionUpdate) and event.user_id == mine:
        if sub.wants(event.position.ticker):
            return "market_position", wire.market_position_msg(event)
        return None
    if channel == "market_lifecycle_v2" and isinstance(event, LifecycleEvent):
        return "market_lifecycle_v2", wire.lifecycle_msg(event)
    if channel == "market_lifecycle_v2" and isinstance(event, EventCreated):
        return "event_lifecycle", wire.event_lifecycle_msg(event)
    if channel == "cfbenchmarks_value" and isinstance(event, IndexTick):
        if sub.index_ids & {"BRTI", "all"}:
            return "cfbenchmarks_value", wire.cfbenchmarks_msg(event)
        return None
    return None


# -- command parameters ------------------------------------------------------------------------------


def command_params(params: object) -> dict[str, Any]:
    """A command's ``params`` object (error 2 when it is not one)."""
    if not isinstance(params, dict):
        raise CommandError(2)
    return params


def market_filter(params: dict[str, Any]) -> tuple[list[str], list[str]]:
    """The market tickers and market ids a command names, singly or in lists (error 11 when mistyped)."""
    tickers: list[str] = []
    ids: list[str] = []
    for key, into in (("market_ticker", tickers), ("market_id", ids)):
        value = params.get(key)
        if value is not None:
            if not isinstance(value, str):
                raise CommandError(11)
            into.append(value)
    for key, into in (("market_tickers", tickers), ("market_ids", ids)):
        values = params.get(key)
        if values is not None:
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                raise CommandError(11)
            into.extend(values)
    return tickers, ids


def index_id_set(values: object) -> set[str]:
    """The index ids a ``cfbenchmarks_value`` command names (error 11 when mistyped)."""
    if values is None:
        return set()
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise CommandError(11)
    return set(values)
