"""The tearsheet's sections as HTML fragments, one function per section.

Every amount goes through ``kxbtc.report.fmt`` (dollars and cents, the sign before the symbol;
contracts as contracts); every piece of text from the database is escaped. A section with nothing to
show says "no rows" instead of drawing an empty table.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from kxbtc.report import fmt
from kxbtc.report.fees import FeeRow
from kxbtc.report.html_parts import (
    Cell,
    interval,
    interval_text,
    note,
    number,
    pnl,
    section,
    table,
    text,
    when,
)
from kxbtc.report.pnl import PnlRow
from kxbtc.report.tearsheet import Tearsheet

#: The market table lists every market up to this many; beyond, the best and worst half each.
MAX_MARKET_ROWS = 40
#: The newest risk events listed one by one (the counts above them cover all).
MAX_RISK_EVENTS = 50


def header(sheet: Tearsheet) -> str:
    o = sheet.overview
    return (
        "<header><h1>kxbtc tearsheet</h1>"
        f"<p>{escape(o.db)} &middot; {escape(when(o.first_ns))} to {escape(when(o.last_ns))}</p></header>"
    )


def cards(sheet: Tearsheet) -> str:
    o, total, eq, hits = sheet.overview, sheet.pnl.total, sheet.equity, sheet.hits
    change = None if eq.start is None or eq.end is None else eq.end - eq.start
    items = [
        ("Realized P&L after fees", fmt.signed_dollars(total.net), "95%: " + interval_text(total.interval)),
        (
            "Equity",
            "—" if eq.end is None else fmt.dollars(eq.end),
            "change " + ("—" if change is None else fmt.signed_dollars(change)),
        ),
        ("Max drawdown", fmt.dollars(eq.max_drawdown), when(eq.max_drawdown_ns)),
        ("Fees", fmt.dollars(sheet.fees.total.fees), f"{sheet.fees.total.fills} fills"),
        ("Markets", f"{o.markets_traded} traded", f"{o.markets_settled} settled"),
        ("Volume", fmt.contracts(o.volume), f"{o.orders} orders, {o.fills} fills"),
        (
            "Hit rate (markets)",
            fmt.percent(hits.markets_won, hits.markets_settled),
            f"{hits.markets_won} of {hits.markets_settled} settled",
        ),
        (
            "Slippage vs mid",
            fmt.per_contract(sheet.slippage.total.per_contract) + "/contract"
            if sheet.slippage.fills
            else "—",
            f"cost {fmt.dollars(sheet.slippage.total.cost)} over {sheet.slippage.total.fills} fills",
        ),
    ]
    html = "".join(
        f'<div class="card"><div class="label">{escape(label)}</div><div class="value">{escape(value)}</div>'
        f'<div class="sub">{escape(sub)}</div></div>'
        for label, value, sub in items
    )
    return f'<div class="cards">{html}</div>'


def equity(sheet: Tearsheet, chart: str) -> str:
    eq = sheet.equity
    if not eq.points:
        return section("Equity and drawdown", '<p class="empty">no rows</p>')
    assert eq.start is not None and eq.end is not None and eq.peak is not None
    rows = [
        [text("start"), number(fmt.dollars(eq.start))],
        [text("end"), number(fmt.dollars(eq.end))],
        [text("peak"), number(fmt.dollars(eq.peak))],
        [text(f"max drawdown ({when(eq.max_drawdown_ns)})"), pnl(eq.max_drawdown)],
    ]
    return section(
        "Equity and drawdown",
        chart,
        table(["", "equity"], rows),
        note(
            f"{len(eq.points)} snapshots (thinned keeping each run's low and high when there are very many)."
        ),
    )


def _pnl_rows(rows: Sequence[PnlRow], with_total: PnlRow | None = None) -> list[list[Cell]]:
    out = [
        [
            text(r.key),
            pnl(r.net),
            interval(r.interval),
            number(fmt.dollars(r.fees)),
            number(fmt.contracts(r.volume)),
            number(str(r.markets)),
        ]
        for r in rows
    ]
    if with_total is not None and rows:
        t = with_total
        out.append(
            [
                ("<b>total</b>", ""),
                pnl(t.net),
                interval(t.interval),
                number(fmt.dollars(t.fees)),
                number(fmt.contracts(t.volume)),
                number(str(t.markets)),
            ]
        )
    return out


_PNL_HEADERS = ("", "net P&L", "95% interval", "fees", "volume", "markets")


def _resampling_note(sheet: Tearsheet) -> str:
    p = sheet.pnl
    return note(
        f"Intervals: {p.resamples:,} resamples of the {p.total.markets:,} traded markets drawn with"
        f" replacement (seed {p.seed}); realized P&L only, open positions not marked."
    )


def pnl_by_strategy(sheet: Tearsheet, chart: str) -> str:
    rows = _pnl_rows(sheet.pnl.by_strategy, sheet.pnl.total)
    headers = ("strategy", *_PNL_HEADERS[1:])
    return section("P&L by strategy", chart, table(headers, rows), _resampling_note(sheet))


def pnl_by_hour(sheet: Tearsheet, chart: str) -> str:
    rows = _pnl_rows(sheet.pnl.by_hour, sheet.pnl.total)
    headers = ("hour of day", *_PNL_HEADERS[1:])
    return section(
        "P&L by hour of day",
        chart,
        table(headers, rows),
        note("Each fill and settlement at the UTC hour it happened; a settlement books the held position."),
    )


def pnl_by_market(sheet: Tearsheet, chart: str) -> str:
    p = sheet.pnl
    if not p.by_market:
        return section("P&L by market", '<p class="empty">no rows</p>')
    summary = table(
        ["", "net P&L", "95% interval"],
        [
            [
                text(f"total over {p.total.markets} market{'' if p.total.markets == 1 else 's'}"),
                pnl(p.total.net),
                interval(p.total.interval),
            ],
            [text("mean per market"), pnl(p.mean_per_market), interval(p.mean_interval)],
        ],
    )
    markets = p.by_market
    shown = markets
    cut = ""
    if len(markets) > MAX_MARKET_ROWS:
        ranked = sorted(markets, key=lambda m: (m.net, m.ticker))
        half = MAX_MARKET_ROWS // 2
        shown = ranked[-half:][::-1] + ranked[:half]
        cut = note(f"The {half} best and {half} worst of {len(markets)} markets; --json lists all.")
    rows = [
        [
            text(m.ticker),
            text(m.result),
            pnl(m.net),
            number(fmt.dollars(m.fees)),
            number(fmt.contracts(m.volume)),
        ]
        for m in shown
    ]
    return section(
        "P&L by market",
        summary,
        chart,
        table(["market", "result", "net P&L", "fees", "volume"], rows, numeric_from=2),
        cut,
    )


def fees(sheet: Tearsheet) -> str:
    f = sheet.fees

    def rows(lines: Sequence[FeeRow]) -> list[list[Cell]]:
        return [
            [
                text(r.key),
                number(str(r.fills)),
                number(fmt.contracts(r.volume)),
                number(fmt.dollars(r.fees)),
                number(fmt.per_contract(fmt.money_per_count(r.fees, r.volume))),
            ]
            for r in lines
        ]

    headers = ["", "fills", "volume", "fees", "per contract"]
    total = rows([f.total]) if f.total.fills else []
    return section(
        "Fees",
        "<h3>By liquidity</h3>",
        table(headers, rows(f.by_liquidity) + total),
        "<h3>By strategy</h3>",
        table(headers, rows(f.by_strategy) + total),
    )


def hit_rate(sheet: Tearsheet) -> str:
    h = sheet.hits
    rows = (
        [
            [
                text("settled markets with P&L above zero"),
                number(f"{h.markets_won} of {h.markets_settled}"),
                number(fmt.percent(h.markets_won, h.markets_settled)),
            ],
            [
                text("fills that bought the winning side"),
                number(f"{h.fills_won} of {h.fills_settled}"),
                number(fmt.percent(h.fills_won, h.fills_settled)),
            ],
            [
                text("contracts that paid out"),
                number(f"{fmt.contracts(h.contracts_won)} of {fmt.contracts(h.contracts_settled)}"),
                number(fmt.percent(h.contracts_won, h.contracts_settled)),
            ],
        ]
        if h.markets_settled or h.fills_settled
        else []
    )
    return section("Hit rate", table(["", "won", "rate"], rows), note("Settled (YES or NO) markets only."))


def slippage(sheet: Tearsheet, chart: str) -> str:
    s = sheet.slippage
    lines = [*s.by_strategy, s.total] if s.fills else []
    rows = [
        [
            text(r.key),
            number(str(r.fills)),
            number(fmt.contracts(r.volume)),
            number(fmt.per_contract(r.per_contract)),
            pnl(-r.cost),
        ]
        for r in lines
    ]
    return section(
        "Slippage against mid",
        table(["strategy", "fills", "volume", "per contract", "P&L vs mid"], rows),
        chart,
        note(
            "Fill price against the YES mid the deciding strategy saw (its decision's inputs). Positive per"
            f" contract: paid worse than mid. {s.unmatched} fill(s) had no decision with a book to compare."
        ),
    )


def fill_rates(sheet: Tearsheet) -> str:
    r = sheet.fill_rates
    lines = [*r.by_strategy, r.total] if r.total.placed else []
    rows = [
        [
            text(x.key),
            number(str(x.placed)),
            number(f"{x.filled} ({fmt.percent(x.filled, x.placed)})"),
            number(f"{x.fully_filled} ({fmt.percent(x.fully_filled, x.placed)})"),
            number(f"{fmt.contracts(x.contracts_filled)} of {fmt.contracts(x.contracts_placed)}"),
            number(fmt.percent(x.contracts_filled, x.contracts_placed)),
        ]
        for x in lines
    ]
    return section(
        "Fill rates of resting orders",
        table(["strategy", "placed", "filled", "fully filled", "contracts filled", "contract rate"], rows),
        note("Good-till-canceled orders that reached the exchange; fill-or-kill orders are left out."),
    )


def risk_events(sheet: Tearsheet) -> str:
    counts = [[text(c.kind), text(c.severity), number(str(c.count))] for c in sheet.risk_counts]
    newest = sheet.risk_events[-MAX_RISK_EVENTS:][::-1]
    events = [
        [text(when(e.ts_ns)), text(e.kind), text(e.severity), (escape(e.detail), "wrap")] for e in newest
    ]
    return section(
        "Risk events",
        table(["kind", "severity", "count"], counts, numeric_from=2),
        "<h3>Newest first</h3>" if events else "",
        table(["time", "kind", "severity", "detail"], events, numeric_from=4) if events else "",
    )


def forecast(sheet: Tearsheet, chart: str) -> str:
    f = sheet.forecast
    if not f.forecasts:
        return section("Forecast reliability", '<p class="empty">no rows</p>')
    summary = table(
        ["", "value"],
        [
            [text("forecasts (decisions with p_yes in settled markets)"), number(str(f.forecasts))],
            [text("markets"), number(str(f.markets))],
            [text("share settled YES"), number(fmt.probability(f.base_rate))],
            [text("Brier score (lower is better)"), number(f"{f.brier:.4f}" if f.brier is not None else "—")],
            [
                text("Brier of forecasting the base rate"),
                number(f"{f.brier_base_rate:.4f}" if f.brier_base_rate is not None else "—"),
            ],
        ],
    )
    rows = [
        [
            text(f"{b.lower:.1f}–{b.upper:.1f}"),
            number(str(b.n)),
            number(fmt.probability(b.mean_forecast)),
            number(fmt.probability(b.observed)),
            number("—" if b.interval is None else f"{b.interval[0]:.3f}–{b.interval[1]:.3f}"),
        ]
        for b in f.bins
        if b.n
    ]
    return section(
        "Forecast reliability",
        summary,
        chart,
        table(["p_yes bin", "forecasts", "mean p_yes", "settled YES", "95% interval"], rows),
        note(
            "Forecasts in one market share its outcome: the intervals treat them as independent,"
            " so they are too narrow."
        ),
    )


def notes(sheet: Tearsheet) -> str:
    warnings = "".join(f"<li>{escape(w)}</li>" for w in sheet.warnings)
    return section(
        "Notes",
        f'<ul class="warnings">{warnings}</ul>' if warnings else "",
        note(
            "Money in dollars and cents, the sign before the symbol; per-contract amounts to 1/100 of a cent."
            " P&L is replayed from the recorded fills and settlements (as kxbtc pnl); equity from the"
            " engine's snapshots (as kxbtc status)."
        ),
    )
