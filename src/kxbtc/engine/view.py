"""The demo's terminal view: a live panel on stderr while it runs, a summary table at the end.

On a terminal the panel redraws four times a second; elsewhere (CI, pipes) a progress line is printed
every ten seconds instead, so logs stay readable.
"""

from __future__ import annotations

import time
from types import TracebackType
from typing import Protocol

from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table

from kxbtc.clock import NS_PER_S
from kxbtc.engine.core import Engine
from kxbtc.engine.demo import DemoSummary
from kxbtc.session.demo import SessionSummary
from kxbtc.units import format_price_usd, format_qty, format_usd, parse_money


class DemoView:
    def __init__(self, *, minutes: float, speed: float, interactive: bool) -> None:
        self.minutes = minutes
        self.speed = speed
        self.interactive = interactive
        self.err = Console(stderr=True)
        self.out = Console()
        self._live: Live | None = None
        self._last_line = 0.0

    def __enter__(self) -> DemoView:
        self.err.print(
            f"kxbtc demo: simulator + engine at {self.speed:g}x for {self.minutes:g} min "
            f"({self.minutes * self.speed:g} simulated minutes)"
        )
        if self.interactive:
            self._live = Live(Panel("starting..."), console=self.err, refresh_per_second=4, transient=True)
            self._live.__enter__()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._live is not None:
            self._live.__exit__(exc_type, exc, tb)

    def update(self, engine: Engine, elapsed_s: float) -> None:
        if self._live is not None:
            self._live.update(self._panel(engine, elapsed_s))
        elif time.monotonic() - self._last_line >= 10.0:
            self._last_line = time.monotonic()
            s = engine.stats
            self.err.print(
                f"[{elapsed_s:5.0f}s/{self.minutes * 60:.0f}s] equity {format_usd(engine.equity())}, "
                f"orders {s.orders_sent}, fills {len(engine.portfolio.fill_ids)}, "
                f"settled {len(engine.portfolio.settled)}"
            )

    def _panel(self, engine: Engine, elapsed_s: float) -> Panel:
        s = engine.stats
        ledger = engine.portfolio.ledger
        head = Table.grid(padding=(0, 2))
        sim_time = time.strftime("%H:%M:%S", time.gmtime(engine.clock.time_ns() / NS_PER_S))
        head.add_row("sim time", f"{sim_time} UTC", "elapsed", f"{elapsed_s:.0f}s / {self.minutes * 60:.0f}s")
        head.add_row(
            "BTC index",
            f"${engine.index.spot:,.2f}" if engine.index.spot else "-",
            "equity",
            format_usd(engine.equity()),
        )
        head.add_row(
            "realized",
            format_usd(ledger.total_realized() - ledger.total_fees()),
            "fees",
            format_usd(ledger.total_fees()),
        )
        head.add_row("orders", str(s.orders_sent), "fills", str(len(engine.portfolio.fill_ids)))
        head.add_row(
            "settled", str(len(engine.portfolio.settled)), "halted", engine.risk.state.halted or "no"
        )
        markets = Table("market", "closes in", "YES bid", "YES ask", "position", box=None)
        now = engine.clock.time_ns()
        for ticker, spec in sorted(engine.markets.items(), key=lambda kv: kv[1].close_time_ns)[:6]:
            book = engine.ws.books.get(ticker)
            bid = book.best_yes_bid() if book is not None else None
            ask = book.yes_ask() if book is not None else None
            markets.add_row(
                ticker,
                f"{max(0, (spec.close_time_ns - now) // NS_PER_S)}s",
                format_price_usd(bid) if bid is not None else "-",
                format_price_usd(ask) if ask is not None else "-",
                format_qty(engine.portfolio.position(ticker)),
            )
        return Panel(Group(head, markets), title="kxbtc demo (paper, simulator)")

    def print_summary(self, summary: DemoSummary) -> None:
        simulated = f"{summary.sim_minutes:g} min at {summary.speed:g}x, seed {summary.seed}"
        self.out.print(_summary_table([("simulated", simulated), *_outcome_rows(summary)]))


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
        ("fees", format_usd(parse_money(summary.fees_usd))),
        ("realized P&L (net of fees)", format_usd(parse_money(summary.realized_pnl_usd))),
        ("risk events", ", ".join(e["kind"] for e in summary.risk_events) or "none"),
        (
            "decisions capped by risk",
            ", ".join(f"{k} {v:,}" for k, v in summary.rejections.items()) or "none",
        ),
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
        *_outcome_rows(summary),
        ("note", summary.note),
    ]
    Console().print(_summary_table(rows))
