"""The replay's report: the simulated backtest's report (``report.py``) plus what only a replay has.

The shared part is ``summarize`` over the replay's ``RunResult``: same fields, same money formatting.
Its cash check compares the ledger with the replay's own cash account (there is no exchange here), and
its ``seeds``/``mispricing`` mean nothing for a recording (0). The ``replay`` part says where each
result came from, what the fill model refused, the book checkpoints, and the model's limitations.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from kxbtc.backtest.replay import ReplayStats
from kxbtc.backtest.report import BacktestReport
from kxbtc.clock import NS_PER_S


def replay_json(report: BacktestReport, stats: ReplayStats) -> dict[str, Any]:
    return {**report.to_json(), "replay": stats.to_json()}


def _utc(ns: int) -> str:
    return datetime.fromtimestamp(ns // NS_PER_S, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def render_replay(report: BacktestReport, stats: ReplayStats) -> str:
    shared = report.render().splitlines()
    lines = [
        f"replay backtest: {stats.path}",
        f"  recorded         {_utc(stats.start_ns)} .. {_utc(stats.end_ns)}, {stats.lines:,} lines, "
        f"{stats.frames:,} frames" + ("" if stats.clean_end else " (no end line: recorder stopped abruptly)"),
        f"  markets          {report.markets}, latency {stats.latency_ms} ms",
    ]
    for line in shared[1:]:  # the first line describes a simulator run
        line = line.replace("ledger == exchange cash", "ledger == replayed cash")
        lines.append(line.replace("HALT: seed 0: ", "HALT: "))
    data = stats.to_json()
    lines += [
        f"  settlement from  {data['settlement_sources'] or 'none'}",
        f"  unfilled orders  {data['unfilled_orders'] or 'none'}; partial fills {stats.partial_fills}",
        f"  resting orders   {stats.skipped_resting} skipped (not simulated)",
        f"  books            {stats.books.snapshot_checks} snapshot checkpoints, "
        f"{stats.books.snapshot_mismatches} mismatched; {stats.books.seq_gaps} seq gaps, "
        f"{stats.books.book_errors} book errors, {stats.books.bad_frames} bad frames, "
        f"{stats.books.disconnects} disconnects",
        "  limitations:",
    ]
    lines += [f"    - {text}" for text in data["limitations"]]
    return "\n".join(lines)
