"""The demo's terminal view: a live panel on stderr with the event feed under it, a summary at the end.

On a terminal the panel redraws a few times a second and stays on screen when the run ends; elsewhere
(CI, pipes) each feed line is printed as it happens, with a progress line now and then, so logs stay
readable.
"""

from __future__ import annotations

import time
from typing import Protocol

from rich.console import Console
from rich.table import Table

from kxbtc.engine.core import Engine
from kxbtc.engine.demo import DemoSummary
from kxbtc.engine.live_view import FeedPanel, SessionView, core_panel
from kxbtc.session.demo import SessionSummary
from kxbtc.units import format_usd, parse_money

__all__ = ["DemoView", "SessionView", "print_session_summary"]


class DemoView(FeedPanel):
    """The ``--socket`` demo's view: the engine's panel and the event feed under it."""

    def __init__(self, *, minutes: float, speed: float, interactive: bool) -> None:
        super().__init__(interactive=interactive, refresh_per_second=4)
        self.minutes = minutes
        self.speed = speed
        self.out = Console()
        self._last_line = 0.0

    def __enter__(self) -> DemoView:
        self.err.print(
            f"kxbtc demo: simulator + engine at {self.speed:g}x for {self.minutes:g} min "
            f"({self.minutes * self.speed:g} simulated minutes)"
        )
        self._open()
        return self

    def update(self, engine: Engine, elapsed_s: float) -> None:
        if self._live is not None:
            elapsed = f"{elapsed_s:.0f}s / {self.minutes * 60:.0f}s"
            self._show(core_panel(engine.core, "kxbtc demo (paper, simulator)", elapsed))
        elif time.monotonic() - self._last_line >= 10.0:
            self._last_line = time.monotonic()
            s = engine.stats
            self.err.print(
                f"[{elapsed_s:5.0f}s/{self.minutes * 60:.0f}s] equity {format_usd(engine.equity())}, "
                f"orders {s.orders_sent}, fills {engine.portfolio.fill_count}, "
                f"settled {len(engine.portfolio.settled)}"
            )

    def print_summary(self, summary: DemoSummary) -> None:
        simulated = f"{summary.sim_minutes:g} min at {summary.speed:g}x, seed {summary.seed}"
        rows = [("simulated", simulated), *_outcome_rows(summary), ("database", summary.db_path)]
        self.out.print(_summary_table(rows))


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
