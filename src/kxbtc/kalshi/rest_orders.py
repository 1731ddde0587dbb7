"""V2 order entry: create, cancel, amend and decrease, one by one or in batches, with the create's
duplicate resolution.

A create is retried with the same ``client_order_id``; a 409 ``order_already_exists`` after an attempt
whose outcome is unknown is resolved by finding the order by its client_order_id and returned as
success. Cancels always carry ``market_ticker`` and ``exchange_index``: without them a V2 cancel goes to
shard 0, and BTC orders live on shard 2 (errata item 5). Request bodies carry counts and prices as
strings.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from kxbtc.errors import ConflictError, ExchangeError, NotFoundError, ProtocolError
from kxbtc.kalshi.error_bodies import ORDER_ALREADY_EXISTS, code_is, item_error
from kxbtc.kalshi.rest_messages import (
    AmendOrderRequest,
    AmendOrderResult,
    BatchCancelItem,
    BatchCancelRequest,
    BatchCancelResult,
    BatchCreateItem,
    BatchCreateRequest,
    BatchCreateResult,
    BookSide,
    CancelOrderResult,
    CancelRequestItem,
    CreateOrderRequest,
    CreateOrderResult,
    DecreaseOrderRequest,
    DecreaseOrderResult,
    Order,
    decode,
    encode,
    parse_rfc3339_ns,
)
from kxbtc.kalshi.rest_paging import ORDERS_LIST, PagedReads
from kxbtc.kalshi.rest_transport import Attempts, Retry, StartedWrite, path_segment, query_params
from kxbtc.units import Count, Price, format_count, format_price

# The records keep the logger name they had when this code lived in ``kxbtc.kalshi.rest``.
log = logging.getLogger("kxbtc.kalshi.rest")

#: The exchange's historical (and still documented) cap on items per batch call.
MAX_BATCH = 20
ORDERS_V2 = "/portfolio/events/orders"


class OrderEndpoints(PagedReads):
    """Order entry (signed)."""

    def start_create(self, order: CreateOrderRequest) -> StartedWrite | None:
        """Write the create now, before returning (``RestTransport.start_write``), or None when it must go
        the usual way; pass the result to ``create_order(..., started=...)`` for the answer."""
        if not order.client_order_id:
            raise ValueError("every order needs a client_order_id")
        return self.start_write(ORDERS_V2, encode(order))

    async def create_order(
        self,
        order: CreateOrderRequest,
        *,
        assume_sent: bool = False,
        started: StartedWrite | None = None,
        send_by_ns: int | None = None,
    ) -> CreateOrderResult:
        """Place one order; retried with the same client_order_id where safe.

        A 409 ``order_already_exists`` is resolved by looking the order up when an earlier attempt's
        outcome was unknown, or when ``assume_sent`` says the caller already sent this order (a re-send
        after a crash or a failed call). Otherwise the 409 is raised: the id belongs to someone else.
        ``send_by_ns``: no attempt leaves after it (``SendDeadlineError``, or the last attempt's error when
        that one's outcome is unknown).
        """
        if not order.client_order_id:
            raise ValueError("every order needs a client_order_id")
        state = Attempts(send_by_ns=send_by_ns)
        try:
            raw = await self._request(
                "POST", ORDERS_V2, body=encode(order), retry=Retry.SAFE, attempts=state, started=started
            )
        except ConflictError as exc:
            if code_is(exc.code, ORDER_ALREADY_EXISTS) and (state.ambiguous or assume_sent):
                return await self._resolve_existing(order, exc)
            raise
        finally:
            self.presign_orders(ORDERS_V2)  # after the send: the next order's signature, off the hot path
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
        async for page in self._pages(
            ORDERS_LIST, query_params(ticker=ticker, subaccount=subaccount, limit=200)
        ):
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
        path = f"{ORDERS_V2}/{path_segment(order_id)}"
        params = query_params(
            subaccount=subaccount, exchange_index=exchange_index, market_ticker=market_ticker
        )
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
        path = f"{ORDERS_V2}/{path_segment(order_id)}/amend"
        raw = await self._request(
            "POST",
            path,
            params=query_params(subaccount=subaccount),
            body=encode(request),
            retry=Retry.RATE_LIMIT,
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
        path = f"{ORDERS_V2}/{path_segment(order_id)}/decrease"
        raw = await self._request(
            "POST",
            path,
            params=query_params(subaccount=subaccount),
            body=encode(request),
            retry=Retry.RATE_LIMIT,
        )
        return decode(raw, DecreaseOrderResult, f"POST {self.full_path(path)}")

    def _batch_size(self, method: str, path: str) -> int:
        if self.rate_limiter is None:
            return MAX_BATCH
        # A batch the bucket cannot cover at once is rejected whole; keep chunks within capacity.
        return max(1, min(MAX_BATCH, self.rate_limiter.max_batch_items(method, self.full_path(path))))

    async def batch_create_orders(
        self, orders: Sequence[CreateOrderRequest], *, send_by_ns: int | None = None
    ) -> list[BatchCreateItem]:
        """Create many orders in chunks of at most 20; one result per input order, in input order.

        Per-item rejections come back in the item's ``error`` (use ``batch_item_error``). Chunks are
        retried like single creates, and an item's ``order_already_exists`` after an ambiguous attempt is
        resolved by lookup. ``send_by_ns`` as for ``create_order``, for every chunk.
        """
        ids = [o.client_order_id for o in orders]
        if any(not i for i in ids):
            raise ValueError("every order needs a client_order_id")
        if len(set(ids)) != len(ids):
            raise ValueError("client_order_ids in one batch must be distinct")
        path = f"{ORDERS_V2}/batched"
        results: list[BatchCreateItem] = []
        for chunk in _chunks(orders, self._batch_size("POST", path)):
            state = Attempts(send_by_ns=send_by_ns)
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
