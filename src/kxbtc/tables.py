"""The one table style of every command's terminal output.

No side borders and one space between columns, numbers right-aligned and never wrapped: with ids cut to 8
characters (``--wide`` shows them whole) the commands' tables fit an 80-column terminal. An empty table
prints one ``no ...`` line instead of a grid of headers.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich import box
from rich.table import Table
from rich.text import Text


def compact_table(title: str, *columns: str, numeric: Sequence[str] = ()) -> Table:
    """A table titled ``title`` with ``columns``; those named in ``numeric`` are right-aligned."""
    table = Table(
        title=title, title_justify="left", header_style="bold", box=box.SIMPLE_HEAD, show_edge=False,
        pad_edge=False, padding=(0, 0), collapse_padding=True,
    )  # fmt: skip
    for name in columns:
        table.add_column(name, justify="right" if name in numeric else "left", no_wrap=name in numeric)
    return table


def no_rows(what: str) -> Text:
    """The line an empty table prints instead: ``no orders``."""
    return Text(f"no {what}")
