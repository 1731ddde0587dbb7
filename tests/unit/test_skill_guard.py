"""The live skill guard: a strategy whose settled results fall clearly below its backtested edge is
paused, with a risk event, within a stated number of settled markets."""

from __future__ import annotations

import csv
import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kxbtc.config import Config, RiskConfig, StrategyConfig
from kxbtc.core.skill_guard import GuardSettings, SkillGuard
from kxbtc.recordings.shared_folder import SharedRecording
from kxbtc.replay.runner import ReplayRunner, ReplaySettings
from kxbtc.store.db import SqliteStore

S = 1_000_000_000
FIRST_OPEN = int(datetime(2026, 5, 13, 12, 0, tzinfo=UTC).timestamp()) * S
WINNING, LOSING = 6, 12  # the edge holds for 6 markets, then is gone


def _iso(t_ns: int) -> str:
    return datetime.fromtimestamp(t_ns / S, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _ticker(i: int) -> str:
    return f"KXBTC15M-26MAY13{12 + (i + 1) // 4:02d}{((i + 1) % 4) * 15:02d}-{((i + 1) % 4) * 15:02d}"


def _write(folder: Path, results: list[str]) -> Path:
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


def test_a_strategy_whose_edge_disappears_is_paused_within_eight_settled_markets(tmp_path: Path) -> None:
    folder = _write(tmp_path / "rec", ["yes"] * WINNING + ["no"] * LOSING)
    config = Config(
        risk=RiskConfig(daily_loss_pct=100, max_drawdown_pct=100),
        strategies={"fair_value": StrategyConfig(expected_edge_per_contract=0.30, max_contracts=10)},
    )
    store = SqliteStore(tmp_path / "replay.db")
    runner = ReplayRunner(config, SharedRecording.open(folder), ReplaySettings(latency_ms=50), store)
    runner.run()
    store.flush()
    record = runner.core.skill.records["fair_value"]
    events = [e for e in store.risk_events() if e.kind == "skill_guard"]
    store.close()

    assert record.paused and len(events) == 1
    assert "fair_value paused" in events[0].detail
    assert record.observations[:WINNING] == [pytest.approx(0.5327, abs=1e-4)] * WINNING
    assert 1 <= record.paused_after - WINNING <= 8  # the stated bound: 8 markets losing $0.467 a contract
    # Once paused it opens nothing more: only the market already bought when the pause came (the next
    # one opens before the previous settles) is traded after it.
    assert record.markets <= record.paused_after + 1 < WINNING + LOSING
    assert runner.core.stats.rejected["skill_guard"] > 0


def test_the_cusum_stays_quiet_while_results_match_the_expectation() -> None:
    guard = SkillGuard({"s": 0.05}, GuardSettings())
    # Alternating wins and losses averaging +$0.05 a contract: never paused.
    for i in range(200):
        ticker = f"M{i}"
        guard.on_fill("s", ticker, "bid", 4500, 1000, 0)
        assert guard.on_settled(ticker, "yes" if i % 20 < 10 else "no") == []
    assert not guard.paused("s")


@pytest.mark.parametrize(("loss", "bound"), [(0.45, 12), (0.25, 23)])
def test_the_stated_detection_delay(loss: float, bound: int) -> None:
    guard = SkillGuard({"s": 0.05}, GuardSettings())
    price = round((1 - 0) * 10_000 * loss)  # buy YES at `loss`, it settles NO: -loss a contract
    for i in range(1, 100):
        guard.on_fill("s", f"M{i}", "bid", price, 100, 0)
        if guard.on_settled(f"M{i}", "no"):
            break
    assert guard.paused("s") and guard.records["s"].markets <= bound
