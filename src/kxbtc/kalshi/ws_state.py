"""What the WebSocket client keeps: counters, the subscriptions it keeps alive, commands in flight."""

from __future__ import annotations

import asyncio
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from kxbtc.errors import KxbtcError


@dataclass
class WsStats:
    frames: int = 0
    connects: int = 0
    disconnects: int = 0
    connect_failures: int = 0
    seq_gaps: int = 0
    snapshot_requests: int = 0
    resubscribes: int = 0
    pings_sent: int = 0
    liveness_timeouts: int = 0
    handler_errors: int = 0
    #: Every error the client survived, by class name (ProtocolError, BookError, SeqGapError, ...).
    errors: Counter[str] = field(default_factory=Counter)
    recent_errors: deque[KxbtcError] = field(default_factory=lambda: deque(maxlen=100))


@dataclass(eq=False)
class Subscription:
    """One channel subscription the client keeps alive across reconnects (``sid`` changes on each). Its
    sequence is checked by the client's ``KalshiStream``, not here."""

    channel: str
    params: dict[str, Any]
    sid: int | None = None
    #: Tickers whose snapshot was requested and has not arrived yet (orderbook only).
    pending_snapshots: set[str] = field(default_factory=set)
    resync_started: float | None = None
    bad_snapshots: Counter[str] = field(default_factory=Counter)
    snapshot_waiters: list[tuple[frozenset[str], asyncio.Future[None]]] = field(default_factory=list)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    use_yes_price: bool = field(init=False, default=False)
    #: A subscribe command for it is on its way (this connection).
    in_flight: bool = False

    @property
    def market_tickers(self) -> list[str]:
        tickers = self.params.get("market_tickers")
        return list(tickers) if tickers else []

    def __post_init__(self) -> None:
        # Fixed for the subscription's life; read on every orderbook frame, so not a property.
        self.use_yes_price = bool(self.params.get("use_yes_price", False))

    def wire_params(self) -> dict[str, Any]:
        return {**self.params, "channels": [self.channel]}


@dataclass(eq=False)
class PendingCommand:
    """A command sent on this connection and not answered yet (keyed by its id in ``_pending``)."""

    cmd: str
    future: asyncio.Future[Any]
    #: For subscribe: channel -> subscription still waiting for its ``subscribed``, and those acked.
    waiting: dict[str, Subscription] = field(default_factory=dict)
    acked: list[Subscription] = field(default_factory=list)
    sub: Subscription | None = None
