"""The cross-venue desk: keeps Polymarket's side of each KXBTC15M window current and hedges Kalshi fills.

The engine owns one desk when ``[polymarket] enabled = true``; it proposes pairs only when the
``cross_venue`` strategy is enabled too (``[strategies.cross_venue]``, of which only ``enabled`` is read:
the edge, the basis margin and the size cap come from ``[polymarket]``).

Market data. For every open KXBTC15M market the desk looks up the Polymarket window with the same
start (``btc-updown-15m-<start>``) through Gamma, in a task of its own (discovery is slow, never on the
book path), and subscribes its Up and Down tokens on one market WebSocket. A window that Polymarket does
not list gives no pair and is recorded once (risk event ``poly_market_missing``). When a window ends its
tokens are unsubscribed and forgotten; tokens we hold shares in stay subscribed until the venue's
``market_resolved`` (which fixes the paper P&L) or ``RESOLUTION_GRACE_S`` after the end.

Execution order: **the Kalshi leg first, then the Polymarket leg for what Kalshi actually filled.**
``decisions`` returns the Kalshi legs as ordinary fill-or-kill ``Decision`` objects (strategy
``cross_venue``); the engine sends them through its risk gate and router like any other order, so every
limit applies and the gate may shrink or refuse them. When the create acknowledgement comes back, the
Polymarket leg is sent through the ``PolymarketVenue`` as a fill-or-kill BUY of exactly the acknowledged
``fill_count`` at the quoted Polymarket ask. The reason: a Kalshi FOK is often killed (the book moved);
sending both legs at once would then leave a naked Polymarket position, while hedging only what filled
leaves nothing open when Kalshi kills. If the Polymarket leg is killed or fails, the desk records a
warning risk event ``unhedged_leg`` with both legs, keeps the Kalshi position (an ordinary position the
risk gate already counts) and proposes nothing more on that market: there is no retry that could chase
the price. A Kalshi leg whose outcome is unknown (a network error) is not hedged either and is reported
the same way; reconciliation settles the Kalshi side.

Sizes: at most ``max_pair_contracts`` are paired per Kalshi market over its window (the paper venue
fills against the mirrored book without consuming it, so without this cap the same liquidity would be
taken again every tick), and one pair per market is in flight at a time.

The Polymarket leg is PAPER: live Polymarket order entry is not built (see ``kxbtc.polymarket.venue``),
so the desk uses ``PaperPolymarketVenue`` over its own live books. Its shares, cash and fees are kept
here, apart from the Kalshi ledger, and shown by ``summary()``. Every Polymarket leg is written to the
store: a decision row when it is placed and one with its result (``ticker`` = ``polymarket:<slug>:<outcome>``,
``inputs.pair_id`` links it to the Kalshi decision), plus a risk event (``poly_leg_filled`` or
``unhedged_leg``) so ``kxbtc status`` shows it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from kxbtc.clock import NS_PER_S, Clock
from kxbtc.config import Config, PolymarketConfig
from kxbtc.errors import KxbtcError, NotFoundError
from kxbtc.execution.router import SubmitResult
from kxbtc.polymarket.gamma import WINDOW_S, GammaClient, UpDownMarket, slug_for_window
from kxbtc.polymarket.http import PolyHttp
from kxbtc.polymarket.messages import MarketResolvedEvent
from kxbtc.polymarket.venue import FILLED, PaperPolymarketVenue, PolymarketVenue, PolyOrderResult
from kxbtc.polymarket.ws import PolymarketWsClient
from kxbtc.polymarket.ws_handlers import PolyWsHandler
from kxbtc.risk.limits import ApprovedOrder, OrderIntent
from kxbtc.store.db import SqliteStore
from kxbtc.store.records import RiskEventRecord
from kxbtc.strategy.base import Decision, MarketState
from kxbtc.strategy.cross_venue import (
    KALSHI_15M_SERIES,
    CrossVenueArb,
    PairedTrade,
    PairQuote,
    PolymarketIntent,
)
from kxbtc.units import COUNT_SCALE, PRICE_SCALE, Count, Money, Price, format_count, format_price, notional

__all__ = ["STRATEGY", "CrossVenueDesk", "DeskSummary", "PolyLeg", "PolyPosition"]

log = logging.getLogger(__name__)

STRATEGY = CrossVenueArb.name
#: Seconds between Gamma lookups of a window whose lookup failed (network, malformed event).
DISCOVERY_RETRY_S = 30.0
#: How long after a window's end held tokens stay subscribed, waiting for ``market_resolved``.
RESOLUTION_GRACE_S = 1_800
#: How long ``close`` waits for Polymarket legs still being placed.
CLOSE_WAIT_S = 10.0


@dataclass(frozen=True, slots=True)
class ProposedPair:
    """A pair whose Kalshi leg was handed to the engine; the Polymarket leg waits for the Kalshi fill."""

    pair_id: str
    ticker: str
    market: UpDownMarket
    poly: PolymarketIntent
    quote: PairQuote


@dataclass(frozen=True, slots=True)
class PolyLeg:
    """One Polymarket leg sent (or not) after a Kalshi fill."""

    pair_id: str
    ts_ns: int
    kalshi_ticker: str
    kalshi_order_id: str | None
    kalshi_filled: Count
    token: str
    outcome: str
    slug: str
    price: Price
    size: Count
    status: str  # filled | killed | error
    notional: Money
    fee: Money
    reason: str = ""


@dataclass(slots=True)
class PolyPosition:
    """Paper shares of one outcome token, what they cost, and the venue's result once resolved."""

    token: str
    outcome: str
    slug: str
    end_s: int
    shares: int = 0  # Count
    cost: int = 0  # Money, before fees
    fees: int = 0  # Money
    won: bool | None = None

    def payout(self) -> Money:
        return notional(PRICE_SCALE, self.shares) if self.won else Money(0)


@dataclass(frozen=True, slots=True)
class DeskSummary:
    windows_found: int
    windows_missing: int
    kalshi_legs_sent: int
    kalshi_legs_filled: int
    poly_legs: int
    poly_filled: int
    unhedged: int
    poly_cost: Money  # notional + fees of every filled Polymarket leg
    poly_fees: Money
    settled_pnl: Money  # payout - cost - fees of the resolved positions
    open_cost: Money  # cost + fees of positions not resolved yet (their P&L is unknown)
    paper: bool

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class _Counters:
    kalshi_sent: int = 0
    kalshi_filled: int = 0
    unhedged: int = 0
    missing: set[int] = field(default_factory=set)
    found: set[int] = field(default_factory=set)  # window starts paired, ended ones included
    #: The count each claimed Kalshi leg was sent with (the risk gate may have shrunk the quote's size).
    sent: dict[str, int] = field(default_factory=dict)


class CrossVenueDesk(PolyWsHandler):
    def __init__(
        self,
        config: Config,
        *,
        store: SqliteStore,
        clock: Clock,
        note_event: Callable[[RiskEventRecord], None],
        ws_clock: Clock | None = None,
    ) -> None:
        poly = config.polymarket
        self.config: PolymarketConfig = poly
        strategy = config.strategies.get(STRATEGY)
        #: Whether to propose pairs; without the strategy the desk only keeps the books.
        self.trading = strategy is not None and strategy.enabled
        self.store = store
        self.clock = clock
        self._note_event = note_event
        self.arb = CrossVenueArb(poly)
        self.http = PolyHttp(poly.gamma_url, clock)
        self.gamma = GammaClient(self.http)
        self.ws = PolymarketWsClient(
            poly.ws_url,
            ws_clock or clock,
            handler=self,
            ping_interval=poly.ping_interval_s,
            liveness_timeout=3 * poly.ping_interval_s,
        )
        self.venue: PolymarketVenue = PaperPolymarketVenue(self.ws.books)
        #: Window start (unix s) -> its market, or None when Polymarket has none (recorded once).
        self.windows: dict[int, UpDownMarket | None] = {}
        self.legs: list[PolyLeg] = []
        self.positions: dict[str, PolyPosition] = {}
        self._counters = _Counters()
        self._discovering: set[int] = set()
        self._retry_at: dict[int, int] = {}  # window start -> earliest next lookup (ns)
        self._failed_once: set[int] = set()
        self._held_until: dict[str, int] = {}  # token of an ended window -> unsubscribe after (ns)
        self._proposed: dict[OrderIntent, ProposedPair] = {}  # this tick's proposals
        self._claimed: dict[OrderIntent, ProposedPair] = {}  # Kalshi leg on its way to the exchange
        self._busy: set[str] = set()  # Kalshi tickers with a pair in flight
        self._stopped: set[str] = set()  # Kalshi tickers with an unhedged leg: no more pairs
        self._paired: dict[str, int] = {}  # Kalshi ticker -> contracts paired so far (Count)
        self._ticker_window: dict[str, int] = {}
        self._seq = itertools.count(1)
        self._hedging = 0
        self._quiet = asyncio.Event()
        self._quiet.set()
        self._tasks: set[asyncio.Task[None]] = set()

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self) -> None:
        self.ws.start()
        mode = "proposing pairs" if self.trading else "books only (strategies.cross_venue is off)"
        venue = "paper" if isinstance(self.venue, PaperPolymarketVenue) else "live"
        log.info("cross-venue desk started: %s; Polymarket leg venue: %s", mode, venue)
        if self.trading and venue == "paper":
            # Kalshi legs are real orders on whatever exchange the engine is connected to.
            self._note(
                "paper_hedge",
                "warning",
                "cross_venue: the Polymarket legs are paper fills (no live Polymarket order entry); "
                "the Kalshi legs are real orders on the connected exchange",
            )

    async def close(self) -> None:
        """Wait (bounded) for Polymarket legs being placed, then stop discovery and close the clients."""
        if self._hedging:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._quiet.wait(), CLOSE_WAIT_S)
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.ws.close()
        await self.http.aclose()

    # -- proposals (called from the engine's timer) -----------------------------------------------

    def decisions(
        self, markets: Sequence[MarketState], now_ns: int, *, final_freeze_s: float = 60.0
    ) -> list[Decision]:
        """Kalshi legs of the pairs worth trading now; their Polymarket legs wait for the Kalshi fills."""
        self._proposed.clear()
        self._follow_windows(markets, now_ns)
        if not self.trading or not self.ws.connected:
            return []
        out: list[Decision] = []
        for m in markets:
            contract = m.contract
            ticker = contract.ticker
            if contract.series != KALSHI_15M_SERIES or ticker in self._busy or ticker in self._stopped:
                continue
            market = self.windows.get(_window_start(contract.close_ns))
            if market is None:
                continue
            room = self.arb.max_size - self._paired.get(ticker, 0)
            up, down = self.ws.books.get(market.up_token), self.ws.books.get(market.down_token)
            if room < COUNT_SCALE or up is None or down is None:
                continue
            arb = self.arb if room >= self.arb.max_size else self._smaller_arb(room)
            for trade in arb.evaluate(
                contract, m.book, market, up, down, now_ns, final_freeze_s=final_freeze_s
            ):
                out.append(self._propose(trade, market))
        return out

    def _smaller_arb(self, room: int) -> CrossVenueArb:
        cap = Decimal(room // COUNT_SCALE)
        return CrossVenueArb(self.config.model_copy(update={"max_pair_contracts": cap}))

    def _propose(self, trade: PairedTrade, market: UpDownMarket) -> Decision:
        intent = trade.kalshi.intent
        pair_id = f"xv-{self.clock.time_ns() // NS_PER_S}-{next(self._seq)}"
        self._proposed[intent] = ProposedPair(pair_id, intent.ticker, market, trade.polymarket, trade.quote)
        self._ticker_window[intent.ticker] = market.start_s
        venue = "paper" if isinstance(self.venue, PaperPolymarketVenue) else "live"
        return Decision(intent, {**trade.kalshi.inputs, "pair_id": pair_id, "poly_venue": venue})

    # -- execution (called around the engine's order submit) --------------------------------------

    def claim(self, approved: Sequence[ApprovedOrder]) -> bool:
        """The engine is about to send these orders: remember the pairs among them; True if any."""
        claimed = False
        for order in approved:
            pair = self._proposed.pop(order.intent, None)
            if pair is not None:
                self._claimed[order.intent] = pair
                self._busy.add(pair.ticker)
                self._counters.kalshi_sent += 1
                claimed = True
        return claimed

    def hedge(self, approved: Sequence[ApprovedOrder], results: Sequence[SubmitResult]) -> Awaitable[None]:
        """The Polymarket legs for the Kalshi legs among ``results`` (run it as a task)."""
        legs: list[tuple[ProposedPair, SubmitResult]] = []
        for order, result in zip(approved, results, strict=True):
            pair = self._claimed.pop(order.intent, None)
            if pair is not None:
                self._counters.sent[pair.pair_id] = order.count
                legs.append((pair, result))
        self._hedging += 1  # counted now, so ``close`` waits for a task not started yet
        self._quiet.clear()
        return self._hedge_all(legs)

    async def _hedge_all(self, legs: list[tuple[ProposedPair, SubmitResult]]) -> None:
        try:
            for pair, result in legs:
                await self._hedge(pair, result)
        finally:
            for pair, _ in legs:
                self._busy.discard(pair.ticker)
            self._hedging -= 1
            if not self._hedging:
                self._quiet.set()

    async def _hedge(self, pair: ProposedPair, result: SubmitResult) -> None:
        if result.status == "unknown":
            self._unhedged(
                pair, result, None, "the Kalshi leg's outcome is unknown (reconciliation settles it)"
            )
            return
        filled = Count(result.fill_count)
        if filled <= 0:
            return  # the Kalshi FOK was killed or refused: nothing is open, nothing to hedge
        self._counters.kalshi_filled += 1
        self._paired[pair.ticker] = self._paired.get(pair.ticker, 0) + filled
        minimum = pair.market.min_order_size
        if minimum is not None and filled < minimum:
            reason = (
                f"Kalshi filled {format_count(filled)}, below Polymarket's minimum {format_count(minimum)}"
            )
            self._unhedged(pair, result, None, reason)
            return
        self._record_leg(pair, result, "placed", filled)
        try:
            poly = await self.venue.place_fok(pair.poly.token_id, pair.poly.side, pair.poly.price, filled)
        except KxbtcError as exc:
            log.error("cross-venue %s: Polymarket leg failed: %s", pair.pair_id, exc)
            self._finish_leg(
                pair, result, filled, "error", Money(0), Money(0), f"{type(exc).__name__}: {exc}"
            )
            self._unhedged(pair, result, None, f"the Polymarket leg failed: {exc}")
            return
        if poly.status == FILLED:
            self._book(pair, poly)
            self._finish_leg(pair, result, filled, "filled", poly.notional, poly.fee, "")
            self._note(
                "poly_leg_filled",
                "info",
                f"pair {pair.pair_id}: {self._kalshi_text(pair, result)}; "
                f"hedged with {self._poly_text(pair, poly)}",
            )
        else:
            self._finish_leg(pair, result, filled, "killed", Money(0), Money(0), poly.reason)
            self._unhedged(pair, result, poly, poly.reason or "killed")

    def _book(self, pair: ProposedPair, result: PolyOrderResult) -> None:
        token = pair.poly.token_id
        position = self.positions.get(token)
        if position is None:
            position = PolyPosition(token, pair.poly.outcome, pair.market.slug, pair.market.end_s)
            self.positions[token] = position
        position.shares += result.filled
        position.cost += result.notional
        position.fees += result.fee

    def _unhedged(
        self, pair: ProposedPair, result: SubmitResult, poly: PolyOrderResult | None, reason: str
    ) -> None:
        """The Kalshi position stays open without its Polymarket leg: say so, and pair no more here."""
        self._stopped.add(pair.ticker)
        self._counters.unhedged += 1
        poly_text = self._poly_text(pair, poly) if poly is not None else "Polymarket leg not sent"
        detail = (
            f"pair {pair.pair_id}: {self._kalshi_text(pair, result)}; {poly_text}: {reason}. The Kalshi "
            f"position stays open (the risk gate counts it); no more pairs on {pair.ticker}"
        )
        log.warning("cross-venue unhedged leg: %s", detail)
        self._note("unhedged_leg", "warning", detail)

    def _kalshi_text(self, pair: ProposedPair, result: SubmitResult) -> str:
        leg = "YES" if pair.quote.kalshi_side == "bid" else "NO"
        sent = self._counters.sent.get(pair.pair_id, pair.quote.size)
        return (
            f"Kalshi {leg} {pair.ticker} FOK {format_count(sent)} @ "
            f"{format_price(pair.quote.kalshi_price)} {result.status}, "
            f"filled {format_count(result.fill_count)} (order {result.order_id})"
        )

    def _poly_text(self, pair: ProposedPair, poly: PolyOrderResult) -> str:
        return (
            f"Polymarket BUY {pair.poly.outcome} {pair.market.slug} FOK {format_count(poly.size)} @ "
            f"{format_price(poly.limit_price)} {poly.status} (cost {poly.notional}, fee {poly.fee} micro-$)"
        )

    # -- records ------------------------------------------------------------------------------------

    def _record_leg(
        self, pair: ProposedPair, result: SubmitResult, outcome: str, size: int, **extra: Any
    ) -> None:
        poly = pair.poly
        inputs = {
            "pair_id": pair.pair_id,
            "kalshi_ticker": pair.ticker,
            "kalshi_order_id": result.order_id,
            "kalshi_client_order_id": result.client_order_id,
            "kalshi_status": result.status,
            "kalshi_filled": result.fill_count,
            "poly_slug": pair.market.slug,
            "poly_token": poly.token_id,
            "quoted_edge": pair.quote.edge,
            "venue": "paper" if isinstance(self.venue, PaperPolymarketVenue) else "live",
        }
        intent = {
            "venue": "polymarket",
            "token": poly.token_id,
            "outcome_token": poly.outcome,
            "side": poly.side,
            "price": poly.price,
            "count": size,
            "tif": poly.time_in_force,
            "outcome": outcome,
            **extra,
        }
        self.store.record_decision(
            self.clock.time_ns(),
            STRATEGY,
            f"polymarket:{pair.market.slug}:{poly.outcome}",
            json.dumps(inputs),
            json.dumps(intent),
            f"hedge of pair {pair.pair_id}: {poly.reason}",
        )

    def _finish_leg(
        self,
        pair: ProposedPair,
        result: SubmitResult,
        size: Count,
        status: str,
        cost: Money,
        fee: Money,
        reason: str,
    ) -> None:
        self._record_leg(pair, result, status, size, notional=cost, fee=fee, detail=reason)
        self.legs.append(
            PolyLeg(
                pair.pair_id,
                self.clock.time_ns(),
                pair.ticker,
                result.order_id,
                Count(result.fill_count),
                pair.poly.token_id,
                pair.poly.outcome,
                pair.market.slug,
                pair.poly.price,
                size,
                status,
                cost,
                fee,
                reason,
            )
        )

    def _note(self, kind: str, severity: str, detail: str) -> None:
        self._note_event(RiskEventRecord(self.clock.time_ns(), kind, severity, detail))

    # -- windows: discovery and rollover --------------------------------------------------------

    def _follow_windows(self, markets: Sequence[MarketState], now_ns: int) -> None:
        for m in markets:
            if m.contract.series != KALSHI_15M_SERIES:
                continue
            start = _window_start(m.contract.close_ns)
            if start in self.windows or start in self._discovering or self._retry_at.get(start, 0) > now_ns:
                continue
            self._discovering.add(start)
            self._spawn(self._discover(start), f"Polymarket discovery of {slug_for_window(start)}")
        self._retire(now_ns)

    async def _discover(self, start: int) -> None:
        slug = slug_for_window(start)
        try:
            market = await self.gamma.updown_15m(start)
        except NotFoundError:
            self._missing(start, f"Polymarket lists no {slug}: the window is not paired")
            return
        except KxbtcError as exc:
            self._retry_at[start] = self.clock.time_ns() + int(DISCOVERY_RETRY_S * NS_PER_S)
            log.warning("Polymarket discovery of %s failed: %s", slug, exc)
            if start not in self._failed_once:
                self._failed_once.add(start)
                self._note("poly_discovery_failed", "warning", f"{slug}: {type(exc).__name__}: {exc}")
            return
        finally:
            self._discovering.discard(start)
        if market.closed:
            self._missing(start, f"Polymarket's {slug} is closed: the window is not paired")
            return
        if market.end_s * NS_PER_S <= self.clock.time_ns():
            return  # the window ended while we looked it up
        self.windows[start] = market
        self._counters.found.add(start)
        if isinstance(self.venue, PaperPolymarketVenue):
            for token in market.tokens:
                self.venue.fee_rates[token] = market.fee_rate
        log.info(
            "cross-venue: %s found (Up %s..., Down %s...)", slug, market.up_token[:12], market.down_token[:12]
        )
        await self.ws.subscribe(market.tokens)

    def _missing(self, start: int, detail: str) -> None:
        self.windows[start] = None
        self._counters.missing.add(start)
        self._note("poly_market_missing", "info", detail)

    def _retire(self, now_ns: int) -> None:
        """Forget ended windows; unsubscribe their tokens, except those we hold (until resolved)."""
        drop: list[str] = []
        for start in [s for s in self.windows if (s + WINDOW_S) * NS_PER_S <= now_ns]:
            market = self.windows.pop(start)
            self._retry_at.pop(start, None)
            self._failed_once.discard(start)
            for ticker in [t for t, s in self._ticker_window.items() if s == start]:
                self._ticker_window.pop(ticker)
                for state in (self._busy, self._stopped):
                    state.discard(ticker)
                self._paired.pop(ticker, None)
            if market is None:
                continue
            for token in market.tokens:
                held = self.positions.get(token)
                if held is not None and held.won is None:
                    self._held_until[token] = (market.end_s + RESOLUTION_GRACE_S) * NS_PER_S
                else:
                    drop.append(token)
        for token, until in list(self._held_until.items()):
            position = self.positions.get(token)
            if until <= now_ns or (position is not None and position.won is not None):
                self._held_until.pop(token)
                drop.append(token)
        if drop:
            self._spawn(self.ws.unsubscribe(drop), "Polymarket unsubscribe")

    def _spawn(self, work: Coroutine[Any, Any, None], what: str) -> None:
        async def guarded() -> None:
            try:
                await work
            except KxbtcError as exc:
                log.error("%s failed: %s", what, exc)
                self._note("engine_error", "warning", f"{what}: {exc}")

        task = asyncio.ensure_future(guarded())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- the Polymarket stream --------------------------------------------------------------------

    def on_market_resolved(self, msg: MarketResolvedEvent) -> None:
        winner = msg.winning_asset_id
        if not winner:
            return
        for token in msg.assets_ids or [winner]:
            position = self.positions.get(token)
            if position is not None and position.won is None:
                position.won = token == winner
                pnl = position.payout() - position.cost - position.fees
                self._note(
                    "poly_leg_settled",
                    "info",
                    f"Polymarket {position.slug} {position.outcome}: {'won' if position.won else 'lost'}; "
                    f"{format_count(position.shares)} shares, paper P&L {pnl} micro-$",
                )

    # -- reporting --------------------------------------------------------------------------------

    def summary(self) -> DeskSummary:
        filled = [leg for leg in self.legs if leg.status == FILLED]
        resolved = [p for p in self.positions.values() if p.won is not None]
        unresolved = [p for p in self.positions.values() if p.won is None]
        return DeskSummary(
            windows_found=len(self._counters.found),
            windows_missing=len(self._counters.missing),
            kalshi_legs_sent=self._counters.kalshi_sent,
            kalshi_legs_filled=self._counters.kalshi_filled,
            poly_legs=len(self.legs),
            poly_filled=len(filled),
            unhedged=self._counters.unhedged,
            poly_cost=Money(sum(leg.notional + leg.fee for leg in filled)),
            poly_fees=Money(sum(leg.fee for leg in filled)),
            settled_pnl=Money(sum(p.payout() - p.cost - p.fees for p in resolved)),
            open_cost=Money(sum(p.cost + p.fees for p in unresolved)),
            paper=isinstance(self.venue, PaperPolymarketVenue),
        )


def _window_start(close_ns: int) -> int:
    return close_ns // NS_PER_S - WINDOW_S
