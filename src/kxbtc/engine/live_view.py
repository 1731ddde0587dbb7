"""A live terminal view of a trading core: a panel (market time, index, account, the nearest markets) with
the event feed under it, used by the in-process demo and ``kxbtc run``.

On a terminal the panel redraws a few times a second and stays on screen when the run ends; elsewhere
(CI, pipes) each feed line is printed as it happens instead.
"""

from __future__ import annotations

import time
from types import TracebackType

from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from kxbtc.clock import NS_PER_S
from kxbtc.core.feed import FeedSink
from kxbtc.core.trading_core import TradingCore
from kxbtc.engine.feed_view import FeedLog, FeedPrinter, FeedTail
from kxbtc.units import format_contracts, format_price_usd, format_usd

#: Feed lines shown under the live panel (the whole feed goes to the log file with ``--log-file``).
FEED_LINES = 18


class FeedPanel:
    """A live panel on stderr with the event feed's last lines under it, on a terminal; elsewhere the feed
    printed line by line. The views below say what the panel shows and when."""

    def __init__(self, *, interactive: bool, console: Console | None = None, refresh_per_second: int) -> None:
        self.interactive = interactive
        self.err = console or Console(stderr=True)
        self.tail = FeedTail(FEED_LINES)
        self._live: Live | None = None
        self._refresh_per_second = refresh_per_second

    def sinks(self) -> list[FeedSink]:
        """What to attach to the core's feed: the tail under the panel, or a printer without one."""
        return [self.tail if self.interactive else FeedPrinter(self.err), FeedLog()]

    def _open(self) -> None:
        if self.interactive:
            self._live = Live(
                Text("starting..."),
                console=self.err,
                refresh_per_second=self._refresh_per_second,
                transient=False,
            )
            self._live.__enter__()

    def _show(self, panel: Panel, *, refresh: bool = False) -> None:
        if self._live is not None:
            self._live.update(Group(panel, self.tail.render()), refresh=refresh)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._live is not None:
            self._live.__exit__(exc_type, exc, tb)


class SessionView(FeedPanel):
    """The core's panel over the feed (and, for the in-process demo without a terminal, a progress line
    every simulated quarter hour). ``kxbtc run`` uses it too."""

    def __init__(
        self,
        *,
        interactive: bool,
        console: Console | None = None,
        title: str = "kxbtc demo (paper, simulator, one simulated clock)",
    ) -> None:
        super().__init__(interactive=interactive, console=console, refresh_per_second=8)
        self.title = title
        self._drawn = 0.0

    def __enter__(self) -> SessionView:
        self._open()
        return self

    def draw(self, core: TradingCore, *, force: bool = False) -> None:
        """Redraw the panel: the run goes much faster than a terminal redraws, so at most 10 times a
        wall-clock second (display only: the run itself never looks at the wall clock)."""
        if self._live is None or not (force or time.monotonic() - self._drawn >= 0.1):
            return
        self._drawn = time.monotonic()
        self._show(core_panel(core, self.title), refresh=force)

    def progress(self, core: TradingCore, orders: int) -> None:
        """The line printed every simulated quarter hour when there is no live panel."""
        if self._live is not None:
            return
        stats = core.stats
        self.err.print(
            f"  {time.strftime('%H:%M', time.gmtime(core.clock.time_ns() // NS_PER_S))} UTC"
            f"  equity {format_usd(core.equity())}  orders {orders}"
            f"  fills {stats.fills_ws}  settled {stats.settlements}"
        )


def core_panel(core: TradingCore, title: str, elapsed: str = "") -> Panel:
    """Counters, the account and the nearest markets, all on the market's clock."""
    ledger = core.portfolio.ledger
    head = Table.grid(padding=(0, 2))
    now = core.clock.time_ns()
    market_time = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now // NS_PER_S))
    head.add_row("market time", f"{market_time} UTC", "elapsed" if elapsed else "", elapsed)
    head.add_row(
        "BTC index",
        f"${core.index.spot:,.2f}" if core.index.spot else "-",
        "equity",
        format_usd(core.equity()),
    )
    head.add_row(
        "realized (net)",
        format_usd(ledger.total_realized() - ledger.total_fees()),
        "fees",
        format_usd(ledger.total_fees()),
    )
    head.add_row("orders", str(core.stats.orders_sent), "fills", str(core.portfolio.fill_count))
    head.add_row("settled", str(len(core.portfolio.settled)), "halted", core.risk.state.halted or "no")
    markets = Table("market", "closes in", "YES bid", "YES ask", "position", box=None)
    live = [i for i in core.instruments.values() if i.close_ns > now]
    for instrument in sorted(live, key=lambda i: i.close_ns)[:4]:
        book = core.books.get(instrument.ticker)
        bid = book.best_yes_bid() if book is not None else None
        ask = book.yes_ask() if book is not None else None
        markets.add_row(
            instrument.ticker,
            f"{max(0, (instrument.close_ns - now) // NS_PER_S)}s",
            format_price_usd(bid) if bid is not None else "-",
            format_price_usd(ask) if ask is not None else "-",
            format_contracts(core.portfolio.position(instrument.ticker)),
        )
    return Panel(Group(head, markets), title=title)
