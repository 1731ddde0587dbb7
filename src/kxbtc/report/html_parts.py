"""The HTML building blocks of the tearsheet's sections: table cells, tables, a section, a note.

A cell is already-escaped HTML with its CSS class, so a section can never put raw database text on the
page; money cells go through ``kxbtc.report.fmt`` and are coloured by their sign.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape

from kxbtc.report import fmt
from kxbtc.report.intervals import Interval

Cell = tuple[str, str]  # (already-escaped html, css class)


def when(ts_ns: int | None) -> str:
    if ts_ns is None:
        return "—"
    return datetime.fromtimestamp(ts_ns // 1_000_000_000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def text(value: object) -> Cell:
    return escape(str(value)), ""


def number(value: str) -> Cell:
    return escape(value), "num"


def pnl(micros: int) -> Cell:
    tone = "gain" if micros > 0 else "loss" if micros < 0 else ""
    return escape(fmt.signed_dollars(micros)), f"num {tone}".strip()


def interval_text(value: Interval | None) -> str:
    if value is None:
        return "—"
    return f"{fmt.signed_dollars(value.low)} to {fmt.signed_dollars(value.high)}"


def interval(value: Interval | None) -> Cell:
    return escape(interval_text(value)), "num"


def table(headers: Sequence[str], rows: Sequence[Sequence[Cell]], numeric_from: int = 1) -> str:
    """An HTML table; columns from ``numeric_from`` on are right-aligned. "no rows" when empty."""
    if not rows:
        return '<p class="empty">no rows</p>'
    head = "".join(
        f'<th class="num">{escape(h)}</th>' if i >= numeric_from else f"<th>{escape(h)}</th>"
        for i, h in enumerate(headers)
    )
    body = "".join(
        "<tr>"
        + "".join(f'<td class="{css}">{html}</td>' if css else f"<td>{html}</td>" for html, css in row)
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def section(title: str, *parts: str) -> str:
    return f"<section>\n<h2>{escape(title)}</h2>\n" + "\n".join(p for p in parts if p) + "\n</section>"


def note(value: str) -> str:
    return f'<p class="note">{escape(value)}</p>'
