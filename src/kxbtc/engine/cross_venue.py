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

Execution: **both legs at once.** ``decisions`` returns the Kalshi legs as ordinary fill-or-kill
``Decision`` objects (strategy ``cross_venue``); the engine sends them through its risk gate and router
like any other order, so every limit applies and the gate may shrink or refuse them. When the engine is
about to send an approved Kalshi leg (``claim``), the desk sends the Polymarket leg for the same count as a
task of its own, so both orders are in flight together; when the Kalshi answer is back (``hedge``) the
pair is settled by the stated policy of ``cross_venue_hedge`` (``[polymarket] leg_failure`` and
``max_leg_loss``): ``paired``, ``hedged``, ``unwound``, ``unhedged`` or ``unfilled``, recorded per pair.

Sizes: at most ``max_pair_contracts`` are paired per Kalshi market over its window (the paper venue
fills against the mirrored book without consuming it, so without this cap the same liquidity would be
taken again every tick), and one pair per market is in flight at a time.

The Polymarket venue: ``[polymarket] venue = "paper"`` (the default, and the demo's) fills the legs
against the desk's own mirrored books (``PaperPolymarketVenue``); ``"live"`` signs and posts them through
the official SDK (``kxbtc.polymarket.sdk_venue``) after an eligibility check at start (``connect``: the
geoblock endpoint, credentials, the account's close-only flag); any "no" leaves the desk read-only with
one line saying why. Polymarket shares, cash and fees are kept here, apart from the Kalshi ledger, and
shown by ``summary()``. Every Polymarket leg is written to the store: a decision row when it is placed and
one with its result (``ticker`` = ``polymarket:<slug>:<outcome>``, ``inputs.pair_id`` links it to the
Kalshi decision), plus the pair's outcome row (``ticker`` = ``pair:<pair id>``) and a risk event.

The parts: window discovery and rollover (``cross_venue_windows``), the two legs and the failure policy
(``cross_venue_hedge``), the ledger and summary (``cross_venue_ledger``); this module proposes and claims
the pairs and signs in.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING

from kxbtc.clock import NS_PER_S, Clock
from kxbtc.config import Config, PolymarketConfig
from kxbtc.engine.cross_venue_hedge import PairRun
from kxbtc.engine.cross_venue_ledger import (
    STRATEGY,
    DeskCounters,
    PolyLeg,
    PolyPosition,
    ProposedPair,
)
from kxbtc.engine.cross_venue_unwind import DeskKalshiUnwind, KalshiUnwind
from kxbtc.engine.cross_venue_windows import DeskWindows, window_start
from kxbtc.polymarket.eligibility import sign_in
from kxbtc.polymarket.gamma import GammaClient, UpDownMarket
from kxbtc.polymarket.http import PolyHttp
from kxbtc.polymarket.venue import PaperPolymarketVenue, PolymarketVenue
from kxbtc.polymarket.ws import PolymarketWsClient

if TYPE_CHECKING:
    from kxbtc.polymarket.sdk_venue import SdkPolymarketVenue
from kxbtc.execution.router import SubmitResult
from kxbtc.risk.limits import ApprovedOrder, OrderIntent
from kxbtc.store.db import SqliteStore
from kxbtc.store.records import RiskEventRecord
from kxbtc.strategy.base import Decision, MarketState
from kxbtc.strategy.cross_venue import KALSHI_15M_SERIES, CrossVenueArb, PairedTrade
from kxbtc.units import COUNT_SCALE

__all__ = ["CrossVenueDesk"]

log = logging.getLogger(__name__)

#: How long ``close`` waits for Polymarket legs still being placed.
CLOSE_WAIT_S = 10.0


class CrossVenueDesk(DeskWindows, DeskKalshiUnwind):
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
        #: Why orders are not allowed (geoblock, close-only, no credentials); None when they are.
        self.read_only: str | None = None
        self._live: SdkPolymarketVenue | None = None
        #: Window start (unix s) -> its market, or None when Polymarket has none (recorded once).
        self.windows: dict[int, UpDownMarket | None] = {}
        self.legs: list[PolyLeg] = []
        self.positions: dict[str, PolyPosition] = {}
        self._counters = DeskCounters()
        self._discovering: set[int] = set()
        self._retry_at: dict[int, int] = {}  # window start -> earliest next lookup (ns)
        self._failed_once: set[int] = set()
        self._held_until: dict[str, int] = {}  # token of an ended window -> unsubscribe after (ns)
        self._proposed: dict[OrderIntent, ProposedPair] = {}  # this tick's proposals
        self._runs: dict[OrderIntent, PairRun] = {}  # pairs whose two legs are out
        #: Each settled pair's record (also in the store as ``pair:<id>`` decision rows).
        self.pair_outcomes: list[dict[str, object]] = []
        self._unwinds: dict[str, KalshiUnwind] = {}  # Kalshi legs being sold back, by ticker
        self._unwind_proposed: dict[OrderIntent, KalshiUnwind] = {}
        self._unwind_claimed: dict[OrderIntent, KalshiUnwind] = {}
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

    async def connect(self) -> None:
        """With ``venue = "live"``: the eligibility check, then sign in through the SDK.

        Any "no" (geoblocked, close-only account, no credentials, sign-in refused) leaves the desk
        read-only: books are kept, no pair is proposed, and one line says why.
        """
        if self.config.venue != "live" or not self.trading:
            return
        why = await self._eligibility()
        if why is not None:
            self.trading = False
            self.read_only = why
            line = f"Polymarket is read-only: {why}"
            log.warning("%s", line)
            self._note("poly_read_only", "warning", line)

    async def _eligibility(self) -> str | None:
        outcome = await sign_in(self.config, self.clock, os.environ)
        if outcome.venue is not None:
            self._live = outcome.venue
            self.venue = outcome.venue
        return outcome.read_only

    def start(self) -> None:
        self.ws.start()
        mode = "proposing pairs" if self.trading else "books only (strategies.cross_venue is off)"
        if self.read_only is not None:
            mode = f"books only: {self.read_only}"
        venue = "paper" if isinstance(self.venue, PaperPolymarketVenue) else "live"
        log.info("cross-venue desk started: %s; Polymarket leg venue: %s", mode, venue)
        if self.trading and venue == "paper":
            # Kalshi legs are real orders on whatever exchange the engine is connected to.
            self._note(
                "paper_hedge",
                "warning",
                'cross_venue: the Polymarket legs are paper fills ([polymarket] venue = "paper"); '
                "the Kalshi legs are real orders on the connected exchange",
            )

    async def close(self) -> None:
        """Wait (bounded) for Polymarket legs being placed, then stop discovery and close the clients."""
        for ticker, unwind in list(self._unwinds.items()):
            if not unwind.in_flight:  # no more timer ticks will propose its sale
                self._finish_unwind(ticker, unwind, "the engine stopped before the Kalshi leg was sold")
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
        if self._live is not None:
            await self._live.aclose()

    # -- proposals (called from the engine's timer) -----------------------------------------------

    def decisions(
        self, markets: Sequence[MarketState], now_ns: int, *, final_freeze_s: float = 60.0
    ) -> list[Decision]:
        """Kalshi legs of the pairs worth trading now; their Polymarket legs wait for the Kalshi fills."""
        self._proposed.clear()
        self._follow_windows(markets, now_ns)
        out: list[Decision] = self._unwind_decisions()  # Kalshi legs left alone are sold back first
        if not self.trading or not self.ws.connected:
            return out
        for m in markets:
            contract = m.contract
            ticker = contract.ticker
            if contract.series != KALSHI_15M_SERIES or ticker in self._busy or ticker in self._stopped:
                continue
            market = self.windows.get(window_start(contract.close_ns))
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

    def hedge(self, approved: Sequence[ApprovedOrder], results: Sequence[SubmitResult]) -> Awaitable[None]:
        """Kalshi answered: settle the Kalshi sales among ``approved``, then the pairs (run it as a task)."""
        self._settle_unwinds(approved, results)
        return super().hedge(approved, results)

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
            if self._claim_unwind(order):
                claimed = True
                continue
            pair = self._proposed.pop(order.intent, None)
            if pair is not None:
                self._busy.add(pair.ticker)
                self._counters.kalshi_sent += 1
                self.open_legs(pair, order)  # the Polymarket leg goes out now, beside the Kalshi one
                claimed = True
        return claimed
