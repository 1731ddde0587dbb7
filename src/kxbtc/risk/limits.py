"""Pre-trade risk: every order passes ``RiskManager.check`` or is not sent.

``check`` returns an ``ApprovedOrder`` (the only thing the execution router accepts) or a
``Rejection`` with the reason. Limits, from the brief and Kalshi's contract terms:

- daily loss: trading halts once equity falls ``daily_loss_pct`` below the day's starting equity (UTC);
- drawdown: trading halts once equity falls ``max_drawdown_pct`` below its peak;
- per strike: the money at risk on one market (cost of the position, our orders resting there and this
  order) stays within ``per_strike_pct`` of equity and within Kalshi's $25,000 position accountability
  level;
- final-minute freeze: nothing that opens or grows a position within ``final_freeze_s`` of close;
- order size cap, stale market data, clock skew, and a manual kill switch.

What "equity" means for the two breakers is ``[risk] loss_basis``:

- ``marked`` (default): realized P&L net of fees plus every open position marked at the price it could
  be sold at now, after the exit fee (``Account.exit_equity``: a long YES at the YES bid, a long NO at
  the NO bid; an empty side values the long at zero). The loss so far is therefore realized plus marked
  loss. **Sizing rule**: a new order may lose at most the room left under both floors, after the worst
  case of every order not yet filled (in flight, resting, approved earlier in the same batch). In words:
  if this order and every unfilled order went to zero while open positions stayed at their exit marks,
  equity would still sit at or above both floors. Open positions count at their marks, so exposure can
  build up across orders; the per-strike cap is what bounds it on one market.
- ``worst_case``: equity is marked to mid and every open position counts as if already lost, so the
  sum of all open positions and this order's worst case stays inside the breaker room. Far stricter:
  open exposure can never exceed the daily-loss budget (about 5 % of equity by default).

A breaker counts as tripped once the room left cannot fund one more contract (the gate never lets
an order pass a floor, so equity only creeps towards it). Orders that only reduce a position are
allowed through the freeze and the per-strike cap (they lower risk), but not while trading is halted.
An order refused because the breaker room is used up is a sizing refusal (rule ``daily_loss_room`` /
``max_drawdown_room``), not a breaker trip: trips are ``RiskEvent``s of kind ``daily_loss`` /
``max_drawdown`` and halt everything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from kxbtc.clock import NS_PER_S, Clock
from kxbtc.config import RiskConfig, to_count, to_money
from kxbtc.domain.orders import OrderIntent
from kxbtc.domain.sides import leg_price
from kxbtc.pricing.fees import BTC_DEFAULT_FEES, FeeSchedule
from kxbtc.units import Count, Money, format_contracts, format_usd, notional

__all__ = [
    "ApprovedOrder",
    "MarketRisk",
    "OrderIntent",
    "Rejection",
    "RiskEvent",
    "RiskManager",
    "opening_count",
    "order_cost",
]


NO_MONEY = Money(0)


@dataclass(frozen=True, slots=True)
class MarketRisk:
    """What risk needs to know about the market at decision time."""

    ticker: str
    close_ns: int
    position: Count  # signed: > 0 YES, < 0 NO
    position_cost: Money  # cost basis of the open position
    data_age_s: float
    book_stale: bool = False
    fees: FeeSchedule = BTC_DEFAULT_FEES
    #: What every open position in the portfolio is worth now (marked to mid): counted as lost only under
    #: ``loss_basis = "worst_case"``.
    open_value: Money = NO_MONEY
    #: Worst case of every order not yet filled, on all markets (in flight, resting, approved earlier in
    #: this batch): it can still fill and be lost, so it always counts against the breaker room.
    pending_risk: Money = NO_MONEY
    #: Worst case of our orders resting on this market: they may fill at any moment, so they count
    #: against the per-strike cap as if already filled.
    resting_cost: Money = NO_MONEY


@dataclass(frozen=True, slots=True)
class ApprovedOrder:
    intent: OrderIntent
    count: Count  # possibly less than asked
    worst_case_loss: Money
    notes: str = ""
    #: For an order that opens exposure, the last instant (ns) it may leave for the exchange: the start of
    #: the final-minute freeze less the arrival margin, as the gate checked it. A retry after a 429 or a
    #: 5xx must not carry it into the freeze. None: it only closes, which the freeze allows.
    send_by_ns: int | None = None


@dataclass(frozen=True, slots=True)
class Rejection:
    intent: OrderIntent
    rule: str
    reason: str


@dataclass(frozen=True, slots=True)
class RiskEvent:
    ts_ns: int
    kind: str
    severity: str  # info | warning | halt
    detail: str


@dataclass(slots=True)
class RiskState:
    day: str = ""
    day_start_equity: int = 0
    peak_equity: int = 0
    equity: int = 0
    halted: str = ""  # reason; empty when trading is allowed
    manual_halt: bool = False
    clock_skew_ms: float = 0.0
    events: list[RiskEvent] = field(default_factory=list)


#: The last day named, and the span of seconds well inside it (a second clear of either midnight, so
#: the microsecond rounding of ``fromtimestamp`` cannot reach another day): asked every tick, built once.
_last_day: tuple[float, float, str] = (0.0, -1.0, "")


_EPOCH_DAY = date(1970, 1, 1)


def _utc_day(ts_ns: int) -> str:
    global _last_day
    seconds = ts_ns / NS_PER_S
    low, high, day = _last_day
    if low <= seconds < high:
        return day
    when = datetime.fromtimestamp(seconds, UTC)
    day = when.strftime("%Y-%m-%d")
    start = (when.date() - _EPOCH_DAY).days * 86_400
    _last_day = (start + 1.0, start + 86_399.0, day)
    return day


def order_cost(side: str, price: int, count: int) -> Money:
    """Cash an order locks if it fills in full: YES costs ``price``, NO costs ``1 - price``."""
    return notional(leg_price(side, price), count)


def opening_count(side: str, count: int, position: int) -> int:
    """How much of an order opens or grows exposure (the rest closes the opposite position)."""
    closing = min(count, -position) if side == "bid" else min(count, position)
    return count - max(0, closing)


class RiskManager:
    def __init__(self, config: RiskConfig, clock: Clock) -> None:
        self.config = config
        self.clock = clock
        self.state = RiskState()
        self._max_order = to_count(config.max_order_contracts)
        self._accountability = to_money(config.accountability_usd)
        self._daily_bps = _bps(config.daily_loss_pct)
        self._drawdown_bps = _bps(config.max_drawdown_pct)
        self._per_strike_bps = _bps(config.per_strike_pct)
        self.marked = config.loss_basis == "marked"

    # -- equity and breakers ------------------------------------------------------------------

    def update_equity(self, equity: Money) -> list[RiskEvent]:
        """Feed the current equity on the configured basis (exit-marked for ``marked``, mid-marked for
        ``worst_case``); rolls the day at 00:00 UTC and trips breakers."""
        now = self.clock.time_ns()
        st = self.state
        day = _utc_day(now)
        if day != st.day:
            st.day, st.day_start_equity = day, equity
            if st.halted.startswith("daily_loss"):
                st.halted = ""  # a new day re-arms the daily breaker; drawdown persists
        st.equity = equity
        st.peak_equity = max(st.peak_equity, equity)
        fired: list[RiskEvent] = []
        basis = "equity at exit prices" if self.marked else "equity"
        if not st.halted:
            daily_floor = st.day_start_equity - _pct_of(st.day_start_equity, self._daily_bps)
            dd_floor = st.peak_equity - _pct_of(st.peak_equity, self._drawdown_bps)
            # The gate never lets an order's worst case pass a floor, so equity only creeps towards it:
            # the limit counts as reached once what is left cannot fund a single contract.
            if equity - daily_floor < ONE_CONTRACT_WORST_CASE:
                fired.append(
                    self._halt(
                        now,
                        "daily_loss",
                        f"{basis} {format_usd(equity)} within one contract of the floor "
                        f"{format_usd(daily_floor)} (day start {format_usd(st.day_start_equity)}, limit "
                        f"{self.config.daily_loss_pct}%)",
                    )
                )
            elif equity - dd_floor < ONE_CONTRACT_WORST_CASE:
                fired.append(
                    self._halt(
                        now,
                        "max_drawdown",
                        f"{basis} {format_usd(equity)} within one contract of the floor "
                        f"{format_usd(dd_floor)} (peak {format_usd(st.peak_equity)}, limit "
                        f"{self.config.max_drawdown_pct}%)",
                    )
                )
        return fired

    def _halt(self, now: int, kind: str, detail: str) -> RiskEvent:
        self.state.halted = f"{kind}: {detail}"
        event = RiskEvent(now, kind, "halt", detail)
        self.state.events.append(event)
        return event

    def restore(self, day: str, day_start_equity: int, peak_equity: int) -> None:
        """Baselines saved before a restart: the day's starting equity (same UTC day only) and the peak."""
        if day == _utc_day(self.clock.time_ns()):
            self.state.day, self.state.day_start_equity = day, day_start_equity
        self.state.peak_equity = max(self.state.peak_equity, peak_equity)

    def halt(self, reason: str) -> RiskEvent:
        """The manual kill switch (``kxbtc halt``)."""
        self.state.manual_halt = True
        return self._halt(self.clock.time_ns(), "manual_halt", reason)

    def resume(self) -> RiskEvent:
        self.state.manual_halt = False
        self.state.halted = ""
        event = RiskEvent(self.clock.time_ns(), "resume", "info", "trading resumed by operator")
        self.state.events.append(event)
        return event

    def set_clock_skew(self, skew_ms: float) -> None:
        self.state.clock_skew_ms = skew_ms

    @property
    def halted(self) -> bool:
        return bool(self.state.halted)

    # -- the gate -------------------------------------------------------------------------------

    def check(self, intent: OrderIntent, market: MarketRisk) -> ApprovedOrder | Rejection:
        cfg, st = self.config, self.state
        if st.halted:
            return Rejection(intent, "halted", st.halted)
        if intent.count <= 0:
            return Rejection(intent, "size", "order count must be positive")
        if abs(st.clock_skew_ms) > cfg.max_clock_skew_ms:
            return Rejection(
                intent, "clock_skew", f"clock skew {st.clock_skew_ms:.0f} ms > {cfg.max_clock_skew_ms}"
            )
        if market.book_stale:
            return Rejection(intent, "stale_data", f"{market.ticker}: book is stale (resyncing)")
        if market.data_age_s > cfg.stale_data_s:
            return Rejection(intent, "stale_data", f"{market.ticker}: data {market.data_age_s:.1f} s old")

        count = min(intent.count, self._max_order)
        notes = [] if count == intent.count else [f"size capped at {format_contracts(self._max_order)}"]
        opening = opening_count(intent.side, count, market.position)
        if opening > 0:
            seconds_left = (market.close_ns - self.clock.time_ns()) / NS_PER_S
            if seconds_left <= cfg.final_freeze_s + ARRIVAL_MARGIN_S:
                if opening == count:
                    return Rejection(
                        intent, "final_freeze", f"{seconds_left:.0f} s to close: no new positions"
                    )
                count, opening = Count(count - opening), 0
                notes.append("trimmed to the closing part (final-minute freeze)")
        if opening > 0:
            count, binding = self._cap_opening(intent, market, count, opening, notes)
            if count <= 0:
                return Rejection(intent, binding, "; ".join(notes) or "no room under the limits")
        # Closing contracts locks in value (a YES+NO pair pays $1); only the opening part can be lost.
        opened = opening_count(intent.side, count, market.position)
        worst = order_cost(intent.side, intent.price, opened) + market.fees.fee(intent.price, count, True)
        freeze_ns = int((cfg.final_freeze_s + ARRIVAL_MARGIN_S) * NS_PER_S)
        send_by = market.close_ns - freeze_ns if opened else None
        return ApprovedOrder(intent, Count(count), Money(worst), "; ".join(notes), send_by)

    def _cap_opening(
        self, intent: OrderIntent, market: MarketRisk, count: int, opening: int, notes: list[str]
    ) -> tuple[Count, str]:
        """Largest count whose opening part fits every money limit (integer Money throughout), and the
        limit that binds (per_strike, daily_loss_room or max_drawdown_room)."""
        st = self.state
        closing = count - opening
        strike_cap = min(_pct_of(st.equity, self._per_strike_bps), self._accountability)
        grows_same_side = market.position >= 0 if intent.side == "bid" else market.position <= 0
        # Flipping sides starts the new side's cost from zero once the old side is closed.
        strike_room = (
            strike_cap - market.position_cost if grows_same_side else strike_cap
        ) - market.resting_cost
        # Breakers are hard limits: if this whole order and every unfilled order went to zero (and, on
        # the worst-case basis, every open position too), equity would still sit at or above both floors.
        worst_equity = st.equity - market.pending_risk - (0 if self.marked else market.open_value)
        daily_room = worst_equity - (st.day_start_equity - _pct_of(st.day_start_equity, self._daily_bps))
        dd_room = worst_equity - (st.peak_equity - _pct_of(st.peak_equity, self._drawdown_bps))
        budget, binding = min(
            (strike_room, "per_strike"), (daily_room, "daily_loss_room"), (dd_room, "max_drawdown_room")
        )
        unit = order_cost(intent.side, intent.price, WHOLE_CONTRACT) + _MAX_FEE_PER_COUNT * WHOLE_CONTRACT
        # Whole contracts only: a fractional count at a sub-penny price has no exact cash value at $0.0001.
        allowed = min(opening, max(0, budget) // unit * WHOLE_CONTRACT) // WHOLE_CONTRACT * WHOLE_CONTRACT
        while allowed > 0 and (
            order_cost(intent.side, intent.price, allowed)
            + market.fees.fee(intent.price, closing + allowed, True)
            > budget
        ):
            allowed -= WHOLE_CONTRACT
        if allowed < opening:
            room, limit = format_usd(budget), binding.removesuffix("_room")
            notes.append(f"opening size capped at {format_contracts(allowed)} by the {limit} room of {room}")
        return Count(closing + allowed), binding


#: An order decided now reaches the exchange a little later: the freeze starts this much early so an
#: opening order cannot arrive inside the final window (one decided at 60.0 s arrived at 59.94 s in the
#: simulator audit, tests/integration/test_risk_limits_sim.py).
ARRIVAL_MARGIN_S = 0.5

#: Orders are sized in whole contracts (Count is 1/100 contract).
WHOLE_CONTRACT = 100
#: The most one contract can lose: $1 plus the largest taker fee ($0.0175), in Money.
ONE_CONTRACT_WORST_CASE = 1_017_500

#: Kalshi's taker fee peaks at $0.0175 per contract (p = 0.5): 175 micro-dollars per 1/100 contract.
_MAX_FEE_PER_COUNT = 175


def _bps(pct: float) -> int:
    return round(pct * 100)


def _pct_of(amount: int, bps: int) -> int:
    """``amount * bps / 10,000``, rounded toward zero, in integers."""
    return amount * bps // 10_000
