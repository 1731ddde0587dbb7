"""The demo's terminal view: a live panel on stderr with the event feed under it, a summary at the end.

On a terminal the panel redraws a few times a second and stays on screen when the run ends; elsewhere
(CI, pipes) each feed line is printed as it happens, with a progress line now and then, so logs stay
readable.
"""

from __future__ import annotations

import time
from types import TracebackType
from typing import Protocol

from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from kxbtc.clock import NS_PER_S
from kxbtc.core.feed import FeedSink
from kxbtc.core.trading_core import TradingCore
from kxbtc.engine.core import Engine
from kxbtc.engine.demo import DemoSummary
from kxbtc.engine.feed_view import FeedLog, FeedPrinter, FeedTail
from kxbtc.session.demo import SessionSummary
from kxbtc.units import format_contracts, format_price, format_usd

#: Feed lines shown under the live panel (the whole feed goes to the log file with ``--log-file``).
FEED_LINES = 18


class DemoView:
    """The ``--socket`` demo's view: the engine's panel and the event feed under it."""

    def __init__(self, *, minutes: float, speed: float, interactive: bool) -> None:
        self.minutes = minutes
        self.speed = speed
        self.interactive = interactive
        self.err = Console(stderr=True)
        self.out = Console()
        self.tail = FeedTail(FEED_LINES)
        self._live: Live | None = None
        self._last_line = 0.0

    def sinks(self) -> list[FeedSink]:
        """What to attach to the core's feed: the tail under the panel, or a printer without one."""
        return [self.tail if self.interactive else FeedPrinter(self.err), FeedLog()]

    def __enter__(self) -> DemoView:
        self.err.print(
            f"kxbtc demo: simulator + engine at {self.speed:g}x for {self.minutes:g} min "
            f"({self.minutes * self.speed:g} simulated minutes)"
        )
        if self.interactive:
            self._live = Live(Panel("starting..."), console=self.err, refresh_per_second=4, transient=False)
            self._live.__enter__()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._live is not None:
            self._live.__exit__(exc_type, exc, tb)

    def update(self, engine: Engine, elapsed_s: float) -> None:
        if self._live is not None:
            elapsed = f"{elapsed_s:.0f}s / {self.minutes * 60:.0f}s"
            panel = core_panel(engine.core, "kxbtc demo (paper, simulator)", elapsed)
            self._live.update(Group(panel, self.tail.render()))
        elif time.monotonic() - self._last_line >= 10.0:
            self._last_line = time.monotonic()
            s = engine.stats
            self.err.print(
                f"[{elapsed_s:5.0f}s/{self.minutes * 60:.0f}s] equity {format_usd(engine.equity())}, "
                f"orders {s.orders_sent}, fills {len(engine.portfolio.fill_ids)}, "
                f"settled {len(engine.portfolio.settled)}"
            )

    def print_summary(self, summary: DemoSummary) -> None:
        simulated = f"{summary.sim_minutes:g} min at {summary.speed:g}x, seed {summary.seed}"
        rows = [("simulated", simulated), *_outcome_rows(summary), ("database", summary.db_path)]
        self.out.print(_summary_table(rows))


class SessionView:
    """The in-process demo's view: a live panel with the feed under it on a terminal, else the feed
    printed line by line and a progress line every simulated quarter hour."""

    def __init__(self, *, interactive: bool, console: Console | None = None) -> None:
        self.interactive = interactive
        self.err = console or Console(stderr=True)
        self.tail = FeedTail(FEED_LINES)
        self._live: Live | None = None
        self._drawn = 0.0

    def sinks(self) -> list[FeedSink]:
        return [self.tail if self.interactive else FeedPrinter(self.err), FeedLog()]

    def __enter__(self) -> SessionView:
        if self.interactive:
            self._live = Live(Text("starting..."), console=self.err, refresh_per_second=8, transient=False)
            self._live.__enter__()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._live is not None:
            self._live.__exit__(exc_type, exc, tb)

    def draw(self, core: TradingCore, *, force: bool = False) -> None:
        """Redraw the panel: the run goes much faster than a terminal redraws, so at most 10 times a
        wall-clock second (display only: the run itself never looks at the wall clock)."""
        if self._live is None or not (force or time.monotonic() - self._drawn >= 0.1):
            return
        self._drawn = time.monotonic()
        panel = core_panel(core, "kxbtc demo (paper, simulator, one simulated clock)")
        self._live.update(Group(panel, self.tail.render()), refresh=force)

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
    head.add_row("orders", str(core.stats.orders_sent), "fills", str(len(core.portfolio.fill_ids)))
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
            format_price(bid) if bid is not None else "-",
            format_price(ask) if ask is not None else "-",
            format_contracts(core.portfolio.position(instrument.ticker)),
        )
    return Panel(Group(head, markets), title=title)


class RunOutcome(Protocol):
    """What both demo summaries report about the account (``DemoSummary``, ``SessionSummary``)."""

    settled_markets: int
    markets_traded: int
    orders: int
    fills: int
    fees_usd: str
    realized_pnl_usd: str
    risk_events: list[dict[str, str]]
    rejections: dict[str, int]
    ledger_matches: bool
    mismatches: list[str]


def _outcome_rows(summary: RunOutcome) -> list[tuple[str, str]]:
    return [
        ("settled markets", str(summary.settled_markets)),
        ("markets traded", str(summary.markets_traded)),
        ("orders", str(summary.orders)),
        ("fills", str(summary.fills)),
        ("fees", f"${summary.fees_usd}"),
        ("realized P&L (net of fees)", f"${summary.realized_pnl_usd}"),
        ("risk events", ", ".join(e["kind"] for e in summary.risk_events) or "none"),
        ("risk rejections", ", ".join(f"{k} {v}" for k, v in summary.rejections.items()) or "none"),
        (
            "ledger matches simulator",
            "yes" if summary.ledger_matches else "NO: " + "; ".join(summary.mismatches[:5]),
        ),
    ]


def _summary_table(rows: list[tuple[str, str]]) -> Table:
    table = Table(title="kxbtc demo summary", show_header=False)
    for key, value in rows:
        table.add_row(key, value)
    return table


def print_session_summary(summary: SessionSummary) -> None:
    """The in-process demo's summary table on stdout."""
    network = f"{summary.latency_ms:g} ms + {summary.jitter_ms:g} ms jitter, loss {summary.loss:g}"
    rows = [
        ("simulated", f"{summary.sim_hours:g} h, seed {summary.seed}, {', '.join(summary.series)}"),
        ("network", network),
        *(
            [("stopped early", "yes (Ctrl-C): the figures are those of the run so far")]
            if summary.interrupted
            else []
        ),
        *_outcome_rows(summary),
        ("database", summary.db_path),
        ("note", summary.note),
    ]
    Console().print(_summary_table(rows))
