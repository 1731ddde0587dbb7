"""Async Kalshi REST client (Trade API v2) on httpx2.

Every attempt is signed afresh over the full path (``/trade-api/v2/...``, no query). Retries only where a
repeat cannot do harm:

- reads (GET): network errors, 429 and 5xx, with jittered exponential backoff;
- creates: the same body again (same ``client_order_id``, so the exchange deduplicates); a 409
  ``order_already_exists`` after an attempt whose outcome is unknown is resolved by finding the order
  by its client_order_id and returned as success;
- cancels: 429 only (the request was not processed), plus network errors and 5xx when the caller says a
  404 is acceptable (``not_found_ok``), since a repeated cancel of a done cancel answers 404;
- amend/decrease and transfers: 429 only.

Cancels always carry ``market_ticker`` and ``exchange_index``: without them a V2 cancel goes to shard 0,
and BTC orders live on shard 2 (errata item 5). Request bodies carry counts and prices as strings.
"""

from __future__ import annotations

import enum
import logging
import random
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Generic, Protocol, TypeVar, Unpack
from urllib.parse import quote, urlsplit

import httpx2

from kxbtc.backoff import equal_jitter
from kxbtc.clock import Clock, SystemClock
from kxbtc.errors import (
    ConflictError,
    ExchangeError,
    NetworkError,
    NotFoundError,
    ProtocolError,
    RateLimitedError,
    RetryableError,
    ServerError,
)
from kxbtc.kalshi.auth import Signer
from kxbtc.kalshi.error_bodies import ORDER_ALREADY_EXISTS, code_is, item_error, parse_error
from kxbtc.kalshi.ratelimit import RateLimiter
from kxbtc.kalshi.rest_filters import (
    EventFilters,
    FillFilters,
    MarketFilters,
    OrderFilters,
    SettlementFilters,
    TradeFilters,
)
from kxbtc.kalshi.rest_messages import (
    AccountLimits,
    AmendOrderRequest,
    AmendOrderResult,
    Balance,
    BatchCancelItem,
    BatchCancelRequest,
    BatchCancelResult,
    BatchCreateItem,
    BatchCreateRequest,
    BatchCreateResult,
    BookSide,
    CancelOrderResult,
    CancelRequestItem,
    Candlestick,
    CandlesticksResponse,
    CreateOrderRequest,
    CreateOrderResult,
    DecreaseOrderRequest,
    DecreaseOrderResult,
    EndpointCosts,
    Event,
    EventResponse,
    EventsPage,
    ExchangeStatus,
    Fill,
    FillsPage,
    Market,
    MarketOrderbook,
    MarketResponse,
    MarketsPage,
    Order,
    OrderbookFp,
    OrderbookResponse,
    OrderbooksResponse,
    OrderResponse,
    OrdersPage,
    PositionsPage,
    Series,
    SeriesFeeChange,
    SeriesFeeChanges,
    SeriesList,
    SeriesResponse,
    Settlement,
    SettlementsPage,
    Trade,
    TradesPage,
    Transfer,
    TransferCreated,
    TransferRequest,
    TransferResponse,
    TransfersPage,
    UserDataTimestamp,
    decode,
    encode,
    money_to_centicents,
    parse_rfc3339_ns,
)
from kxbtc.units import Count, Money, Price, format_count, format_price

log = logging.getLogger(__name__)

T = TypeVar("T")

#: The exchange's historical (and still documented) cap on items per batch call.
MAX_BATCH = 20
ORDERS_V2 = "/portfolio/events/orders"

# Client order ids have one scheme for every venue (the domain's); re-exported here for callers.
from kxbtc.domain.orders import client_order_id  # noqa: E402


class RequestSigner(Protocol):
    """What the client needs from ``kxbtc.kalshi.auth.Signer`` (which satisfies it)."""

    def headers(self, method: str, path: str, ts_ms: int | None = None) -> dict[str, str]: ...


@dataclass(frozen=True, slots=True)
class ResponseInfo:
    """One HTTP exchange, for clock sync (the Date header) and metrics."""

    method: str
    path: str
    status: int
    date_header: str | None
    sent_ns: int
    received_ns: int

    @property
    def server_time_ns(self) -> int | None:
        """The server's Date header as Unix ns (1 s resolution), or None if absent or unparseable."""
        if not self.date_header:
            return None
        try:
            return int(parsedate_to_datetime(self.date_header).timestamp()) * 1_000_000_000
        except (TypeError, ValueError):
            return None


OnResponse = Callable[[ResponseInfo], None]


class Retry(enum.Enum):
    NEVER = "never"
    RATE_LIMIT = "rate_limit"  # 429 only: the server did not process the request
    SAFE = "safe"  # network errors, 429, 5xx


@dataclass(slots=True)
class _Attempts:
    """What happened across one logical request's attempts."""

    count: int = 0
    # True once an attempt may have reached the exchange without us seeing the answer.
    ambiguous: bool = False


Params = list[tuple[str, str | int | float | bool | None]]


def _params(**values: Any) -> Params:
    """Query parameters: None dropped, bools as true/false, sequences comma-joined."""
    out: Params = []
    for key, value in values.items():
        if value is None:
            continue
        if isinstance(value, bool):
            out.append((key, "true" if value else "false"))
        elif isinstance(value, Sequence) and not isinstance(value, str):
            if value:
                out.append((key, ",".join(str(v) for v in value)))
        else:
            out.append((key, str(value)))
    return out


def _seg(value: str) -> str:
    """One path segment, escaped (tickers are safe, but an order id is caller input)."""
    return quote(value, safe="")


def _event_query(filters: EventFilters) -> Params:
    """``event_tickers`` goes out as the comma-joined ``event_ticker`` the API names it."""
    renamed = {("event_ticker" if key == "event_tickers" else key): value for key, value in filters.items()}
    return _params(**renamed)


def _market_query(filters: MarketFilters) -> Params:
    """The named filters, then ``extra`` as it is."""
    named = {key: value for key, value in filters.items() if key != "extra"}
    return _params(**named, **dict(filters.get("extra") or {}))


class _Paged(Protocol):
    @property
    def cursor(self) -> str | None: ...


PageT = TypeVar("PageT", bound=_Paged)
ItemT = TypeVar("ItemT")


@dataclass(frozen=True, slots=True)
class _ListEndpoint(Generic[PageT, ItemT]):
    """A cursor-paged GET: its path, its page type and where a page keeps its items."""

    path: str
    page: type[PageT]
    items: Callable[[PageT], list[ItemT] | None]


_EVENTS: _ListEndpoint[EventsPage, Event] = _ListEndpoint("/events", EventsPage, lambda p: p.events)
_MARKETS: _ListEndpoint[MarketsPage, Market] = _ListEndpoint("/markets", MarketsPage, lambda p: p.markets)
_TRADES: _ListEndpoint[TradesPage, Trade] = _ListEndpoint("/markets/trades", TradesPage, lambda p: p.trades)
_FILLS: _ListEndpoint[FillsPage, Fill] = _ListEndpoint("/portfolio/fills", FillsPage, lambda p: p.fills)
_ORDERS: _ListEndpoint[OrdersPage, Order] = _ListEndpoint("/portfolio/orders", OrdersPage, lambda p: p.orders)
_SETTLEMENTS: _ListEndpoint[SettlementsPage, Settlement] = _ListEndpoint(
    "/portfolio/settlements", SettlementsPage, lambda p: p.settlements
)


@dataclass(slots=True)
class RestStats:
    """What the client survived: for operators and tests, without reading log text."""

    requests: int = 0
    retries: int = 0
    #: Order creates whose outcome was unknown (lost response, reset, 5xx) and were re-sent.
    order_write_retries: int = 0
    #: Creates answered 409 after an unknown outcome and settled by finding the order by its id.
    resolved_by_lookup: int = 0


class KalshiRestClient:
    """Kalshi Trade API v2 over HTTP. Use as ``async with KalshiRestClient(...) as client:``.

    ``base_url`` includes the API prefix, e.g. ``https://external-api.kalshi.com/trade-api/v2``.
    ``signer`` may be None for public market data only.
    """

    def __init__(
        self,
        base_url: str,
        signer: Signer | RequestSigner | None,
        clock: Clock | None = None,
        *,
        timeout_s: float = 10.0,
        max_retries: int = 3,
        backoff_base_s: float = 0.2,
        backoff_max_s: float = 5.0,
        rate_limiter: RateLimiter | None = None,
        on_response: OnResponse | None = None,
        lookup_attempts: int = 4,
        lookup_delay_s: float = 0.25,
        rng: random.Random | None = None,
        transport: httpx2.AsyncBaseTransport | None = None,
    ) -> None:
        parts = urlsplit(base_url.rstrip("/"))
        if not parts.scheme or not parts.netloc:
            raise ValueError(f"base_url must be absolute, got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self._prefix = parts.path  # "/trade-api/v2": part of the signed path
        self._signer = signer
        self._clock: Clock = clock if clock is not None else SystemClock()
        self.max_retries = max_retries
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.rate_limiter = rate_limiter
        self.stats = RestStats()
        self.on_response = on_response
        self.lookup_attempts = lookup_attempts
        self.lookup_delay_s = lookup_delay_s
        self._rng = rng if rng is not None else random.Random()
        self._http = httpx2.AsyncClient(
            base_url=self.base_url,
            timeout=httpx2.Timeout(timeout_s),
            headers={"Accept": "application/json"},
            transport=transport,
            follow_redirects=False,
        )

    async def __aenter__(self) -> KalshiRestClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # ----------------------------------------------------------------------------------------------
    # Transport

    def full_path(self, path: str) -> str:
        """The path as signed and as the cost table names it: ``/trade-api/v2`` + ``path``."""
        return self._prefix + path

    def _backoff(self, attempt: int) -> float:
        return equal_jitter(attempt - 1, self.backoff_base_s, self.backoff_max_s, self._rng)

    async def _send_once(
        self, method: str, path: str, params: Params | None, body: bytes | None, items: int
    ) -> httpx2.Response:
        full = self.full_path(path)
        if self.rate_limiter is not None:
            await self.rate_limiter.acquire(method, full, items)
        headers: dict[str, str] = {}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if self._signer is not None:
            # Fresh timestamp and signature on every attempt; the signer's clock is the corrected one.
            headers.update(self._signer.headers(method, full))
        sent_ns = self._clock.time_ns()
        try:
            response = await self._http.request(method, path, params=params, content=body, headers=headers)
        except httpx2.TransportError as exc:
            raise NetworkError(f"{type(exc).__name__}: {exc}", method=method, path=full) from exc
        if self.on_response is not None:
            info = ResponseInfo(
                method,
                full,
                response.status_code,
                response.headers.get("date"),
                sent_ns,
                self._clock.time_ns(),
            )
            try:
                self.on_response(info)
            except Exception:  # a broken metrics hook must not break trading
                log.exception("on_response hook failed for %s %s", method, full)
        return response

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        body: bytes | None = None,
        retry: Retry = Retry.SAFE,
        items: int = 1,
        attempts: _Attempts | None = None,
    ) -> bytes:
        """Send with retries per ``retry``; return the 2xx body or raise the typed error."""
        state = attempts if attempts is not None else _Attempts()
        full = self.full_path(path)
        while True:
            state.count += 1
            self.stats.requests += 1
            try:
                response = await self._send_once(method, path, params, body, items)
            except NetworkError as exc:
                state.ambiguous = True
                error: ExchangeError = exc
            else:
                if response.is_success:
                    return response.content
                error = parse_error(response.status_code, response.content, method=method, path=full)
                if isinstance(error, ServerError):
                    state.ambiguous = True
                if isinstance(error, RateLimitedError) and self.rate_limiter is not None:
                    self.rate_limiter.bucket_for(method, full).drain()
            if not self._should_retry(error, retry) or state.count > self.max_retries:
                raise error
            delay = self._backoff(state.count)
            self.stats.retries += 1
            if method == "POST" and "/orders" in full and state.ambiguous:
                self.stats.order_write_retries += 1
            log.warning("retrying %s %s in %.3fs (attempt %d): %s", method, full, delay, state.count, error)
            await self._clock.sleep(delay)

    @staticmethod
    def _should_retry(error: ExchangeError, retry: Retry) -> bool:
        if retry is Retry.NEVER:
            return False
        if retry is Retry.RATE_LIMIT:
            return isinstance(error, RateLimitedError)
        return isinstance(error, RetryableError)

    async def _get(self, path: str, kind: type[T], params: Params | None = None) -> T:
        raw = await self._request("GET", path, params=params, retry=Retry.SAFE)
        return decode(raw, kind, f"GET {self.full_path(path)}")

    async def _get_page(
        self, endpoint: _ListEndpoint[PageT, ItemT], filters: Params, cursor: str | None
    ) -> PageT:
        return await self._get(endpoint.path, endpoint.page, [*filters, *_params(cursor=cursor)])

    async def _pages(self, endpoint: _ListEndpoint[PageT, ItemT], filters: Params) -> AsyncIterator[PageT]:
        """Follow ``cursor`` until it is empty, absent or null; a repeated cursor is a protocol error."""
        seen: set[str] = set()
        cursor: str | None = None
        while True:
            page = await self._get_page(endpoint, filters, cursor)
            yield page
            cursor = page.cursor
            if not cursor:
                return
            if cursor in seen:
                raise ProtocolError(
                    f"GET {self.full_path(endpoint.path)}: cursor {cursor!r} repeated; stopping"
                )
            seen.add(cursor)

    async def _iter_items(
        self, endpoint: _ListEndpoint[PageT, ItemT], filters: Params
    ) -> AsyncIterator[ItemT]:
        async for page in self._pages(endpoint, filters):
            for item in endpoint.items(page) or ():
                yield item

    # ----------------------------------------------------------------------------------------------
    # Exchange, series, events, markets (public)

    async def get_exchange_status(self) -> ExchangeStatus:
        return await self._get("/exchange/status", ExchangeStatus)

    async def get_user_data_timestamp(self) -> UserDataTimestamp:
        return await self._get("/exchange/user_data_timestamp", UserDataTimestamp)

    async def get_series(self, series_ticker: str) -> Series:
        return (await self._get(f"/series/{_seg(series_ticker)}", SeriesResponse)).series

    async def list_series(self, *, category: str | None = None, tags: str | None = None) -> list[Series]:
        page = await self._get("/series", SeriesList, _params(category=category, tags=tags))
        return page.series or []

    async def get_series_fee_changes(
        self, series_ticker: str | None = None, *, show_historical: bool | None = None
    ) -> list[SeriesFeeChange]:
        params = _params(series_ticker=series_ticker, show_historical=show_historical)
        return (await self._get("/series/fee_changes", SeriesFeeChanges, params)).series_fee_change_arr or []

    async def get_events(self, *, cursor: str | None = None, **filters: Unpack[EventFilters]) -> EventsPage:
        return await self._get_page(_EVENTS, _event_query(filters), cursor)

    def iter_events(self, **filters: Unpack[EventFilters]) -> AsyncIterator[Event]:
        return self._iter_items(_EVENTS, _event_query(filters))

    async def get_event(self, event_ticker: str, *, with_nested_markets: bool = True) -> EventResponse:
        params = _params(with_nested_markets=with_nested_markets)
        return await self._get(f"/events/{_seg(event_ticker)}", EventResponse, params)

    async def get_markets(
        self, *, cursor: str | None = None, **filters: Unpack[MarketFilters]
    ) -> MarketsPage:
        """One page of ``GET /markets``. ``extra`` passes other filters (``min_close_ts`` ...)."""
        return await self._get_page(_MARKETS, _market_query(filters), cursor)

    def iter_markets(self, **filters: Unpack[MarketFilters]) -> AsyncIterator[Market]:
        """Every market matching the filters, following cursors to the last page."""
        return self._iter_items(_MARKETS, _market_query(filters))

    async def get_market(self, ticker: str) -> Market:
        return (await self._get(f"/markets/{_seg(ticker)}", MarketResponse)).market

    async def get_orderbook(self, ticker: str, *, depth: int | None = None) -> OrderbookFp:
        """Bids per leg. Take the best bid as the max price: the array order is not settled."""
        params = _params(depth=depth)
        return (await self._get(f"/markets/{_seg(ticker)}/orderbook", OrderbookResponse, params)).orderbook_fp

    async def get_orderbooks(self, tickers: Sequence[str]) -> list[MarketOrderbook]:
        if not 1 <= len(tickers) <= 100:
            raise ValueError("get_orderbooks takes 1 to 100 tickers")
        params: Params = [("tickers", t) for t in tickers]  # repeated, not comma-joined
        return (await self._get("/markets/orderbooks", OrderbooksResponse, params)).orderbooks or []

    async def get_trades(self, *, cursor: str | None = None, **filters: Unpack[TradeFilters]) -> TradesPage:
        return await self._get_page(_TRADES, _params(**filters), cursor)

    def iter_trades(self, **filters: Unpack[TradeFilters]) -> AsyncIterator[Trade]:
        return self._iter_items(_TRADES, _params(**filters))

    async def get_candlesticks(
        self, series_ticker: str, ticker: str, *, start_ts: int, end_ts: int, period_interval: int = 1
    ) -> list[Candlestick]:
        """Candles of ``period_interval`` minutes (1, 60 or 1440) between Unix seconds start and end."""
        path = f"/series/{_seg(series_ticker)}/markets/{_seg(ticker)}/candlesticks"
        params = _params(start_ts=start_ts, end_ts=end_ts, period_interval=period_interval)
        return (await self._get(path, CandlesticksResponse, params)).candlesticks or []

    # ----------------------------------------------------------------------------------------------
    # Portfolio and account (signed)

    async def get_balance(
        self, *, subaccount: int | None = None, exchange_index: int | None = None
    ) -> Balance:
        params = _params(subaccount=subaccount, exchange_index=exchange_index)
        return await self._get("/portfolio/balance", Balance, params)

    async def get_positions(
        self,
        *,
        ticker: str | None = None,
        event_ticker: str | None = None,
        count_filter: str | None = None,
        subaccount: int | None = None,
        exchange_index: int | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> PositionsPage:
        params = _params(
            ticker=ticker,
            event_ticker=event_ticker,
            count_filter=count_filter,
            subaccount=subaccount,
            exchange_index=exchange_index,
            limit=limit,
            cursor=cursor,
        )
        return await self._get("/portfolio/positions", PositionsPage, params)

    async def get_fills(self, *, cursor: str | None = None, **filters: Unpack[FillFilters]) -> FillsPage:
        return await self._get_page(_FILLS, _params(**filters), cursor)

    def iter_fills(self, **filters: Unpack[FillFilters]) -> AsyncIterator[Fill]:
        return self._iter_items(_FILLS, _params(**filters))

    async def get_orders(self, *, cursor: str | None = None, **filters: Unpack[OrderFilters]) -> OrdersPage:
        return await self._get_page(_ORDERS, _params(**filters), cursor)

    def iter_orders(self, **filters: Unpack[OrderFilters]) -> AsyncIterator[Order]:
        """Orders newest first, across pages."""
        return self._iter_items(_ORDERS, _params(**filters))

    async def get_order(self, order_id: str) -> Order:
        """One order. The read model lags writes by ~hundreds of ms: do not trust one post-write GET."""
        return (await self._get(f"/portfolio/orders/{_seg(order_id)}", OrderResponse)).order

    async def get_settlements(
        self, *, cursor: str | None = None, **filters: Unpack[SettlementFilters]
    ) -> SettlementsPage:
        return await self._get_page(_SETTLEMENTS, _params(**filters), cursor)

    def iter_settlements(self, **filters: Unpack[SettlementFilters]) -> AsyncIterator[Settlement]:
        return self._iter_items(_SETTLEMENTS, _params(**filters))

    async def get_account_limits(self) -> AccountLimits:
        return await self._get("/account/limits", AccountLimits)

    async def get_endpoint_costs(self) -> EndpointCosts:
        return await self._get("/account/endpoint_costs", EndpointCosts)

    async def configure_rate_limits(self) -> RateLimiter:
        """Size the client's token buckets from the account's limits and the endpoint cost table."""
        limits = await self.get_account_limits()
        costs = await self.get_endpoint_costs()
        self.rate_limiter = RateLimiter.from_wire(self._clock, limits, costs)
        return self.rate_limiter

    # ----------------------------------------------------------------------------------------------
    # Shard transfers

    async def intra_exchange_transfer(
        self,
        amount: Money,
        *,
        source_shard: int,
        destination_shard: int,
        source_subaccount: int | None = None,
        destination_subaccount: int | None = None,
    ) -> str:
        """Move collateral between shards (e.g. 0 -> 2 before trading BTC). Returns the transfer id.

        Asynchronous on the exchange: poll ``get_transfer`` until ``status == "complete"``.
        """
        if amount <= 0:
            raise ValueError("transfer amount must be positive")
        request = TransferRequest(
            source="event_contract",
            destination="event_contract",
            amount=money_to_centicents(amount),
            source_exchange_shard=source_shard,
            destination_exchange_shard=destination_shard,
            source_subaccount=source_subaccount,
            destination_subaccount=destination_subaccount,
        )
        path = "/portfolio/intra_exchange_instance_transfer"
        raw = await self._request("POST", path, body=encode(request), retry=Retry.RATE_LIMIT)
        return decode(raw, TransferCreated, f"POST {self.full_path(path)}").transfer_id

    async def get_transfers(self, *, limit: int | None = None, cursor: str | None = None) -> TransfersPage:
        params = _params(limit=limit, cursor=cursor)
        return await self._get("/portfolio/intra_exchange_instance_transfers", TransfersPage, params)

    async def get_transfer(self, transfer_id: str) -> Transfer:
        path = f"/portfolio/intra_exchange_instance_transfers/{_seg(transfer_id)}"
        return (await self._get(path, TransferResponse)).transfer

    # ----------------------------------------------------------------------------------------------
    # V2 order entry

    async def create_order(
        self, order: CreateOrderRequest, *, assume_sent: bool = False
    ) -> CreateOrderResult:
        """Place one order; retried with the same client_order_id where safe.

        A 409 ``order_already_exists`` is resolved by looking the order up when an earlier attempt's
        outcome was unknown, or when ``assume_sent`` says the caller already sent this order (a re-send
        after a crash or a failed call). Otherwise the 409 is raised: the id belongs to someone else.
        """
        if not order.client_order_id:
            raise ValueError("every order needs a client_order_id")
        state = _Attempts()
        try:
            raw = await self._request("POST", ORDERS_V2, body=encode(order), retry=Retry.SAFE, attempts=state)
        except ConflictError as exc:
            if code_is(exc.code, ORDER_ALREADY_EXISTS) and (state.ambiguous or assume_sent):
                return await self._resolve_existing(order, exc)
            raise
        return decode(raw, CreateOrderResult, f"POST {self.full_path(ORDERS_V2)}")

    async def find_order_by_client_id(
        self,
        client_order_id: str,
        ticker: str,
        *,
        subaccount: int | None = None,
        max_pages: int = 5,
    ) -> Order | None:
        """The order with this client_order_id in ``ticker``, searching newest first, or None."""
        pages = 0
        async for page in self._pages(_ORDERS, _params(ticker=ticker, subaccount=subaccount, limit=200)):
            for order in page.orders or ():
                if order.client_order_id == client_order_id:
                    return order
            pages += 1
            if pages >= max_pages:
                break
        return None

    async def _resolve_existing(
        self, request: CreateOrderRequest, conflict: ConflictError
    ) -> CreateOrderResult:
        """Find the order a duplicate create refers to; the read model may lag, so look a few times."""
        for attempt in range(self.lookup_attempts):
            if attempt:
                await self._clock.sleep(self.lookup_delay_s)
            order = await self.find_order_by_client_id(
                request.client_order_id, request.ticker, subaccount=request.subaccount
            )
            if order is None:
                continue
            if order.book_side not in (None, request.side) or order.yes_price_dollars != request.price:
                raise ConflictError(
                    "client_order_id is taken by a different order",
                    code=conflict.code,
                    status=conflict.status,
                    details=f"existing order {order.order_id}: {order.book_side} @ {order.yes_price_dollars}",
                    method=conflict.method,
                    path=conflict.path,
                ) from conflict
            self.stats.resolved_by_lookup += 1
            log.info("create %s resolved by lookup: order %s", request.client_order_id, order.order_id)
            return _result_from_order(order)
        raise conflict

    async def cancel_order(
        self,
        order_id: str,
        *,
        market_ticker: str,
        exchange_index: int | None,
        subaccount: int | None = None,
        not_found_ok: bool = False,
    ) -> CancelOrderResult | None:
        """Cancel one order. ``market_ticker`` and ``exchange_index`` are required: without them the
        exchange routes to shard 0 (pass ``exchange_index=None`` only to auto-route by ticker).

        With ``not_found_ok`` a 404 (unknown, already canceled, executed) returns None, which also makes
        network errors and 5xx safe to retry.
        """
        path = f"{ORDERS_V2}/{_seg(order_id)}"
        params = _params(subaccount=subaccount, exchange_index=exchange_index, market_ticker=market_ticker)
        retry = Retry.SAFE if not_found_ok else Retry.RATE_LIMIT
        try:
            raw = await self._request("DELETE", path, params=params, retry=retry)
        except NotFoundError:
            if not_found_ok:
                return None
            raise
        return decode(raw, CancelOrderResult, f"DELETE {self.full_path(path)}")

    async def amend_order(
        self,
        order_id: str,
        *,
        ticker: str,
        side: BookSide,
        price: Price,
        total_count: Count,
        exchange_index: int | None,
        client_order_id: str | None = None,
        updated_client_order_id: str | None = None,
        subaccount: int | None = None,
    ) -> AmendOrderResult:
        """Change price and/or size. ``total_count`` is the NEW TOTAL: already filled + desired remaining."""
        request = AmendOrderRequest(
            ticker=ticker,
            side=side,
            price=format_price(price),
            count=format_count(total_count),
            client_order_id=client_order_id,
            updated_client_order_id=updated_client_order_id,
            exchange_index=exchange_index,
        )
        path = f"{ORDERS_V2}/{_seg(order_id)}/amend"
        raw = await self._request(
            "POST", path, params=_params(subaccount=subaccount), body=encode(request), retry=Retry.RATE_LIMIT
        )
        return decode(raw, AmendOrderResult, f"POST {self.full_path(path)}")

    async def decrease_order(
        self,
        order_id: str,
        *,
        market_ticker: str,
        exchange_index: int | None,
        reduce_by: Count | None = None,
        reduce_to: Count | None = None,
        subaccount: int | None = None,
    ) -> DecreaseOrderResult:
        """Shrink a resting order keeping its queue place; exactly one of ``reduce_by``/``reduce_to``."""
        if (reduce_by is None) == (reduce_to is None):
            raise ValueError("pass exactly one of reduce_by and reduce_to")
        request = DecreaseOrderRequest(
            reduce_by=None if reduce_by is None else format_count(reduce_by),
            reduce_to=None if reduce_to is None else format_count(reduce_to),
            exchange_index=exchange_index,
            market_ticker=market_ticker,
        )
        path = f"{ORDERS_V2}/{_seg(order_id)}/decrease"
        raw = await self._request(
            "POST", path, params=_params(subaccount=subaccount), body=encode(request), retry=Retry.RATE_LIMIT
        )
        return decode(raw, DecreaseOrderResult, f"POST {self.full_path(path)}")

    def _batch_size(self, method: str, path: str) -> int:
        if self.rate_limiter is None:
            return MAX_BATCH
        # A batch the bucket cannot cover at once is rejected whole; keep chunks within capacity.
        return max(1, min(MAX_BATCH, self.rate_limiter.max_batch_items(method, self.full_path(path))))

    async def batch_create_orders(self, orders: Sequence[CreateOrderRequest]) -> list[BatchCreateItem]:
        """Create many orders in chunks of at most 20; one result per input order, in input order.

        Per-item rejections come back in the item's ``error`` (use ``batch_item_error``). Chunks are
        retried like single creates, and an item's ``order_already_exists`` after an ambiguous attempt is
        resolved by lookup.
        """
        ids = [o.client_order_id for o in orders]
        if any(not i for i in ids):
            raise ValueError("every order needs a client_order_id")
        if len(set(ids)) != len(ids):
            raise ValueError("client_order_ids in one batch must be distinct")
        path = f"{ORDERS_V2}/batched"
        results: list[BatchCreateItem] = []
        for chunk in _chunks(orders, self._batch_size("POST", path)):
            state = _Attempts()
            body = encode(BatchCreateRequest(orders=list(chunk)))
            raw = await self._request(
                "POST", path, body=body, retry=Retry.SAFE, items=len(chunk), attempts=state
            )
            reply = decode(raw, BatchCreateResult, f"POST {self.full_path(path)}")
            items = _align(
                chunk, reply.orders, lambda o: o.client_order_id, lambda r: r.client_order_id, path
            )
            for request, item in zip(chunk, items, strict=True):
                if (
                    state.ambiguous
                    and item.error is not None
                    and code_is(item.error.code, ORDER_ALREADY_EXISTS)
                ):
                    item = await self._resolve_batch_item(request, item)
                results.append(item)
        return results

    async def _resolve_batch_item(
        self, request: CreateOrderRequest, item: BatchCreateItem
    ) -> BatchCreateItem:
        assert item.error is not None
        conflict = ConflictError(item.error.message or item.error.code, code=item.error.code, status=409)
        try:
            found = await self._resolve_existing(request, conflict)
        except ConflictError:
            return item
        return BatchCreateItem(
            order_id=found.order_id,
            client_order_id=found.client_order_id,
            fill_count=found.fill_count,
            remaining_count=found.remaining_count,
            ts_ms=found.ts_ms,
            resolved_by_lookup=True,
        )

    async def batch_cancel_orders(
        self, orders: Sequence[CancelRequestItem], *, not_found_ok: bool = False
    ) -> list[BatchCancelItem]:
        """Cancel many orders in chunks of at most 20; one result per input, in input order.

        Each item must name its ``market_ticker`` (shard routing). A per-item 404 comes back in the
        item's ``error``. Retried on 429 only, unless ``not_found_ok``: then network errors and 5xx are
        retried too, and an order canceled by a lost first attempt shows up as a ``not_found`` item.
        """
        if any(not o.market_ticker for o in orders):
            raise ValueError("every cancel needs its market_ticker (else it routes to shard 0)")
        path = f"{ORDERS_V2}/batched"
        results: list[BatchCancelItem] = []
        for chunk in _chunks(orders, self._batch_size("DELETE", path)):
            body = encode(BatchCancelRequest(orders=list(chunk)))
            retry = Retry.SAFE if not_found_ok else Retry.RATE_LIMIT
            raw = await self._request("DELETE", path, body=body, retry=retry, items=len(chunk))
            reply = decode(raw, BatchCancelResult, f"DELETE {self.full_path(path)}")
            results.extend(_align(chunk, reply.orders, lambda o: o.order_id, lambda r: r.order_id, path))
        return results


def batch_item_error(item: BatchCreateItem | BatchCancelItem) -> ExchangeError | None:
    """The typed error of a failed batch item (NotFoundError, ConflictError, RejectedError), or None."""
    if item.error is None:
        return None
    return item_error(item.error.code, item.error.message, item.error.details or "")


def _result_from_order(order: Order) -> CreateOrderResult:
    ts_ms = parse_rfc3339_ns(order.created_time) // 1_000_000 if order.created_time else None
    return CreateOrderResult(
        order_id=order.order_id,
        client_order_id=order.client_order_id or None,
        fill_count=order.fill_count_fp,
        remaining_count=order.remaining_count_fp,
        ts_ms=ts_ms,
        resolved_by_lookup=True,
    )


R = TypeVar("R")
Q = TypeVar("Q")


def _chunks(items: Sequence[Q], size: int) -> Iterable[Sequence[Q]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _align(
    requests: Sequence[Q],
    replies: list[R],
    request_key: Callable[[Q], str | None],
    reply_key: Callable[[R], str | None],
    path: str,
) -> list[R]:
    """Replies in request order: matched by key when every reply has one, else by position."""
    if len(replies) != len(requests):
        raise ProtocolError(f"{path}: {len(requests)} items sent, {len(replies)} results received")
    by_key = {reply_key(r): r for r in replies}
    if None not in by_key and len(by_key) == len(replies):
        try:
            return [by_key[request_key(q)] for q in requests]
        except KeyError as exc:
            raise ProtocolError(f"{path}: result for {exc.args[0]!r} missing") from None
    return list(replies)


__all__ = [
    "MAX_BATCH",
    "KalshiRestClient",
    "RequestSigner",
    "ResponseInfo",
    "batch_item_error",
    "client_order_id",
]
