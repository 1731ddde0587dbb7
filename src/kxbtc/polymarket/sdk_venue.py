"""Live Polymarket order entry through the official unified SDK (``polymarket-client``): the only module
that imports it.

Everything above this module sees our own types: ``LiveVenueSettings`` in, ``PolyOrderResult`` out, and
errors from ``kxbtc.errors`` carrying the exchange's message and status. The SDK does the parts that are
easy to get wrong (errata Part 4 §1.8, §2): the deposit-wallet (signature type 3, ERC-7739-wrapped)
EIP-712 order signature with domain version "2" (or "3" for Protocol V2 position ids), L1 API-key
derivation and the L2 HMAC headers, and the tick/amount rounding of each market.

An order is a limit order (exact share count, price cap) signed by the SDK and posted fill-or-kill:
``orderType`` is not part of the signed struct, so the signed limit order is posted as FOK. A FOK the
book cannot fill comes back as the SDK's ``RejectedOrder`` (``fok_not_filled``) and is returned as
``killed``; a refusal of the request itself (bad signature, unknown key, geoblock) raises.

Fees: the CLOB's order answer carries no fee. The fee is computed with the market's rate on the average
fill price (``making / taking``), the same model as the paper venue; reconcile against ``/data/trades``
before trusting it with real money (errata Part 4 §7.4).

Pointing the SDK at another host (the simulator): the SDK ships only its production environment, so
``_environment`` copies that configuration with our URLs through the SDK's own ``create_environment``
helper (in ``polymarket._internal``: no public hook exists in 0.14.0). Chain id and contract addresses
stay production's, so orders are signed exactly as they would be for the real exchange.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

from polymarket import PRODUCTION, AsyncSecureClient
from polymarket._internal.environment import PRODUCTION_CONFIG, create_environment
from polymarket.environments import Environment
from polymarket.errors import PolymarketError, RequestRejectedError, TransportError
from polymarket.models.clob import ApiKeyCreds
from polymarket.models.clob.order_response import AcceptedOrder
from polymarket.models.types import OrderSide

from kxbtc.clock import Clock, SystemClock
from kxbtc.errors import (
    AuthError,
    ConfigError,
    ExchangeError,
    NetworkError,
    RateLimitedError,
    RejectedError,
    ServerError,
)
from kxbtc.polymarket.book import BUY, SELL
from kxbtc.polymarket.venue import FILLED, KILLED, PolyOrderResult
from kxbtc.pricing.polymarket_fees import DEFAULT_CRYPTO_FEE_RATE, polymarket_taker_fee
from kxbtc.units import COUNT_SCALE, MONEY_SCALE, PRICE_SCALE, Count, Money, Price

__all__ = ["LiveVenueSettings", "SdkPolymarketVenue", "sdk_environment"]

log = logging.getLogger(__name__)

PRODUCTION_CLOB_URL = "https://clob.polymarket.com"
#: Order states after which a delayed order will not fill any more.
_TERMINAL = frozenset({"MATCHED", "CANCELED", "CANCELLED", "UNMATCHED", "EXPIRED"})


@dataclass(frozen=True, slots=True)
class LiveVenueSettings:
    """What live order entry needs. Secrets are never shown in a repr."""

    private_key: str = field(repr=False)
    clob_url: str = PRODUCTION_CLOB_URL
    gamma_url: str = "https://gamma-api.polymarket.com"
    relayer_url: str = "https://relayer-v2.polymarket.com"
    #: The deposit wallet (maker = signer, type 3). None: the SDK derives the signer's own wallet.
    wallet: str | None = None
    #: Existing L2 credentials; None derives them from the key (L1 ``/auth/derive-api-key``).
    api_key: str | None = field(default=None, repr=False)
    api_secret: str | None = field(default=None, repr=False)
    api_passphrase: str | None = field(default=None, repr=False)


def sdk_environment(settings: LiveVenueSettings) -> Environment:
    """Production's environment with our hosts (the same object when nothing differs from production)."""
    hosts = (settings.clob_url, settings.gamma_url, settings.relayer_url)
    production = (PRODUCTION_CONFIG.clob_url, PRODUCTION_CONFIG.gamma_url, PRODUCTION_CONFIG.relayer_url)
    if tuple(url.rstrip("/") for url in hosts) == production:
        return PRODUCTION
    config = dataclasses.replace(
        PRODUCTION_CONFIG,
        clob_url=settings.clob_url.rstrip("/"),
        gamma_url=settings.gamma_url.rstrip("/"),
        relayer_url=settings.relayer_url.rstrip("/"),
    )
    return create_environment(name="kxbtc", config=config)


def _error(exc: PolymarketError, what: str) -> ExchangeError:
    """The SDK's error as ours, with the exchange's message, code and status."""
    if isinstance(exc, RequestRejectedError):
        status, code = exc.status, exc.code or f"http_{exc.status}"
        kind: type[ExchangeError]
        if status in (401, 403):
            kind = AuthError
        elif status in (425, 429):
            kind = RateLimitedError
        elif status >= 500:
            kind = ServerError
        else:
            kind = RejectedError
        return kind(str(exc), code=code, status=status, method="POST", path=what)
    if isinstance(exc, TransportError):
        return NetworkError(str(exc), method="POST", path=what)
    return RejectedError(f"{type(exc).__name__}: {exc}", code="sdk_error", path=what)


def _decimal_price(price: int) -> Decimal:
    return Decimal(price) / PRICE_SCALE


def _decimal_size(count: int) -> Decimal:
    return Decimal(count) / COUNT_SCALE


class SdkPolymarketVenue:
    """A ``PolymarketVenue`` on the real exchange (or the simulator), through ``AsyncSecureClient``."""

    def __init__(
        self,
        client: AsyncSecureClient,
        *,
        clock: Clock | None = None,
        fee_rates: dict[str, Fraction] | None = None,
        delayed_polls: int = 10,
        delayed_poll_s: float = 0.5,
    ) -> None:
        self._client = client
        self._clock: Clock = clock if clock is not None else SystemClock()
        self.delayed_polls = delayed_polls
        self.delayed_poll_s = delayed_poll_s
        self.fee_rates: dict[str, Fraction] = dict(fee_rates or {})
        self.default_fee_rate = DEFAULT_CRYPTO_FEE_RATE
        self.results: list[PolyOrderResult] = []

    @classmethod
    async def connect(cls, settings: LiveVenueSettings, clock: Clock | None = None) -> SdkPolymarketVenue:
        """Sign in: derive (or check) the API credentials and make sure the wallet is deployed."""
        if not settings.private_key:
            raise ConfigError("Polymarket live order entry needs a private key (see README, Polymarket)")
        parts = (settings.api_key, settings.api_secret, settings.api_passphrase)
        credentials = None
        if all(parts):
            credentials = ApiKeyCreds.model_validate(
                {
                    "apiKey": settings.api_key,
                    "secret": settings.api_secret,
                    "passphrase": settings.api_passphrase,
                }
            )
        elif any(parts):
            raise ConfigError("Polymarket API credentials need all three of key, secret and passphrase")
        try:
            client = await AsyncSecureClient.create(
                private_key=settings.private_key,
                wallet=settings.wallet,
                environment=sdk_environment(settings),
                credentials=credentials,
            )
        except PolymarketError as exc:
            raise _error(exc, "/auth") from exc
        log.info("Polymarket: signed in; wallet %s (%s)", client.wallet, client.wallet_type)
        return cls(client, clock=clock)

    @property
    def wallet(self) -> str:
        return str(self._client.wallet)

    async def closed_only(self) -> bool:
        """Whether the account may only close positions (``/auth/ban-status/closed-only``)."""
        try:
            return await self._client.get_closed_only_mode()
        except PolymarketError as exc:
            raise _error(exc, "/auth/ban-status/closed-only") from exc

    async def aclose(self) -> None:
        await self._client.close()

    async def place_fok(self, token: str, side: str, price: Price, size: Count) -> PolyOrderResult:
        if side != BUY and side != SELL:
            raise RejectedError(f"unknown side {side!r}", code="bad_side")
        sdk_side: OrderSide = "BUY" if side == BUY else "SELL"
        try:
            signed = await self._client.create_limit_order(
                token_id=token, price=_decimal_price(price), size=_decimal_size(size), side=sdk_side
            )
            # The order type is not signed: the same signed limit order is posted fill-or-kill.
            response = await self._client.post_order(dataclasses.replace(signed, order_type="FOK"))
            if isinstance(response, AcceptedOrder) and response.status == "delayed":
                result = await self._delayed(token, side, price, size, response.order_id)
                self.results.append(result)
                return result
        except PolymarketError as exc:
            raise _error(exc, "/order") from exc
        result = self._result(token, side, price, size, response)
        self.results.append(result)
        return result

    async def _delayed(
        self, token: str, side: str, price: Price, size: Count, order_id: str
    ) -> PolyOrderResult:
        """A taker order the exchange holds for its delay: read the order until it is matched or gone.

        The fill price is not in the order record, so the notional is taken at the limit price (an upper
        bound for a buy, a lower bound for a sale) until ``/data/trades`` reconciles it.
        """
        for _ in range(self.delayed_polls):
            await self._clock.sleep(self.delayed_poll_s)
            order = await self._client.get_order(order_id=order_id)
            matched = Count(int(order.size_matched * COUNT_SCALE))
            if order.status.upper() not in _TERMINAL and matched < size:
                continue
            if matched < size:
                reason = f"fok_not_filled: delayed order {order.status.lower()}"
                return PolyOrderResult(token, side, price, size, KILLED, Count(0), Money(0), Money(0), reason)
            fee = polymarket_taker_fee(price, matched, self.fee_rates.get(token, self.default_fee_rate))
            cash = Money(price * matched)
            return PolyOrderResult(token, side, price, size, FILLED, matched, cash, fee, "", order_id)
        raise NetworkError(
            f"order {order_id} still delayed after {self.delayed_polls} reads: outcome unknown",
            code="poly_outcome_unknown",
            method="GET",
            path="/data/order",
        )

    def _result(self, token: str, side: str, price: Price, size: Count, response: object) -> PolyOrderResult:
        if not isinstance(response, AcceptedOrder) or response.status != "matched":
            reason = getattr(response, "message", "") or f"not matched ({getattr(response, 'status', '?')})"
            code = getattr(response, "code", "")
            return PolyOrderResult(
                token, side, price, size, KILLED, Count(0), Money(0), Money(0), f"{code}: {reason}"
            )
        # BUY: making = pUSD paid, taking = shares received; SELL the other way round.
        cash, shares = (
            (response.making_amount, response.taking_amount)
            if side == BUY
            else (response.taking_amount, response.making_amount)
        )
        filled = Count(int(shares * COUNT_SCALE))
        notional = Money(int(cash * MONEY_SCALE))
        avg = Price(int(cash / shares * PRICE_SCALE)) if shares else price
        rate = self.fee_rates.get(token, self.default_fee_rate)
        fee = polymarket_taker_fee(avg, filled, rate)
        return PolyOrderResult(token, side, price, size, FILLED, filled, notional, fee, "", response.order_id)
