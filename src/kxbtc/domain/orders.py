"""What strategies ask for and what the venue answers: order intents, acknowledgements, order updates
and fills. Prices are YES-leg ``Price``; sizes are ``Count`` (1/100 contract); fees are ``Money``."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass

from kxbtc.units import Count, Money, Price


@dataclass(frozen=True, slots=True)
class OrderIntent:
    """What a strategy asks for. ``side`` is the YES-book side (``BookSide``): a bid buys YES, an ask
    buys NO at ``1 - price``."""

    ticker: str
    side: str
    price: Price
    count: Count
    strategy: str
    reason: str
    time_in_force: str = "fill_or_kill"


#: Order statuses the core knows: the venue's own, plus ``unknown`` (sent, answer lost) and
#: ``rejected`` (refused by the venue).
OPEN_STATUSES = frozenset({"resting"})
DONE_STATUSES = frozenset({"executed", "canceled", "rejected"})
#: Every status an order can be stored with (``kxbtc orders --status`` accepts exactly these).
ORDER_STATUSES = ("canceled", "executed", "intended", "rejected", "resting", "unknown")


@dataclass(frozen=True, slots=True)
class OrderAck:
    """The venue's answer to one order we sent (or the reason it has none)."""

    client_order_id: str
    ticker: str
    order_id: str | None
    status: str  # resting | executed | canceled | rejected | unknown
    fill_count: Count
    remaining_count: Count
    error_code: str = ""


@dataclass(frozen=True, slots=True)
class OrderUpdate:
    """An order of ours changed on the venue (the user-orders stream, or a REST listing)."""

    order_id: str
    client_order_id: str
    ticker: str
    side: str | None  # BookSide, None when the venue did not say
    yes_price: Price
    status: str
    fill_count: Count
    remaining_count: Count
    ts_ns: int


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution of one of our orders."""

    fill_id: str
    order_id: str
    ticker: str
    side: str  # BookSide of our order
    yes_price: Price
    count: Count
    fee: Money
    is_taker: bool
    ts_ns: int
    source: str = "stream"  # stream | rest (found by reconciliation) | replay


#: Namespace of our client order ids (a fixed random UUID: ids from other software never collide).
CLIENT_ORDER_NAMESPACE = uuid.UUID("6f1c7c0e-2b0a-5d7e-9a55-6b7862746331")
_NAMESPACE_BYTES = CLIENT_ORDER_NAMESPACE.bytes


def client_order_id(*parts: str | int) -> str:
    """A deterministic client order id: uuid5 of the parts (run id, strategy, market, sequence).

    A venue never frees an id (Kalshi answers 409 to a reuse even after a cancel), so the parts include
    the run id; the same run re-creates the same ids, which is what resolves a crash between send and
    answer by lookup instead of a second order.
    """
    if not parts:
        raise ValueError("client_order_id needs at least one part")
    # ``uuid.uuid5`` spelled out (the same id: a test compares): it builds a UUID object only to format
    # it, half of this id's ~10 us on the order path.
    digest = bytearray(
        hashlib.sha1(_NAMESPACE_BYTES + "\x1f".join(str(p) for p in parts).encode()).digest()[:16]
    )
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    x = digest.hex()
    return f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]}"
