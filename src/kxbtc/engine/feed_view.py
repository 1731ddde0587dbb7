"""The event feed on a terminal and in the log: sinks for ``kxbtc.core.feed``.

- ``FeedTail`` keeps the latest lines for a live view to draw under its panel;
- ``FeedPrinter`` prints each line as it comes (no live view: a pipe, CI, ``kxbtc run``);
- ``FeedLog`` writes each line to the ``kxbtc.feed`` logger, so ``--log-file`` keeps the whole feed
  (with its kind, market and market-clock time as fields of the JSON log lines).
"""

from __future__ import annotations

import logging
import time
from collections import deque

from rich.console import Console
from rich.text import Text

from kxbtc.clock import NS_PER_S
from kxbtc.core.feed import FeedEvent

feed_log = logging.getLogger("kxbtc.feed")

#: How each kind of line looks; settlements are green or red by their P&L.
STYLES = {
    "market_opened": "cyan",
    "order_sent": "",
    "order_filled": "green",
    "order_rejected": "yellow",
    "breaker": "bold red",
    "halt": "bold red",
    "repair": "magenta",
    "connection": "yellow",
    "info": "dim",
}


def clock_time(ts_ns: int) -> str:
    """``HH:MM:SS`` of the market's clock (UTC)."""
    return time.strftime("%H:%M:%S", time.gmtime(ts_ns // NS_PER_S))


def plain_line(event: FeedEvent) -> str:
    return f"{clock_time(event.ts_ns)}  {event.text}"


def styled_line(event: FeedEvent) -> Text:
    if event.kind == "market_settled":
        style = "bold green" if (event.amount or 0) >= 0 else "bold red"
    else:
        style = STYLES.get(event.kind, "")
    line = Text(clock_time(event.ts_ns) + "  ", style="dim")
    line.append(event.text, style=style)
    return line


class FeedTail:
    """The last ``size`` lines, for a live view."""

    def __init__(self, size: int = 15) -> None:
        self.lines: deque[FeedEvent] = deque(maxlen=size)
        self.total = 0

    def on_feed(self, event: FeedEvent) -> None:
        self.lines.append(event)
        self.total += 1

    def render(self) -> Text:
        if not self.lines:
            return Text("waiting for the first market...", style="dim")
        return Text("\n").join(styled_line(e) for e in self.lines)


class FeedPrinter:
    """Each line printed as it comes, to ``console`` (stderr by default: stdout carries ``--json``)."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)

    def on_feed(self, event: FeedEvent) -> None:
        self.console.print(styled_line(event), soft_wrap=True, highlight=False)


class FeedLog:
    def on_feed(self, event: FeedEvent) -> None:
        level = logging.WARNING if event.severity in ("warning", "halt") else logging.INFO
        feed_log.log(
            level,
            "%s",
            event.text,
            extra={"feed_kind": event.kind, "ticker": event.ticker, "market_ts_ns": event.ts_ns},
        )
