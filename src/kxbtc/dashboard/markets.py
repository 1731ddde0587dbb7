"""The dashboard's markets view: what the engine last published for each live market (``market_state``),
shaped for the page, and pushed live as server-sent events.

``GET /api/markets`` answers one snapshot (the page's first fetch); ``GET /api/markets/stream`` is an
``text/event-stream`` that polls the database about once a second on the server side and sends a
``markets`` event with the whole snapshot each time it reads one (a ``db_error`` event when the database
cannot be read, and the stream goes on). Every time in the payload is the data's clock: the engine's
own time when it published, never the browser's.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from kxbtc.clock import NS_PER_S
from kxbtc.errors import KxbtcError
from kxbtc.ops.engine_status import duration_text, engine_view
from kxbtc.ops.render import JsonObject, iso_time
from kxbtc.store.live_view import MarketStateRecord, read_market_states
from kxbtc.units import COUNT_SCALE, PRICE_SCALE

#: The settlement average is over this many index seconds.
WINDOW_SAMPLES = 60
#: A comment line is sent at least this often, so proxies and browsers keep an idle stream open.
KEEPALIVE_S = 15.0


def price_text(price: int | None, places: int = 2) -> str | None:
    """A price in dollars with ``places`` places (2, or 4 where the grid needs them): ``6200`` -> ``0.62``;
    digits are never dropped (a sub-cent price keeps its 4 places)."""
    if price is None:
        return None
    whole, frac = divmod(price, PRICE_SCALE)
    text = f"{whole}.{frac:04d}"
    return text[:-2] if places == 2 and text.endswith("00") else text


def price_places(prices: list[int]) -> int:
    """2 when every price is on the cent grid, else 4: one market's prices line up in one format."""
    return 4 if any(p % 100 for p in prices) else 2


def count_text(count: int) -> str:
    """Contracts for a ladder cell: ``23000`` -> ``230``, ``250`` -> ``2.50``."""
    whole, frac = divmod(abs(count), COUNT_SCALE)
    sign = "-" if count < 0 else ""
    return f"{sign}{whole:,}" if frac == 0 else f"{sign}{whole:,}.{frac:02d}"


def cents_text(cents: int | None) -> str | None:
    if cents is None:
        return None
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(cents), 100)
    return f"{sign}${whole:,}.{frac:02d}"


def strike_text(m: MarketStateRecord) -> str:
    def usd(x: float | None) -> str:
        return "?" if x is None else f"${x:,.2f}"

    if m.strike_type == "between":
        return f"{usd(m.floor_strike)} to {usd(m.cap_strike)}"
    if m.strike_type in ("less", "less_or_equal"):
        return f"below {usd(m.cap_strike if m.cap_strike is not None else m.floor_strike)}"
    return f"above {usd(m.floor_strike)}"


def market_json(m: MarketStateRecord) -> JsonObject:
    best_bid = m.yes_bids[0][0] if m.yes_bids else None
    best_ask = m.yes_asks[0][0] if m.yes_asks else None
    seconds_to_close = (m.close_ns - m.ts_ns) / NS_PER_S
    window_average = m.window_sum_cents // m.window_count if m.window_count else None
    places = price_places([p for p, _ in m.yes_bids + m.yes_asks])

    def price(value: int | None) -> str | None:
        return price_text(value, places)

    return {
        "ticker": m.ticker,
        "series": m.series,
        "title": m.title,
        "strike": strike_text(m),
        "time": iso_time(m.ts_ns),
        "close": iso_time(m.close_ns),
        "seconds_to_close": round(seconds_to_close, 3),
        "to_close": "closed" if seconds_to_close <= 0 else duration_text(seconds_to_close),
        "bids": [{"price": price(p), "size": count_text(c), "raw": [p, c]} for p, c in m.yes_bids],
        "asks": [{"price": price(p), "size": count_text(c), "raw": [p, c]} for p, c in m.yes_asks],
        "best_bid": price(best_bid),
        "best_ask": price(best_ask),
        "fair": price_text(m.fair_yes, 4),
        "fair_raw": m.fair_yes,
        #: Fair value minus the ask (buying YES) and the bid minus fair value (selling YES), before fees.
        "edge_buy": _edge(m.fair_yes, best_ask, 1),
        "edge_sell": _edge(m.fair_yes, best_bid, -1),
        "window": {
            "samples": m.window_count,
            "of": WINDOW_SAMPLES,
            "average": cents_text(window_average),
            "opens_in": None
            if seconds_to_close <= WINDOW_SAMPLES
            else duration_text(seconds_to_close - WINDOW_SAMPLES),
        },
        "index": {
            "value": cents_text(m.index_cents),
            "source": m.index_source or "none",
            "age_s": None if not m.index_ts_ns else round(max(0, m.ts_ns - m.index_ts_ns) / NS_PER_S, 3),
            "stale": m.index_stale,
        },
        "book": {"state": m.book_state, "note": m.book_note},
        "feeds": m.feeds,
        "position": count_text(m.position),
        "position_raw": m.position,
    }


def _edge(fair: int | None, quote: int | None, sign: int) -> str | None:
    return None if fair is None or quote is None else price_text_signed(sign * (fair - quote))


def price_text_signed(diff: int) -> str:
    text = price_text(abs(diff)) or "0.00"
    return f"-{text}" if diff < 0 else f"+{text}"


def markets_payload(conn: sqlite3.Connection, db: Path, wall_now_ns: int) -> JsonObject:
    """The markets view: the engine's state, the data's time, every published market."""
    engine = engine_view(conn, wall_now_ns)
    markets = read_market_states(conn)
    newest = max((m.ts_ns for m in markets), default=None)
    data_ns = engine["market_time_ns"] if engine is not None else newest
    return {
        "db": str(db),
        "engine": engine,
        "data_time": None if data_ns is None else iso_time(int(data_ns)),
        "markets": [market_json(m) for m in markets],
    }


# -- the stream -------------------------------------------------------------------------------------


def describe(exc: BaseException) -> str:
    text = str(exc)
    if "not a database" in text or "malformed" in text:
        return "the file is not a valid kxbtc database (corrupt or not SQLite)"
    return text


def sse_event(event: str, data: JsonObject) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


async def market_events(
    read: Callable[[], Awaitable[JsonObject]],
    sleep: Callable[[float], Awaitable[None]],
    poll_s: float,
) -> AsyncIterator[bytes]:
    """The stream's frames: a ``markets`` snapshot per poll (at once on connect), an ``error`` event when
    the read fails, and a keepalive comment when the snapshots stop changing for a while."""
    last: bytes | None = None
    quiet_s = 0.0
    while True:
        try:
            frame = sse_event("markets", await read())
        except (sqlite3.Error, KxbtcError) as exc:  # what /api/ answers 503 for: told, and polled again
            frame = sse_event("db_error", {"error": describe(exc)})
        if frame != last or quiet_s >= KEEPALIVE_S:
            yield frame if frame != last else b": keepalive\n\n"
            last, quiet_s = frame, 0.0
        await sleep(poll_s)
        quiet_s += poll_s
