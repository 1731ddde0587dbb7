"""A stand-in for Coinbase Exchange's public candles endpoint, on 127.0.0.1 in a thread of its own.

``GET /products/BTC-USD/candles?granularity=60&start=ISO&end=ISO`` answers every minute in [start, end]
with a deterministic candle, newest first, as ``[time, low, high, open, close, volume]`` with JSON
numbers; more than 300 candles is Coinbase's 400. The first request for each window is answered 429
with ``Retry-After: 1``, so a client's retries can be counted.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime
from decimal import Decimal
from types import TracebackType

from aiohttp import web


def spot_candle(ts: int) -> list[object]:
    minute = ts // 60
    base = Decimal(100_000) + Decimal(minute % 997) / 4
    return [ts, base - 1, base + 2, base, base + Decimal("0.5"), Decimal(minute % 89) / 10**8 + 1]


def _ts(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


class SpotStub:
    def __init__(self) -> None:
        self.rate_limited = 0
        self.requests = 0
        self._seen: set[str] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="spot-stub", daemon=True)
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def _candles(self, request: web.Request) -> web.Response:
        self.requests += 1
        q = request.query
        if q.get("granularity") != "60":
            return web.json_response({"message": "Unsupported granularity"}, status=400)
        start, end = _ts(q["start"]), _ts(q["end"])
        if (end - start) // 60 + 1 > 300:
            return web.json_response(
                {"message": "granularity too small for the requested time range"}, status=400
            )
        if q["start"] not in self._seen:
            self._seen.add(q["start"])
            self.rate_limited += 1
            return web.json_response(
                {"message": "Public rate limit exceeded"}, status=429, headers={"Retry-After": "1"}
            )
        rows = [spot_candle(t) for t in range(end - end % 60, start - 1, -60)]
        # JSON numbers, as Coinbase sends them (Decimal's str keeps them exact).
        text = "[" + ",".join("[" + ",".join(str(v) for v in row) + "]" for row in rows) + "]"
        return web.Response(text=text, content_type="application/json")

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_get("/products/{product}/candles", self._candles)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    def __enter__(self) -> SpotStub:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=30)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()
