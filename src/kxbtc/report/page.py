"""The tearsheet as one self-contained HTML file: inline CSS, charts as inline base64 PNGs, no scripts
and no link to anything outside the file, so it opens the same from a laptop, a mail attachment or a CI
artifact with no network. ``kxbtc.report.sections`` writes the sections; this module is the frame.
"""

from __future__ import annotations

import base64
from html import escape

from kxbtc.report import sections
from kxbtc.report.tearsheet import Tearsheet

CSS = """
:root { --ink: #1f3b57; --muted: #5f6f80; --line: #d9dee4; --gain: #2e7d32; --loss: #c62828; --bg: #f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
       font: 14px/1.45 "DejaVu Sans", "Liberation Sans", Arial, sans-serif; }
main { max-width: 1240px; margin: 0 auto; padding: 24px 32px 48px; }
header h1 { margin: 0 0 4px; font-size: 26px; }
header p { margin: 0; color: var(--muted); }
section { background: #fff; border: 1px solid var(--line); border-radius: 6px;
          margin: 18px 0; padding: 14px 20px; }
h2 { margin: 0 0 8px; font-size: 18px; border-bottom: 1px solid var(--line); padding-bottom: 6px; }
h3 { margin: 14px 0 6px; font-size: 14px; color: var(--muted); }
.cards { display: grid; grid-template-columns: repeat(4, 1fr); gap: 12px; margin-top: 16px; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 10px 14px; }
.card .label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.card .value { font-size: 22px; font-weight: bold; margin-top: 2px; }
.card .sub { color: var(--muted); font-size: 12px; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 10px; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 10px; border-bottom: 1px solid var(--line); text-align: left; white-space: nowrap; }
th { background: var(--bg); font-weight: 600; font-size: 12px; }
td.num, th.num { text-align: right; }
td.wrap { white-space: normal; }
.gain { color: var(--gain); }
.loss { color: var(--loss); }
.empty { color: var(--muted); font-style: italic; margin: 6px 0; }
.note { color: var(--muted); font-size: 12px; margin: 4px 0; }
img.chart { display: block; max-width: 100%; height: auto; margin: 8px 0; }
ul.warnings { color: var(--loss); }
"""


def render(sheet: Tearsheet, charts: dict[str, bytes]) -> str:
    """The whole page. ``charts`` are PNGs by file name, as ``charts.render_all`` returns them."""
    inline = {name: _img(name, data) for name, data in charts.items()}
    body = "\n".join(
        [
            sections.header(sheet),
            sections.cards(sheet),
            sections.equity(sheet, inline.get("equity.png", "")),
            sections.pnl_by_strategy(sheet, inline.get("pnl_by_strategy.png", "")),
            sections.pnl_by_market(sheet, inline.get("pnl_by_market.png", "")),
            sections.pnl_by_hour(sheet, inline.get("pnl_by_hour.png", "")),
            sections.fees(sheet),
            sections.hit_rate(sheet),
            sections.slippage(sheet, inline.get("slippage.png", "")),
            sections.fill_rates(sheet),
            sections.risk_events(sheet),
            sections.forecast(sheet, inline.get("reliability.png", "")),
            sections.notes(sheet),
        ]
    )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>kxbtc tearsheet: {escape(sheet.overview.db)}</title>\n"
        f"<style>{CSS}</style>\n</head>\n<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n"
    )


def _img(name: str, png: bytes) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img class="chart" alt="{escape(name)}" src="data:image/png;base64,{data}">'
