"""A folder in the shared research format (``shared/data/kalshi_l2_2026-05``) written by tests: markets
every 15 minutes, each with a book whose top never moves (YES bid $0.40, YES ask $0.45), a level far from
the top that comes and goes every 5 s, Coinbase spot constant at $90,000, strike $85,000."""

from __future__ import annotations

import csv
import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

S = 1_000_000_000
FIRST_OPEN = int(datetime(2026, 5, 13, 12, 0, tzinfo=UTC).timestamp()) * S


def _iso(t_ns: int) -> str:
    return datetime.fromtimestamp(t_ns / S, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _ticker(i: int) -> str:
    return f"KXBTC15M-26MAY13{12 + (i + 1) // 4:02d}{((i + 1) % 4) * 15:02d}-{((i + 1) % 4) * 15:02d}"


def write_markets(folder: Path, results: list[str]) -> Path:
    """Markets every 15 minutes: YES ask $0.45 all along, spot $5,000 above the strike (the model is
    sure of YES, so fair value buys YES); results as given."""
    folder.mkdir(parents=True)
    lines = []
    for i in range(len(results)):
        ticker, opened, conn = _ticker(i), FIRST_OPEN + i * 900 * S, f"run/{i + 1}"
        book = {"market_ticker": ticker, "yes_dollars_fp": [["0.4000", "100.00"]],
                "no_dollars_fp": [["0.5500", "100.00"]]}  # fmt: skip
        lines.append((opened + S, conn, {"type": "orderbook_snapshot", "sid": 2, "seq": 1, "msg": book}))
        for k, t in enumerate(range(opened + 5 * S, opened + 900 * S, 5 * S)):
            delta = {"market_ticker": ticker, "price_dollars": "0.1000", "delta_fp": "1.00" if k % 2 == 0
                     else "-1.00", "side": "yes", "ts_ms": t // 1_000_000}  # fmt: skip
            lines.append((t, conn, {"type": "orderbook_delta", "sid": 2, "seq": k + 2, "msg": delta}))
    with gzip.open(folder / "kalshi_ws_2026-05-13.jsonl.gz", "wt") as fh:
        for t, conn, frame in sorted(lines, key=lambda x: x[0]):
            fh.write(json.dumps({"t": t, "conn": conn, "frame": frame}) + "\n")
    end = FIRST_OPEN + len(results) * 900 * S
    with gzip.open(folder / "spot_2026-05-13.csv.gz", "wt", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["t_ns", "exchange_ts", "source", "price"])
        out.writerows([t, _iso(t), "coinbase", "90000.00"] for t in range(FIRST_OPEN - 600 * S, end, S))
    with (folder / "markets.csv").open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["ticker", "open_time", "close_time", "floor_strike", "expiration_value", "result"])
        for i, result in enumerate(results):
            opened = FIRST_OPEN + i * 900 * S
            out.writerow([_ticker(i), _iso(opened), _iso(opened + 900 * S), "85000", "90000", result])
    return folder
