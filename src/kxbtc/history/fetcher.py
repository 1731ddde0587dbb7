"""The history fetch: settled markets of one series closing in [start, end), each market's one-minute
candles and public trades, and BTC-USD one-minute spot candles over the same range.

Order of work, each step a paged task whose progress is committed with its page (``HistoryDb``):

1. the historical cutoff, fresh on every run (it moves as Kalshi archives);
2. the market list: the historical tier when the range starts before the market cutoff, the live
   settled list when it ends after it; only markets closing in [start, end) are kept;
3. per stored market, by close time: its candles (in windows of at most a day), then its trades, from
   the historical tier for trades before the trade cutoff and the live one for trades after it;
4. the spot candles, in windows of 300 minutes.

A restarted run skips tasks marked done and resumes a task at its saved cursor, so a run killed at any
instant repeats at most one page; the primary keys make that page's second insert a no-op.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from kxbtc.errors import ProtocolError
from kxbtc.history.db import HistoryDb, Progress, Row
from kxbtc.history.rows import MarketRow, candle_row, market_row, trade_row
from kxbtc.history.spot import WINDOW_S, SpotCandlesClient
from kxbtc.kalshi.history import HistoricalCutoff, KalshiHistoryApi
from kxbtc.kalshi.rest_messages import Market

log = logging.getLogger(__name__)

#: Markets settle after they close; how long after is allowed when asking by settled time.
SETTLE_SLACK_S = 86_400
#: The longest span one candlestick request asks for (one-minute candles of one day).
CANDLE_WINDOW_S = 86_400

#: One page: (rows to store, the cursor that continues after it, or "" when it was the last).
PageFetch = Callable[[str], Awaitable[tuple[Sequence[Row], str]]]


@dataclass(frozen=True, slots=True)
class FetchPlan:
    """What to fetch: a series, a half-open range of close times (Unix seconds), page sizes."""

    series: str
    start_ts: int
    end_ts: int
    market_page: int = 200
    trade_page: int = 1000

    def __post_init__(self) -> None:
        if self.end_ts <= self.start_ts:
            raise ValueError("the range is empty: --to must be after --from")


@dataclass(frozen=True, slots=True)
class FetchSummary:
    """Rows stored for the plan's scope (all runs together) and this run's requests."""

    markets: int
    candles: int
    trades: int
    spot_candles: int
    pages: int
    retries: int
    rate_limited: int

    def line(self) -> str:
        return (
            f"{self.markets:,} markets, {self.candles:,} candles, {self.trades:,} trades, "
            f"{self.spot_candles:,} spot candles; {self.pages:,} pages, {self.retries:,} retries "
            f"({self.rate_limited:,} rate limited)"
        )


class HistoryFetcher:
    """Runs one ``FetchPlan`` into a ``HistoryDb``."""

    def __init__(self, db: HistoryDb, kalshi: KalshiHistoryApi, spot: SpotCandlesClient, plan: FetchPlan):
        self.db = db
        self.kalshi = kalshi
        self.spot = spot
        self.plan = plan
        self.pages = 0

    async def run(self) -> FetchSummary:
        cutoff = await self.kalshi.cutoff()
        await self._markets(cutoff)
        for market in self.db.markets_closing_in(self.plan.series, self.plan.start_ts, self.plan.end_ts):
            await self._candles(market)
            await self._trades(market, cutoff)
        await self._spot()
        return self.summary()

    def summary(self) -> FetchSummary:
        plan = self.plan
        counts = self.db.count_scope(plan.series, plan.start_ts, plan.end_ts, self.spot.product)
        clients = (self.kalshi.http.stats, self.spot.http.stats)
        return FetchSummary(
            markets=counts["markets"],
            candles=counts["candles"],
            trades=counts["trades"],
            spot_candles=counts["spot_candles"],
            pages=self.pages,
            retries=sum(s.retries for s in clients),
            rate_limited=sum(s.rate_limited for s in clients),
        )

    # -- the paged-task walker ----------------------------------------------------------------------

    async def _walk(self, task: str, fetch: PageFetch) -> None:
        """Fetch pages from the task's saved cursor until the last, committing each with its progress."""
        state = self.db.progress(task)
        if state.done:
            return
        cursor = state.cursor
        seen = {cursor}
        while True:
            rows, following = await fetch(cursor)
            self.pages += 1
            self.db.commit_page(rows, task, Progress(following, done=not following))
            if not following:
                return
            if following in seen:
                raise ProtocolError(f"{task}: cursor {following!r} repeated; stopping")
            seen.add(following)
            cursor = following

    # -- markets ----------------------------------------------------------------------------------------

    def _in_range(self, close_ts: int) -> bool:
        return self.plan.start_ts <= close_ts < self.plan.end_ts

    async def _markets(self, cutoff: HistoricalCutoff) -> None:
        plan = self.plan
        scope = f"{plan.series}:{plan.start_ts}:{plan.end_ts}"
        if plan.start_ts < cutoff.market_settled_s:

            async def archived(cursor: str) -> tuple[Sequence[Row], str]:
                page = await self.kalshi.historical_markets(
                    plan.series, cursor=cursor, limit=plan.market_page
                )
                return self._market_rows(page.markets, archived=True), page.cursor or ""

            await self._walk(f"markets:historical:{scope}", archived)
        if plan.end_ts > cutoff.market_settled_s:

            async def live(cursor: str) -> tuple[Sequence[Row], str]:
                page = await self.kalshi.settled_markets(
                    plan.series,
                    min_settled_ts=plan.start_ts,
                    max_settled_ts=plan.end_ts + SETTLE_SLACK_S,
                    cursor=cursor,
                    limit=plan.market_page,
                )
                return self._market_rows(page.markets, archived=False), page.cursor or ""

            await self._walk(f"markets:live:{scope}", live)

    def _market_rows(self, markets: Sequence[Market] | None, *, archived: bool) -> list[Row]:
        rows: list[Row] = []
        for market in markets or ():
            row = market_row(market, self.plan.series, archived=archived)
            if self._in_range(row.close_ts):
                rows.append(row)
        return rows

    # -- per market -------------------------------------------------------------------------------------

    async def _candles(self, market: MarketRow) -> None:
        """Candles ending in [open, close], asked for a day at a time; the cursor is the next start."""
        first = market.open_ts

        async def window(cursor: str) -> tuple[Sequence[Row], str]:
            start = int(cursor) if cursor else first
            end = min(start + CANDLE_WINDOW_S, market.close_ts)
            candles = await self.kalshi.candlesticks(
                self.plan.series, market.ticker, start_ts=start, end_ts=end, archived=bool(market.archived)
            )
            rows = [candle_row(market.ticker, c) for c in candles]
            return rows, "" if end >= market.close_ts else str(end + 1)

        await self._walk(f"candles:{market.ticker}", window)

    async def _trades(self, market: MarketRow, cutoff: HistoricalCutoff) -> None:
        tiers: list[bool] = []
        if market.archived or market.open_ts < cutoff.trades_created_s:
            tiers.append(True)
        if not market.archived and market.close_ts >= cutoff.trades_created_s:
            tiers.append(False)
        for archived in tiers:

            async def page(cursor: str, archived: bool = archived) -> tuple[Sequence[Row], str]:
                got = await self.kalshi.trades(
                    market.ticker, cursor=cursor, limit=self.plan.trade_page, archived=archived
                )
                return [trade_row(t) for t in got.trades or ()], got.cursor or ""

            tier = "historical" if archived else "live"
            await self._walk(f"trades:{tier}:{market.ticker}", page)

    # -- spot -------------------------------------------------------------------------------------------

    async def _spot(self) -> None:
        plan = self.plan

        async def window(cursor: str) -> tuple[Sequence[Row], str]:
            start = int(cursor) if cursor else plan.start_ts
            rows = [r for r in await self.spot.window(start) if r.start_ts < plan.end_ts]
            following = start + WINDOW_S
            return rows, "" if following >= plan.end_ts else str(following)

        await self._walk(f"spot:{self.spot.product}:{plan.start_ts}:{plan.end_ts}", window)


__all__ = ["FetchPlan", "FetchSummary", "HistoryFetcher"]
