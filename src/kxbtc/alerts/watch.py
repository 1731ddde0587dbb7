"""What raises an alert: a feed sink that watches the operator's feed, plus a clock check.

- a breaker trips (a risk limit stops trading) and the kill switch halts or resumes: at once;
- a venue stream stays disconnected longer than ``disconnect_after_s``: once per outage, and again
  when it comes back;
- each day's summary at the day boundary of the market's clock (UTC), from what the feed showed that
  day: markets settled and their P&L, fills and fees, breakers; equity read from the core.

``AlertWatch.check`` is driven by ``run`` on the injected clock (one check a second), so tests move
time by hand.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from kxbtc.clock import NS_PER_S, Clock
from kxbtc.config import Config
from kxbtc.core.feed import FeedEvent
from kxbtc.units import Money, format_usd

if TYPE_CHECKING:
    from kxbtc.core.trading_core import TradingCore

#: Anything with ``notify(text)``: the webhook notifier, or a list in a test.
Notify = Callable[[str], None]


def utc_day(ts_ns: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(ts_ns // NS_PER_S))


@dataclass(slots=True)
class DayTally:
    settled: int = 0
    pnl: int = 0  # Money, net of fees, of the markets settled that day
    fills: int = 0
    fees: int = 0  # Money
    breakers: int = 0


class AlertWatch:
    def __init__(
        self,
        notify: Notify,
        *,
        disconnect_after_s: float = 60.0,
        daily_summary: bool = True,
        equity: Callable[[], Money] | None = None,
        name: str = "kxbtc",
    ) -> None:
        self.notify = notify
        self.disconnect_after_ns = int(disconnect_after_s * NS_PER_S)
        self.daily_summary = daily_summary
        self.equity = equity
        self.name = name
        self.day = ""
        self.tally = DayTally()
        self._down_since: dict[str, int] = {}  # venue -> when its stream went down
        self._down_alerted: set[str] = set()

    # -- the feed -----------------------------------------------------------------------------------

    def on_feed(self, event: FeedEvent) -> None:
        self._roll_day(event.ts_ns)
        kind = event.kind
        if kind == "breaker":
            self.tally.breakers += 1
            self.notify(f"{self.name}: {event.text}")
        elif kind == "halt":
            self.notify(f"{self.name}: {event.text}")
        elif kind == "connection":
            self._connection(event)
        elif kind == "market_settled":
            self.tally.settled += 1
            self.tally.pnl += event.amount or 0
        elif kind == "order_filled":
            self.tally.fills += 1
            self.tally.fees += event.amount or 0

    def _connection(self, event: FeedEvent) -> None:
        venue = event.venue
        if event.severity == "warning":  # down
            self._down_since.setdefault(venue, event.ts_ns)
            return
        since = self._down_since.pop(venue, None)
        if venue in self._down_alerted and since is not None:
            self._down_alerted.discard(venue)
            self.notify(f"{self.name}: {venue} stream back after {(event.ts_ns - since) // NS_PER_S} s down")

    # -- the clock ----------------------------------------------------------------------------------

    def check(self, now_ns: int) -> None:
        """Alerts that come from time passing: a long disconnection, the day's end."""
        for venue, since in self._down_since.items():
            if venue not in self._down_alerted and now_ns - since >= self.disconnect_after_ns:
                self._down_alerted.add(venue)
                self.notify(
                    f"{self.name}: {venue} stream disconnected for {(now_ns - since) // NS_PER_S} s "
                    "(trading on stale data is blocked until it is back)"
                )
        self._roll_day(now_ns)

    def _roll_day(self, now_ns: int) -> None:
        day = utc_day(now_ns)
        if not self.day:
            self.day = day
        elif day > self.day:
            if self.daily_summary:
                self.notify(self.summary())
            self.day, self.tally = day, DayTally()

    def summary(self) -> str:
        t = self.tally
        equity = f", equity {format_usd(self.equity())}" if self.equity is not None else ""
        return (
            f"{self.name} daily summary {self.day} (UTC): {t.settled} markets settled, "
            f"P&L {format_usd(t.pnl)} net of fees, {t.fills} fills, fees {format_usd(t.fees)}, "
            f"{t.breakers} breaker trips{equity}"
        )

    async def run(self, clock: Clock, every_s: float = 1.0) -> None:
        while True:
            await clock.sleep(every_s)
            self.check(clock.time_ns())


class Notifier(Protocol):
    """What ``AlertService`` needs of a notifier (``WebhookNotifier``)."""

    def notify(self, text: str) -> None: ...

    async def close(self) -> None: ...


class AlertService:
    """The notifier and the watch, started together and stopped together (``kxbtc run``)."""

    def __init__(self, watch: AlertWatch, notifier: Notifier, clock: Clock) -> None:
        self.watch = watch
        self.notifier = notifier
        self._task = asyncio.ensure_future(watch.run(clock))

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        await self.notifier.close()


def start_alerts(config: Config, core: TradingCore, clock: Clock) -> AlertService | None:
    """Attach alerts to ``core``'s feed when ``[alerts]`` names webhooks; None otherwise."""
    from kxbtc.alerts.webhook import WebhookNotifier

    if not config.alerts.webhooks:
        return None
    notifier = WebhookNotifier.from_config(config.alerts, clock)
    notifier.start()
    watch = AlertWatch(
        notifier.notify,
        disconnect_after_s=config.alerts.disconnect_after_s,
        daily_summary=config.alerts.daily_summary,
        equity=core.equity,
    )
    core.feed.attach(watch)
    return AlertService(watch, notifier, clock)
