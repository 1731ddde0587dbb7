"""An opening order is not retried into the final-minute freeze (the 24-hour soak's one risk breach: an
order refused with a 429 at 61 s before close reached the exchange on a retry 53.7 s before it).

The risk gate gives every order that opens exposure a send deadline (``ApprovedOrder.send_by_ns``); the
REST client sends no attempt after it. Not sent at all is reported as ``send_deadline_passed``; an
attempt whose outcome is unknown is reported as that attempt's error, so reconciliation settles it.
Client and simulator share one loop on virtual time."""

from __future__ import annotations

from engine_harness import on_virtual_time, virtual_sim

from kxbtc.clock import NS_PER_S, LoopClock
from kxbtc.config import RiskConfig
from kxbtc.domain.orders import OrderIntent
from kxbtc.errors import ExchangeError, SendDeadlineError
from kxbtc.kalshi.rest import KalshiRestClient, client_order_id
from kxbtc.kalshi.rest_messages import order_request
from kxbtc.pricing.fees import BTC_DEFAULT_FEES
from kxbtc.risk.limits import ApprovedOrder, MarketRisk, RiskManager
from kxbtc.sim.exchange import Exchange, SimConfig
from kxbtc.sim.faults import FaultSpec
from kxbtc.sim.server import ServerConfig
from kxbtc.units import Count, Money, Price

START_NS = (1_780_315_200 + 60) * NS_PER_S


def test_the_gate_gives_opening_orders_a_deadline_and_closing_ones_none() -> None:
    from kxbtc.clock import ManualClock

    clock = ManualClock(START_NS)
    risk = RiskManager(RiskConfig(), clock)
    risk.update_equity(Money(1_000_000_000))
    close_ns = START_NS + 600 * NS_PER_S
    intent = OrderIntent("T", "bid", Price(4_000), Count(100), "s", "why", "fill_or_kill")

    def view(position: int) -> MarketRisk:
        return MarketRisk("T", close_ns, Count(position), Money(0), 0.0, fees=BTC_DEFAULT_FEES)

    opening = risk.check(intent, view(0))
    closing = risk.check(intent, view(-100))  # long one NO: a YES bid closes it
    assert isinstance(opening, ApprovedOrder) and isinstance(closing, ApprovedOrder)
    freeze_and_margin_s = RiskConfig().final_freeze_s + 0.5
    assert opening.send_by_ns == close_ns - int(freeze_and_margin_s * NS_PER_S)
    assert closing.send_by_ns is None


async def _create(faults: FaultSpec, deadline_s: float) -> tuple[Exception | None, int, int]:
    """Place one resting order with a deadline ``deadline_s`` from now against a simulator with
    ``faults``: the error raised (or None), how many attempts were made, and how many orders with its
    client order id the exchange holds."""
    clock = LoopClock(START_NS)
    exchange = Exchange(clock, seed=11, config=SimConfig(series=("KXBTC15M",)))
    config = ServerConfig(faults=faults, fault_seed=3)
    async with (
        virtual_sim(exchange, config=config, step_interval_s=0.05) as sim,
        KalshiRestClient(sim.rest_url, sim.signer(), clock) as rest,
    ):
        ticker = next(m.ticker for m in exchange.markets.values() if m.is_trading)
        request = order_request(
            ticker=ticker,
            client_order_id=client_order_id("deadline-test", 1),
            side="bid",
            price=Price(100),
            count=Count(100),
            time_in_force="good_till_canceled",
        )
        error: Exception | None = None
        try:
            await rest.create_order(request, send_by_ns=clock.time_ns() + int(deadline_s * NS_PER_S))
        except ExchangeError as exc:
            error = exc
        placed = sum(o.client_order_id == request.client_order_id for o in exchange.orders.values())
        return error, rest.stats.requests, placed


@on_virtual_time
async def test_a_retry_that_would_leave_after_the_deadline_is_not_sent() -> None:
    # Every attempt refused with a 429 before it executes: the first goes, the retry would be too late.
    error, attempts, placed = await _create(FaultSpec(http_429=1.0), deadline_s=0.05)
    assert isinstance(error, SendDeadlineError) and error.code == "send_deadline_passed"
    assert not error.retryable  # never executed: the order is rejected, not unknown
    assert attempts == 1
    assert placed == 0
    # With time to spare the same order gets through on a retry.
    error, attempts, placed = await _create(FaultSpec(http_429=0.5), deadline_s=60.0)
    assert error is None and attempts >= 1 and placed == 1


@on_virtual_time
async def test_an_attempt_that_may_have_executed_stays_unknown() -> None:
    # The first attempt executes and its answer is lost; the retry that would learn the outcome is too
    # late, so the caller gets the lost answer's error (retryable: outcome unknown -> reconcile).
    error, attempts, placed = await _create(FaultSpec(lose_response=1.0), deadline_s=0.05)
    assert isinstance(error, ExchangeError) and not isinstance(error, SendDeadlineError) and error.retryable
    assert attempts == 1 and placed == 1
