"""JSON bodies and frames of the simulated Polymarket venue, in Polymarket's wire shapes.

Gamma (docs/polymarket.md §6, errata Part 4 §6): events hold one market whose ``outcomes``,
``outcomePrices`` and ``clobTokenIds`` are JSON-encoded strings, with the fee schedule, tick and minimum
size of a live crypto market. CLOB ``/book`` lists bids ascending and asks descending (best last), as
the real one does; nothing may rely on that order. Market WebSocket (§5, errata Part 4 §5): ``book``
snapshots, ``price_change`` messages in the current format (top-level ``market`` and ``timestamp``,
``price_changes[]`` items with ``asset_id, price, size, side, hash, best_bid, best_ask``), and
``market_resolved``. Prices and sizes are loose decimal strings (``"0.48"``, ``"12.5"``, ``"1"``); an
empty side's best is ``"0"`` (bids) or ``"1"`` (asks).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from kxbtc.domain.updown import DOWN, UP
from kxbtc.sim.market_text import et_datetime
from kxbtc.sim.poly_books import LevelUpdate, SimBook
from kxbtc.sim.poly_config import PolySimConfig
from kxbtc.sim.poly_windows import RESOLVED, PolyWindow
from kxbtc.units import COUNT_SCALE, PRICE_SCALE

__all__ = [
    "book_body",
    "book_event",
    "gamma_event",
    "gamma_market",
    "market_resolved_event",
    "price_change_event",
    "wire_price",
    "wire_size",
]

Json = dict[str, Any]

RESOLUTION_SOURCE = "https://data.chain.link/streams/btc-usd"
DESCRIPTION = (
    'This market will resolve to "Up" if the Bitcoin price at the end of the time range specified in the '
    "title is greater than or equal to the price at the beginning of that range. Otherwise, it will "
    'resolve to "Down". In this simulation the price is the simulated BTC index (one value per second).'
)


def _decimal(value: int, scale: int) -> str:
    text = format(Decimal(value) / Decimal(scale), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def wire_price(price: int) -> str:
    """Price (1e-4 $) as Polymarket writes it: 4800 -> "0.48", 10000 -> "1", 0 -> "0"."""
    return _decimal(price, PRICE_SCALE)


def wire_size(count: int) -> str:
    """Count (1e-2 shares) as Polymarket writes it: 3334340 -> "33343.4"."""
    return _decimal(count, COUNT_SCALE)


def _best_bid(price: int | None) -> str:
    return wire_price(price) if price is not None else "0"


def _best_ask(price: int | None) -> str:
    return wire_price(price) if price is not None else "1"


def _iso(unix_s: int, *, millis: bool = False) -> str:
    when = datetime.fromtimestamp(unix_s, UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.000Z" if millis else "%Y-%m-%dT%H:%M:%SZ")


def _clock_text(unix_s: int) -> str:
    t = et_datetime(unix_s * 1_000_000_000)
    return f"{t.hour % 12 or 12}:{t.minute:02d}{'AM' if t.hour < 12 else 'PM'}"


def title(window: PolyWindow) -> str:
    """``Bitcoin Up or Down - June 1, 8:00AM-8:15AM ET``, as Polymarket titles these events."""
    day = et_datetime(window.start_s * 1_000_000_000)
    return (
        f"Bitcoin Up or Down - {day.strftime('%B')} {day.day}, "
        f"{_clock_text(window.start_s)}-{_clock_text(window.end_s)} ET"
    )


def _mid(book: SimBook | None) -> int | None:
    if book is None:
        return None
    bid, ask = book.best_bid(), book.best_ask()
    if bid is None or ask is None:
        return None
    return (bid + ask) // 2


def _outcome_prices(window: PolyWindow, up_book: SimBook | None) -> list[str]:
    if window.status == RESOLVED:
        return ["1", "0"] if window.winner == UP else ["0", "1"]
    up = _mid(up_book)
    if up is None:
        return ["0.5", "0.5"]
    return [wire_price(up), wire_price(PRICE_SCALE - up)]


def gamma_market(
    window: PolyWindow, config: PolySimConfig, up_book: SimBook | None, *, with_event: bool = False
) -> Json:
    resolved = window.status == RESOLVED
    market: Json = {
        "id": window.market_id,
        "question": title(window),
        "conditionId": window.condition_id,
        "slug": window.slug,
        "resolutionSource": RESOLUTION_SOURCE,
        "description": DESCRIPTION,
        "startDate": _iso(window.listed_s, millis=True),
        "eventStartTime": _iso(window.start_s),
        "endDate": _iso(window.end_s),
        "outcomes": json.dumps([UP, DOWN]),
        "outcomePrices": json.dumps(_outcome_prices(window, up_book)),
        "clobTokenIds": json.dumps(list(window.tokens)),
        "version": "v1",
        "active": True,
        "closed": resolved,
        "acceptingOrders": window.status == "open",
        "enableOrderBook": True,
        "negRisk": False,
        "restricted": True,
        "orderPriceMinTickSize": float(Decimal(config.tick) / PRICE_SCALE),
        "orderMinSize": float(Decimal(config.min_order_size) / COUNT_SCALE),
        "feesEnabled": config.fee_rate > 0,
        "feeType": "crypto_fees_v2",
        "feeSchedule": {
            "exponent": 1,
            "rate": float(config.fee_rate),
            "takerOnly": True,
            "rebateRate": 0.2,
        },
    }
    if up_book is not None and not resolved:
        bid, ask = up_book.best_bid(), up_book.best_ask()
        if bid is not None:
            market["bestBid"] = float(Decimal(bid) / PRICE_SCALE)
        if ask is not None:
            market["bestAsk"] = float(Decimal(ask) / PRICE_SCALE)
    if with_event:
        market["events"] = [{"id": window.event_id, "slug": window.slug, "title": title(window)}]
    return market


def gamma_event(window: PolyWindow, config: PolySimConfig, up_book: SimBook | None) -> Json:
    return {
        "id": window.event_id,
        "ticker": window.slug,
        "slug": window.slug,
        "title": title(window),
        "startDate": _iso(window.listed_s, millis=True),
        "endDate": _iso(window.end_s),
        "active": True,
        "closed": window.status == RESOLVED,
        "negRisk": False,
        "tags": [{"slug": "up-or-down"}, {"slug": "crypto-prices"}, {"slug": "recurring"}],
        "markets": [gamma_market(window, config, up_book)],
    }


def _levels(levels: dict[int, int], *, descending: bool) -> list[Json]:
    return [
        {"price": wire_price(price), "size": wire_size(size)}
        for price, size in sorted(levels.items(), reverse=descending)
    ]


def book_body(book: SimBook, config: PolySimConfig, ts_ms: int) -> Json:
    """``GET /book?token_id=``: bids ascending, asks descending (the best of each last)."""
    return {
        "market": book.market,
        "asset_id": book.asset_id,
        "timestamp": str(ts_ms),
        "hash": book.hash,
        "bids": _levels(book.bids, descending=False),
        "asks": _levels(book.asks, descending=True),
        "min_order_size": wire_size(config.min_order_size),
        "tick_size": wire_price(config.tick),
        "neg_risk": False,
    }


def book_event(book: SimBook, config: PolySimConfig, ts_ms: int) -> Json:
    """A ``book`` snapshot on the market channel."""
    return {"event_type": "book", **book_body(book, config, ts_ms)}


def _change_item(update: LevelUpdate) -> Json:
    return {
        "asset_id": update.asset_id,
        "price": wire_price(update.price),
        "size": wire_size(update.size),
        "side": update.side,
        "hash": update.hash,
        "best_bid": _best_bid(update.best_bid),
        "best_ask": _best_ask(update.best_ask),
    }


def price_change_event(market: str, ts_ms: int, updates: Iterable[LevelUpdate]) -> Json:
    return {
        "event_type": "price_change",
        "market": market,
        "price_changes": [_change_item(u) for u in updates],
        "timestamp": str(ts_ms),
    }


def market_resolved_event(window: PolyWindow, ts_ms: int) -> Json:
    return {
        "event_type": "market_resolved",
        "id": window.market_id,
        "market": window.condition_id,
        "assets_ids": list(window.tokens),
        "winning_asset_id": window.winning_token,
        "winning_outcome": window.winner,
        "timestamp": str(ts_ms),
    }


def dump_frame(events: Sequence[Json]) -> str:
    """The answer to a subscription: a JSON array of ``book`` events."""
    return json.dumps(list(events))
