"""The engine wired to a simulator: paper trading, the demo, and every engine test use this one wiring.

The simulator checks signatures against real time, so the signer keeps the system clock even when the
exchange runs on a faster ``ScaledClock``; the WS client's connection housekeeping (pings, backoff) also
runs on real time, while the engine and the REST client trade on the simulator's clock.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from kxbtc.clock import Clock, SystemClock
from kxbtc.config import Config
from kxbtc.engine.core import Engine
from kxbtc.kalshi.rest import KalshiRestClient
from kxbtc.kalshi.ws import KalshiWsClient
from kxbtc.sim.harness import SimHarness
from kxbtc.store.db import SqliteStore
from kxbtc.strategy.base import Strategy


@asynccontextmanager
async def paper_engine(
    config: Config,
    sim: SimHarness,
    store: SqliteStore,
    clock: Clock,
    *,
    series: Sequence[str] = ("KXBTC15M",),
    strategies: Sequence[Strategy] | None = None,
    reconcile_every_s: float = 60.0,
    refresh_every_s: float = 15.0,
    housekeeping_clock: Clock | None = None,
) -> AsyncIterator[Engine]:
    """An engine trading on ``sim`` as its first trusted key; the REST client closes on exit.

    ``housekeeping_clock`` runs the sockets' pings and backoff: real time by default; on a virtual-time
    loop (``kxbtc.virtual_loop``) pass the one clock everything else runs on."""
    signer = sim.signer()
    housekeeping = housekeeping_clock or SystemClock()
    async with KalshiRestClient(sim.rest_url, signer, clock) as rest:
        ws = KalshiWsClient(sim.ws_url, signer, housekeeping)
        yield Engine(
            config,
            rest=rest,
            ws=ws,
            store=store,
            clock=clock,
            run_id=uuid.uuid4().hex,
            series=series,
            strategies=list(strategies) if strategies is not None else None,
            reconcile_every_s=reconcile_every_s,
            refresh_every_s=refresh_every_s,
            poly_ws_clock=housekeeping,
            simulated=True,  # the Polymarket socket's pings and backoff, like the Kalshi one's
        )
