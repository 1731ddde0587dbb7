"""Find the live BTC contracts from the API: series -> open events (with markets) -> ``ContractSpec``.

- KXBTC15M: the one market whose window contains now (``open_time <= now < close_time``).
- KXBTCD / KXBTC: the ladder of the earliest-closing open event (the current hour).

Everything that matters for trading comes from the API, never from the ticker: strikes
(``floor_strike``/``cap_strike`` as exact Decimals, ``strike_type``), times, the shard
(``exchange_index``: market, else event, else series), the tick grid (``price_ranges``) and the fee
schedule (the series' ``fee_type``/``fee_multiplier``, overridden by the event's ``*_override``).
A 15-minute market's strike can still be absent just after creation: ``floor_strike`` is then None.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from kxbtc.domain.instrument import Instrument
from kxbtc.kalshi.rest_messages import Event, Market, Series
from kxbtc.kalshi.tickers import (
    SERIES_15M,
    SERIES_ABOVE_BELOW,
    SERIES_RANGE,
    TickerError,
    check_market_ticker,
)
from kxbtc.pricing.fees import FeeSchedule
from kxbtc.units import PriceGrid

log = logging.getLogger(__name__)

#: Market statuses in which orders are accepted ("open" is the older spelling).
TRADEABLE_STATUSES = frozenset({"active", "open"})


class DiscoveryClient(Protocol):
    """The two calls discovery needs (``KalshiRestClient`` provides them)."""

    async def get_series(self, series_ticker: str) -> Series: ...

    def iter_events(
        self,
        *,
        series_ticker: str | None = None,
        status: str | None = None,
        with_nested_markets: bool | None = None,
        event_tickers: Sequence[str] | None = None,
        min_close_ts: int | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[Event]: ...


@dataclass(frozen=True, slots=True)
class ContractSpec:
    """One tradeable market with everything needed to price, quote and cancel it."""

    ticker: str
    event_ticker: str
    series_ticker: str
    status: str
    strike_type: str
    floor_strike: Decimal | None
    cap_strike: Decimal | None
    open_time_ns: int
    close_time_ns: int
    exchange_index: int | None
    grid: PriceGrid
    fees: FeeSchedule
    yes_sub_title: str = ""

    def is_open_at(self, now_ns: int) -> bool:
        return self.status in TRADEABLE_STATUSES and self.open_time_ns <= now_ns < self.close_time_ns

    def instrument(self) -> Instrument:
        """The domain's view of this market (strikes as floats for the model)."""
        return Instrument(
            ticker=self.ticker,
            event_ticker=self.event_ticker,
            series=self.series_ticker,
            strike_type=self.strike_type,
            floor_strike=float(self.floor_strike) if self.floor_strike is not None else None,
            cap_strike=float(self.cap_strike) if self.cap_strike is not None else None,
            open_ns=self.open_time_ns,
            close_ns=self.close_time_ns,
            fees=self.fees,
            status=self.status,
            grid=self.grid,
            exchange_index=self.exchange_index,
            title=self.yes_sub_title,
        )

    @property
    def has_strike(self) -> bool:
        if self.strike_type == "between":
            return self.floor_strike is not None and self.cap_strike is not None
        if self.strike_type in ("less", "less_or_equal"):
            return self.cap_strike is not None
        return self.floor_strike is not None


@dataclass(frozen=True, slots=True)
class BtcContracts:
    btc15m: ContractSpec | None
    above_below: list[ContractSpec]
    ranges: list[ContractSpec]


def fee_schedule(series: Series, event: Event | None = None) -> FeeSchedule:
    fee_type = series.fee_type
    multiplier: Decimal = series.fee_multiplier
    if event is not None:
        fee_type = event.fee_type_override or fee_type
        if event.fee_multiplier_override is not None:
            multiplier = event.fee_multiplier_override
    return FeeSchedule.from_wire(fee_type, str(multiplier))


def contract_spec(market: Market, event: Event, series: Series) -> ContractSpec:
    exchange_index = market.exchange_index
    if exchange_index is None:
        exchange_index = event.exchange_index if event.exchange_index is not None else series.exchange_index
    return ContractSpec(
        ticker=market.ticker,
        event_ticker=market.event_ticker,
        series_ticker=series.ticker,
        status=market.status,
        strike_type=market.strike_type or "",
        floor_strike=market.floor_strike,
        cap_strike=market.cap_strike,
        open_time_ns=market.open_time_ns,
        close_time_ns=market.close_time_ns,
        exchange_index=exchange_index,
        grid=market.grid(),
        fees=fee_schedule(series, event),
        yes_sub_title=market.yes_sub_title,
    )


async def open_contracts(client: DiscoveryClient, series_ticker: str) -> list[ContractSpec]:
    """Every tradeable market of the series' open events, with its series and event context."""
    series = await client.get_series(series_ticker)
    specs: list[ContractSpec] = []
    async for event in client.iter_events(
        series_ticker=series_ticker, status="open", with_nested_markets=True
    ):
        for market in event.markets or ():
            if market.status not in TRADEABLE_STATUSES:
                continue
            spec = contract_spec(market, event, series)
            try:
                check_market_ticker(spec.ticker, series_ticker, spec.close_time_ns)
            except TickerError as exc:
                # Tickers are labels; the API's fields rule. Worth a log line, not a refusal.
                log.warning("ticker disagrees with the API's close time: %s", exc)
            specs.append(spec)
    return specs


def current_window(specs: Sequence[ContractSpec], now_ns: int) -> ContractSpec | None:
    """The market whose window contains ``now_ns`` (earliest close if several)."""
    live = [s for s in specs if s.is_open_at(now_ns)]
    return min(live, key=lambda s: (s.close_time_ns, s.ticker)) if live else None


def current_ladder(specs: Sequence[ContractSpec], now_ns: int) -> list[ContractSpec]:
    """The markets of the earliest-closing event still open at ``now_ns``, by strike."""
    live = [s for s in specs if s.is_open_at(now_ns)]
    if not live:
        return []
    first = min(live, key=lambda s: (s.close_time_ns, s.event_ticker))
    ladder = [s for s in live if s.event_ticker == first.event_ticker]
    return sorted(ladder, key=_strike_key)


def _strike_key(spec: ContractSpec) -> tuple[Decimal, Decimal, str]:
    # Lower tails (cap only) first, then by floor, then by cap.
    low = spec.floor_strike if spec.floor_strike is not None else Decimal("-Infinity")
    high = spec.cap_strike if spec.cap_strike is not None else Decimal("Infinity")
    return (low, high, spec.ticker)


async def discover_btc15m(client: DiscoveryClient, now_ns: int) -> ContractSpec | None:
    return current_window(await open_contracts(client, SERIES_15M), now_ns)


async def discover_ladder(client: DiscoveryClient, series_ticker: str, now_ns: int) -> list[ContractSpec]:
    return current_ladder(await open_contracts(client, series_ticker), now_ns)


async def discover_btc(client: DiscoveryClient, now_ns: int) -> BtcContracts:
    """The open KXBTC15M market and the current-hour KXBTCD and KXBTC ladders."""
    return BtcContracts(
        btc15m=await discover_btc15m(client, now_ns),
        above_below=await discover_ladder(client, SERIES_ABOVE_BELOW, now_ns),
        ranges=await discover_ladder(client, SERIES_RANGE, now_ns),
    )
