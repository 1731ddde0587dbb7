"""Discovery of Polymarket's 15-minute BTC up/down markets through the Gamma API.

The event slug is a pure function of the window start: ``btc-updown-15m-<unix seconds>``, windows on
:00/:15/:30/:45 UTC (docs §6, errata Part 4 §6.2). ``GET /events?slug=`` returns a list with that one
event, holding one market whose outcomes are ``["Up", "Down"]``; the token of each outcome sits at the
same index of the decoded token-id list (``clobTokenIds``, or ``positionIds`` on Protocol V2 markets).

Settlement differs from Kalshi's KXBTC15M: Up iff the Chainlink BTC/USD data-stream price at the window's
end is >= the price at its start. ``UpDownMarket`` keeps the description and resolution source so a
caller can check the rule per market rather than trust this docstring.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction

from kxbtc.clock import NS_PER_S, Clock
from kxbtc.domain.updown import DOWN, UP, WINDOW_S
from kxbtc.errors import NotFoundError, ProtocolError
from kxbtc.polymarket.book import DEFAULT_TICK
from kxbtc.polymarket.http import PolyHttp
from kxbtc.polymarket.messages import GammaEvent, GammaMarket, decode_gamma_events
from kxbtc.pricing.polymarket_fees import DEFAULT_CRYPTO_FEE_RATE, parse_fee_rate
from kxbtc.units import PRICE_SCALE, Count, Price

__all__ = [
    "DOWN",
    "UP",
    "WINDOW_S",
    "GammaClient",
    "UpDownMarket",
    "parse_window_start",
    "slug_for_window",
    "window_start_of",
]

SLUG_PREFIX = "btc-updown-15m-"


def window_start_of(unix_s: int) -> int:
    """The start (unix seconds) of the 15-minute window containing ``unix_s``."""
    return unix_s - unix_s % WINDOW_S


def slug_for_window(start_s: int) -> str:
    if start_s % WINDOW_S:
        raise ValueError(f"{start_s} is not on a 15-minute boundary (:00/:15/:30/:45 UTC)")
    return f"{SLUG_PREFIX}{start_s}"


def parse_window_start(text: str, clock: Clock) -> int:
    """``now`` or an ISO 8601 instant (naive means UTC) -> the start of its window, unix seconds."""
    if text.strip().lower() == "now":
        return window_start_of(clock.time_ns() // NS_PER_S)
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"not an ISO 8601 time or 'now': {text!r}") from exc
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return window_start_of(int(when.timestamp()))


def _iso_to_s(text: str | None) -> int | None:
    if not text:
        return None
    try:
        return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class UpDownMarket:
    """One 15-minute window's market, with what the strategy and the WS client need."""

    slug: str
    condition_id: str
    start_s: int
    end_s: int
    up_token: str
    down_token: str
    tick: Price = DEFAULT_TICK
    min_order_size: Count | None = None
    fee_rate: Fraction = DEFAULT_CRYPTO_FEE_RATE
    fees_enabled: bool = True
    accepting_orders: bool | None = None
    closed: bool | None = None
    description: str = ""
    resolution_source: str = ""

    @property
    def tokens(self) -> tuple[str, str]:
        return (self.up_token, self.down_token)

    @staticmethod
    def from_event(event: GammaEvent, start_s: int) -> UpDownMarket:
        if len(event.markets) != 1:
            raise ProtocolError(f"event {event.slug}: expected one market, got {len(event.markets)}")
        market = event.markets[0]
        tokens = market.outcome_tokens()
        if set(tokens) != {UP, DOWN}:
            raise ProtocolError(f"event {event.slug}: outcomes {sorted(tokens)} are not Up/Down")
        end_s = _iso_to_s(market.endDate) or _iso_to_s(event.endDate) or start_s + WINDOW_S
        market_start = _iso_to_s(market.eventStartTime)
        if market_start is not None and market_start != start_s:
            raise ProtocolError(f"event {event.slug}: eventStartTime {market.eventStartTime} != slug start")
        if end_s - start_s != WINDOW_S:
            raise ProtocolError(f"event {event.slug}: window {start_s}..{end_s} is not 15 minutes")
        return UpDownMarket(
            slug=event.slug,
            condition_id=market.conditionId,
            start_s=start_s,
            end_s=end_s,
            up_token=tokens[UP],
            down_token=tokens[DOWN],
            tick=_tick(market),
            min_order_size=_min_size(market),
            fee_rate=_fee_rate(market),
            fees_enabled=market.feesEnabled is not False,
            accepting_orders=market.acceptingOrders,
            closed=market.closed,
            description=market.description,
            resolution_source=market.resolutionSource,
        )


def _tick(market: GammaMarket) -> Price:
    if market.orderPriceMinTickSize is None:
        return DEFAULT_TICK
    tick = market.orderPriceMinTickSize * PRICE_SCALE
    if tick != tick.to_integral_value() or not 0 < tick < PRICE_SCALE:
        raise ProtocolError(f"market {market.conditionId}: tick {market.orderPriceMinTickSize} unusable")
    return Price(int(tick))


def _min_size(market: GammaMarket) -> Count | None:
    if market.orderMinSize is None:
        return None
    return Count(int(market.orderMinSize * 100))


def _fee_rate(market: GammaMarket) -> Fraction:
    """``feeSchedule.rate`` per market (errata Part 4 §7.2: never hard-code it); 0 when fees are off."""
    if market.feesEnabled is False:
        return Fraction(0)
    if market.feeSchedule is not None and market.feeSchedule.rate is not None:
        return parse_fee_rate(market.feeSchedule.rate)
    return DEFAULT_CRYPTO_FEE_RATE


class GammaClient:
    def __init__(self, http: PolyHttp) -> None:
        self.http = http

    async def event_by_slug(self, slug: str) -> GammaEvent:
        events = decode_gamma_events(await self.http.get("/events", [("slug", slug)]))
        matching = [e for e in events if e.slug == slug]
        if not matching:
            raise NotFoundError(f"no Gamma event with slug {slug!r}", code="event_not_found", path="/events")
        return matching[0]

    async def updown_15m(self, start_s: int) -> UpDownMarket:
        """The BTC up/down market of the window starting at ``start_s``."""
        slug = slug_for_window(start_s)
        return UpDownMarket.from_event(await self.event_by_slug(slug), start_s)
