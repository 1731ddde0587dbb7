"""One-minute BTC-USD spot candles from Coinbase Exchange's public candles endpoint.

``GET /products/{product}/candles?granularity=60&start=ISO&end=ISO`` answers a JSON array of
``[time, low, high, open, close, volume]`` (time in Unix seconds, newest first, numbers as JSON
numbers). A request spanning more than 300 candles is rejected, so a range is asked for in windows of
300 minutes; minutes without trades have no candle, and a window may hold candles just before its
start, which are dropped here. Prices become integer cents, volume integer 1e-8 BTC: the numbers are
read as decimals, never through binary floats.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import quote

from kxbtc.errors import ProtocolError
from kxbtc.history.rows import SpotCandleRow, exact_scaled
from kxbtc.json_http import JsonGetter, query

#: Coinbase Exchange's public REST API.
COINBASE_EXCHANGE_URL = "https://api.exchange.coinbase.com"
PRODUCT = "BTC-USD"
GRANULARITY_S = 60
#: The most candles one request may span.
MAX_CANDLES = 300
WINDOW_S = MAX_CANDLES * GRANULARITY_S


def iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class SpotCandlesClient:
    """Coinbase Exchange candles over a ``JsonGetter`` whose base URL is the API root."""

    def __init__(self, http: JsonGetter, product: str = PRODUCT) -> None:
        self.http = http
        self.product = product

    async def window(self, start_ts: int) -> list[SpotCandleRow]:
        """The candles starting in [start_ts, start_ts + 300 min), oldest first."""
        last = start_ts + WINDOW_S - GRANULARITY_S  # inclusive end: exactly 300 buckets
        path = f"/products/{quote(self.product, safe='')}/candles"
        params = query(granularity=GRANULARITY_S, start=iso(start_ts), end=iso(last))
        body = await self.http.get(path, params)
        try:
            raw = json.loads(body, parse_float=Decimal, parse_int=Decimal)
        except ValueError:
            raise ProtocolError(f"GET {path}: response is not JSON") from None
        if not isinstance(raw, list):
            raise ProtocolError(f"GET {path}: expected an array of candles, got {type(raw).__name__}")
        rows = {row.start_ts: row for row in (self._row(item, path) for item in raw)}
        return [rows[t] for t in sorted(rows) if start_ts <= t <= last]

    def _row(self, item: object, path: str) -> SpotCandleRow:
        if not isinstance(item, list) or len(item) < 6:
            raise ProtocolError(f"GET {path}: candle {item!r} is not [time, low, high, open, close, volume]")
        time, low, high, open_, close, volume = item[:6]
        return SpotCandleRow(
            product=self.product,
            start_ts=exact_scaled(time, 0, "time"),
            low_cents=exact_scaled(low, 2, "low"),
            high_cents=exact_scaled(high, 2, "high"),
            open_cents=exact_scaled(open_, 2, "open"),
            close_cents=exact_scaled(close, 2, "close"),
            volume_e8=exact_scaled(volume, 8, "volume"),
        )


__all__ = ["COINBASE_EXCHANGE_URL", "MAX_CANDLES", "PRODUCT", "WINDOW_S", "SpotCandlesClient", "iso"]
