"""The simulated exchange's knobs (``SimConfig``) and its shard constants."""

from __future__ import annotations

from dataclasses import dataclass

from kxbtc.units import Money

CRYPTO_SHARD = 2
DEFAULT_START_BALANCE = Money(1_000_000_000)  # $1,000 per new user
SHARDS = (0, 1, 2, 3)


@dataclass(frozen=True, slots=True)
class SimConfig:
    """Knobs of the simulated exchange. Defaults give realistic BTC markets with liquidity."""

    start_balance: Money = DEFAULT_START_BALANCE
    fund_shard: int = CRYPTO_SHARD
    #: 15-minute windows listed ahead of the current one (``initialized`` until they open).
    windows_ahead_15m: int = 2
    #: Hourly events are listed this long before they open.
    hourly_lead_s: int = 600
    #: KXBTCD strikes each side of spot; KXBTC buckets each side of spot.
    ladder_each_side: int = 8
    range_each_side: int = 6
    series: tuple[str, ...] = ("KXBTC15M", "KXBTCD", "KXBTC")
    #: Index history generated before the start, so the first windows have strikes.
    history_s: int = 7200
    #: A cancel/decrease with neither ``exchange_index`` nor ``market_ticker`` goes to shard 0 (errata 5):
    #: BTC orders live on shard 2, so it answers 404 as the real exchange would.
    strict_shard_routing: bool = True
    #: REST orderbook arrays ascending (best bid last) or descending (errata Part 1 item 2: unresolved).
    orderbook_ascending: bool = True
    #: Synthetic counterparties (see ``liquidity.LiquidityConfig``): off gives an empty exchange.
    counterparties: bool = True
    #: Scale of the makers' mispricing against the true fair probability (0 = small realistic noise).
    mispricing: float = 0.0
    max_batch: int = 20
    #: Kalshi's weekly trading pause, Thursday 03:00-05:00 ET (cancels allowed, no new orders).
    weekly_maintenance: bool = False
    #: Finalized markets (with their trades, candles and users' orders) older than this are forgotten.
    retain_finalized_s: int = 6 * 3600
    #: Settled markets and trades older than this are served only by the ``/historical`` endpoints, as
    #: Kalshi's archive does after about three months (``kxbtc.sim.history_tier``); None archives nothing.
    archive_after_s: int | None = None
    #: Synthetic-path parameters (ignored when ``prices`` is given).
    start_price: float = 100_000.0
    annual_vol: float = 0.52
