"""``kxbtc report --db FILE --out DIR [--json]``: the tearsheet of any kxbtc database.

Writes ``DIR/report.html`` (self-contained) and one PNG per chart with data; ``--json`` prints the same
figures as one JSON object. The database is opened read-only (``kxbtc.ops.queries.open_readonly``), so
the report can be made beside a live engine. Exit codes as the operator commands: 2 for a missing,
foreign or corrupt database, 1 for a runtime failure such as an unwritable ``--out``.
"""

from __future__ import annotations

import json
from contextlib import closing
from pathlib import Path

import click

from kxbtc.exit_codes import EXIT_FAILURE, EXIT_USAGE
from kxbtc.ops.queries import DatabaseUnusable, open_readonly
from kxbtc.report.intervals import DEFAULT_SEED

HTML_NAME = "report.html"


@click.command("report")
@click.option("--db", "db", type=click.Path(path_type=Path), required=True, help="The kxbtc SQLite database.")
@click.option(
    "--out",
    "out",
    type=click.Path(path_type=Path, file_okay=False),
    required=True,
    help="Directory to write report.html and the PNGs into.",
)
@click.option("--json", "as_json", is_flag=True, help="Also print the figures as one JSON object.")
@click.option(
    "--seed",
    type=int,
    default=DEFAULT_SEED,
    show_default=True,
    help="Seed of the market resampling behind the intervals.",
)
def report(db: Path, out: Path, as_json: bool, seed: int) -> None:
    """One HTML tearsheet (and PNGs) for a backtest, replay or live database: equity and drawdown, P&L by
    strategy, market and hour with intervals, fees, hit rate, slippage, fill rates, risk events and
    forecast reliability."""
    try:
        from kxbtc.report import charts, json_view, page, tearsheet  # matplotlib only when a report runs
    except ImportError as exc:
        _fail(f"kxbtc report needs matplotlib ({exc}): pip install 'kxbtc[report]'", EXIT_USAGE)
    try:
        with closing(open_readonly(db)) as conn:
            sheet = tearsheet.build(conn, db, seed=seed)
    except DatabaseUnusable as exc:
        _fail(str(exc), EXIT_USAGE)
    pngs = charts.render_all(sheet)
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name, data in pngs.items():
            (out / name).write_bytes(data)
        (out / HTML_NAME).write_text(page.render(sheet, pngs), encoding="utf-8")
    except OSError as exc:
        _fail(f"{out}: cannot write the report ({exc.strerror or exc})", EXIT_FAILURE)
    if as_json:
        payload = json_view.as_json(sheet)
        payload["files"] = {"html": str(out / HTML_NAME), "png": [str(out / n) for n in pngs]}
        click.echo(json.dumps(payload, indent=2))
    else:
        click.echo(f"wrote {out / HTML_NAME} and {len(pngs)} chart(s)")


def _fail(message: str, code: int) -> None:
    click.echo(f"error: {message}", err=True)
    raise SystemExit(code)
