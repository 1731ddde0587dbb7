"""The kxbtc client's whole flow against the simulator over real loopback HTTP and WebSocket.

Discover the BTC markets, stream their books, place, amend, decrease and cancel orders, take
liquidity, receive the fill on the stream, read it back with positions and, once the market has
closed, the settlement. The simulator and the client share one loop on virtual time
(``kxbtc.virtual_loop``): every wait below is in simulated seconds, the same on any machine.
"""

from __future__ import annotations

import asyncio
from typing import Any

from engine_harness import on_virtual_time, virtual_sim

from kxbtc.book.orderbook import OrderBook
from kxbtc.clock import NS_PER_S, LoopClock
from kxbtc.errors import NotFoundError
from kxbtc.kalshi.discovery import open_contracts
from kxbtc.kalshi.rest import KalshiRestClient, client_order_id
from kxbtc.kalshi.rest_messages import order_request
from kxbtc.kalshi.ws import KalshiWsClient, QueueHandler
from kxbtc.kalshi.ws_messages import Fill
from kxbtc.sim.exchange import Exchange
from kxbtc.units import Count, Price, parse_count


async def _wait_for(queue: asyncio.Queue[tuple[str, Any]], kind: str, timeout_s: float = 10.0) -> Any:
    async def loop() -> Any:
        while True:
            got, payload = await queue.get()
            if got == kind:
                return payload

    return await asyncio.wait_for(loop(), timeout_s)


@on_virtual_time
async def test_discover_stream_trade_and_settle_against_the_simulator() -> None:
    clock = LoopClock((1_780_315_200 + 60) * NS_PER_S)  # a minute into a window, at midday
    exchange = Exchange(clock, seed=11)
    async with virtual_sim(exchange, step_interval_s=0.02) as sim:
        signer = sim.signer()
        handler = QueueHandler()
        async with KalshiRestClient(sim.rest_url, signer, clock) as rest:
            ws = KalshiWsClient(sim.ws_url, signer, clock, handler=handler)
            async with ws:
                # Discover: the open 15-minute market and the hourly ladder, from the API. A window in its
                # last minutes can be priced at certainty with no asks left, so start on a fresh one.
                [window] = [
                    s for s in await open_contracts(rest, "KXBTC15M") if s.is_open_at(clock.time_ns())
                ]
                if window.close_time_ns - clock.time_ns() < 8 * 60 * NS_PER_S:
                    await clock.sleep((window.close_time_ns - clock.time_ns()) / NS_PER_S + 12)
                    [window] = [
                        s for s in await open_contracts(rest, "KXBTC15M") if s.is_open_at(clock.time_ns())
                    ]
                ladder = await open_contracts(rest, "KXBTCD")
                assert window.exchange_index == 2 and window.strike_type == "greater_or_equal"
                assert ladder and all(s.strike_type == "greater" for s in ladder)

                # Stream: the WS book equals the exchange's REST book once both describe the same moment.
                await ws.subscribe("orderbook_delta", market_tickers=[window.ticker])
                await ws.subscribe(["fill", "user_orders"])
                await asyncio.wait_for(_until(lambda: ws.is_tradeable(window.ticker)), 10)
                book = ws.books[window.ticker]
                assert book.yes_ask() is not None and book.best_yes_bid() is not None
                assert book.yes_ask() == 10_000 - (book.best_no_bid() or 0)
                rest_book = await rest.get_orderbook(window.ticker)
                snapshot = OrderBook(window.ticker)
                snapshot.apply_snapshot(rest_book.yes_levels(), rest_book.no_levels(), no_in_yes_prices=False)
                assert snapshot.best_yes_bid() is not None

                # Place a resting bid far below the market, amend it, decrease it, cancel it.
                coid = client_order_id("flow-test", window.ticker, 1)
                resting = await rest.create_order(
                    order_request(
                        ticker=window.ticker,
                        client_order_id=coid,
                        side="bid",
                        price=Price(500),
                        count=Count(500),
                        time_in_force="good_till_canceled",
                        exchange_index=window.exchange_index,
                    )
                )
                assert parse_count(resting.remaining_count) == 500
                amended = await rest.amend_order(
                    resting.order_id,
                    ticker=window.ticker,
                    side="bid",
                    price=Price(600),
                    total_count=Count(400),
                    exchange_index=window.exchange_index,
                    client_order_id=coid,
                    updated_client_order_id=client_order_id("flow-test", window.ticker, 2),
                )
                order_id = amended.order_id
                order = await rest.get_order(order_id)
                assert order.yes_price_dollars == "0.0600"
                decreased = await rest.decrease_order(
                    order_id,
                    market_ticker=window.ticker,
                    exchange_index=window.exchange_index,
                    reduce_by=Count(100),
                )
                assert parse_count(decreased.remaining_count) == 300
                cancelled = await rest.cancel_order(
                    order_id, market_ticker=window.ticker, exchange_index=window.exchange_index
                )
                assert cancelled.reduced == 300
                try:
                    await rest.cancel_order(
                        order_id, market_ticker=window.ticker, exchange_index=window.exchange_index
                    )
                except NotFoundError as exc:
                    assert exc.code == "not_found"
                else:
                    raise AssertionError("cancelling a cancelled order must be a 404")

                # Take liquidity: a "market" buy, a FOK bid at the top of the market's own grid (0.99 on a
                # cent grid, 0.999 on a subpenny one) that fills at the makers' prices, however far the ask
                # moved before the order lands; the fill arrives on the stream.
                await asyncio.wait_for(_until(lambda: book.yes_ask() is not None), 10)
                top_of_grid = window.grid.ticks()[-1]
                taker = await rest.create_order(
                    order_request(
                        ticker=window.ticker,
                        client_order_id=client_order_id("flow-test", window.ticker, 3),
                        side="bid",
                        price=top_of_grid,
                        count=Count(100),
                        time_in_force="fill_or_kill",
                        exchange_index=window.exchange_index,
                    )
                )
                assert parse_count(taker.fill_count) == 100
                fill: Fill = await _wait_for(handler.queue, "fill")
                assert fill.msg.order_id == taker.order_id and fill.msg.book_side == "bid"
                fills = [f async for f in rest.iter_fills(ticker=window.ticker)]
                assert [f.fill_id for f in fills] == [fill.msg.trade_id]
                positions = await rest.get_positions(ticker=window.ticker)
                assert [p.position for p in positions.market_positions or []] == [100]

                # Settle: wait for the close, then the settlement record credits $1 per winning contract.
                await clock.sleep((window.close_time_ns - clock.time_ns()) / NS_PER_S + 30)
                for _ in range(100):
                    settlements = [s async for s in rest.iter_settlements(ticker=window.ticker)]
                    if settlements:
                        break
                    await clock.sleep(6)
                [settlement] = settlements
                assert settlement.revenue == (100 if settlement.market_result == "yes" else 0)


async def _until(predicate: Any) -> None:
    while not predicate():  # noqa: ASYNC110  # polling a plain predicate the client exposes
        await asyncio.sleep(0.02)
