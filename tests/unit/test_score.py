"""``kxbtc score`` on a recording in the shared format written here, small enough to check by hand.

Two markets of 15 minutes, each with one book that never moves at the top and a spot that never moves:
- A (12:00-12:15 UTC): YES bid $0.40, NO bid $0.50 (YES ask $0.50), mid 0.45; strike $85,000, spot
  $90,000, result YES. Spot constant = zero volatility, so the model says exactly 1.
- B (12:15-12:30 UTC): YES bid $0.20, NO bid $0.70 (YES ask $0.30), mid 0.25; strike $95,000, result NO;
  the model says exactly 0.
Moments every 30 s from open + 30 s to close - 30 s: 29 per market.
"""

from __future__ import annotations

import csv
import gzip
import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from kxbtc.cli import cli
from kxbtc.pricing.calibration_scores import wilson_interval
from kxbtc.research.blend import FALLBACK, fit_blend
from kxbtc.research.bootstrap import MarketBootstrap
from kxbtc.research.moments import Moment
from kxbtc.research.score import ScoreOptions, collect_moments, score_paths

S = 1_000_000_000
A, B = "KXBTC15M-26MAY130815-15", "KXBTC15M-26MAY130830-30"
OPEN_A = int(datetime(2026, 5, 13, 12, 0, tzinfo=UTC).timestamp()) * S
OPEN_B = OPEN_A + 900 * S
ALL_REPORTED = "2026-05-13T11:00:00Z"  # every moment after the split: the blend is the unfitted fallback


def iso(t_ns: int) -> str:
    return datetime.fromtimestamp(t_ns / S, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class Recording:
    """A shared-format folder under construction (frames are sorted by time when written)."""

    #: (t, conn, type, msg, seq): seq None = the next of its conn, numbered when written in time order.
    frames: list[tuple[int, str, str, dict[str, object], int | None]] = field(default_factory=list)
    spot: list[tuple[int, float]] = field(default_factory=list)
    gaps: list[tuple[str, int, int]] = field(default_factory=list)

    def frame(self, t: int, conn: str, kind: str, msg: dict[str, object], seq: int | None = None) -> None:
        self.frames.append((t, conn, kind, msg, seq))

    def snapshot(self, t: int, conn: str, ticker: str, yes: float, no: float) -> None:
        levels = {"yes_dollars_fp": [[f"{yes:.4f}", "100.00"]], "no_dollars_fp": [[f"{no:.4f}", "100.00"]]}
        self.frame(t, conn, "orderbook_snapshot", {"market_ticker": ticker, **levels}, seq=1)

    def delta(self, t: int, conn: str, ticker: str, side: str, price: float, size: float, **kw: int) -> None:
        msg = {
            "market_ticker": ticker,
            "price_dollars": f"{price:.4f}",
            "delta_fp": f"{size:.2f}",
            "side": side,
            "ts_ms": kw.get("ts_ms", t // 1_000_000),
        }
        self.frame(t, conn, "orderbook_delta", msg, seq=kw.get("seq"))

    def write(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        with gzip.open(folder / "kalshi_ws_2026-05-13.jsonl.gz", "wt") as fh:
            last: dict[str, int] = {}
            for t, conn, kind, msg, seq in sorted(self.frames, key=lambda f: f[0]):
                last[conn] = seq if seq is not None else last.get(conn, 0) + 1
                frame = {"type": kind, "sid": 2, "seq": last[conn], "msg": msg}
                fh.write(json.dumps({"t": t, "conn": conn, "frame": frame}) + "\n")
        with gzip.open(folder / "spot_2026-05-13.csv.gz", "wt", newline="") as fh:
            out = csv.writer(fh)
            out.writerow(["t_ns", "exchange_ts", "source", "price"])
            out.writerows([t, iso(t), "coinbase", f"{p:.2f}"] for t, p in sorted(self.spot))
        with (folder / "markets.csv").open("w", newline="") as fh:
            out = csv.writer(fh)
            out.writerow(["ticker", "open_time", "close_time", "floor_strike", "expiration_value", "result"])
            out.writerow([A, iso(OPEN_A), iso(OPEN_A + 900 * S), "85000", "90010", "yes"])
            out.writerow([B, iso(OPEN_B), iso(OPEN_B + 900 * S), "95000", "90005", "no"])
        if self.gaps:
            with (folder / "gaps.csv").open("w", newline="") as fh:
                out = csv.writer(fh)
                out.writerow(["market_ticker", "t_last_ok_ns", "t_resync_ns"])
                out.writerows(self.gaps)
        return folder


def two_markets() -> Recording:
    rec = Recording()
    for ticker, conn, start, yes, no in ((A, "r/1", OPEN_A, 0.40, 0.50), (B, "r/2", OPEN_B, 0.20, 0.70)):
        rec.snapshot(start + S, conn, ticker, yes, no)
        # A level far from the top comes and goes every 5 s: the book is never quiet, its top never moves.
        for i, t in enumerate(range(start + 5 * S, start + 900 * S, 5 * S)):
            rec.delta(t, conn, ticker, "yes", 0.10, 1.0 if i % 2 == 0 else -1.0)
    rec.spot = [(t, 90_000.0) for t in range(OPEN_A - 600 * S, OPEN_B + 901 * S, S)]
    return rec


def moments_of(folder: Path) -> list[Moment]:
    return collect_moments([folder], ScoreOptions().replay)[0]


def test_scores_match_the_hand_computation(tmp_path: Path) -> None:
    folder = two_markets().write(tmp_path / "rec")
    report = score_paths([folder], ScoreOptions(split=ALL_REPORTED, resamples=200)).report
    assert report["n"] == 58 and report["markets"] == 2
    brier, loss = report["brier"], report["log_loss"]
    assert isinstance(brier, dict) and isinstance(loss, dict)
    assert brier["market"] == pytest.approx(((0.45 - 1) ** 2 + 0.25**2) / 2)
    assert loss["market"] == pytest.approx(-(math.log(0.45) + math.log(0.75)) / 2)
    assert brier["model"] == 0.0
    assert loss["model"] == pytest.approx(-math.log(1 - 1e-4))  # clipped at the finest Kalshi price
    # The fallback blend averages the log-odds: model logit(1 - 1e-4) = ln 9999.
    blend_a = 1 / (1 + math.exp(-(math.log(9999) + math.log(0.45 / 0.55)) / 2))
    blend_b = 1 / (1 + math.exp(-(-math.log(9999) + math.log(0.25 / 0.75)) / 2))
    assert brier["blend"] == pytest.approx(((blend_a - 1) ** 2 + blend_b**2) / 2)
    assert brier["model_minus_market"] == pytest.approx(brier["model"] - brier["market"])
    buckets = {b["minutes_to_close"]: b["n"] for b in report["parts"]["report"]["by_time_to_close"]}  # type: ignore[index]
    assert buckets == {"0-1": 4, "1-3": 8, "3-6": 12, "6-10": 16, "10-15": 18}
    bins = {
        r["bin"]: (r["n"], r["observed"])
        for r in report["parts"]["report"]["reliability"]["market"]
        if r["n"]
    }  # type: ignore[index]
    assert bins == {"0.2-0.3": (29, 0.0), "0.4-0.5": (29, 1.0)}


def test_the_basis_comes_only_from_markets_already_settled(tmp_path: Path) -> None:
    moments = moments_of(two_markets().write(tmp_path / "rec"))
    basis = {m.t_ns: m.basis for m in moments}
    assert all(basis[t] == 0.0 for t in basis if t < OPEN_B + 60 * S)  # A settles at 12:15, known at 12:16
    assert basis[OPEN_B + 60 * S] == pytest.approx(10.0)  # A: settlement 90,010 - spot 90,000


def test_changing_the_data_after_a_moment_does_not_change_its_forecast(tmp_path: Path) -> None:
    cut = OPEN_B + 300 * S
    base = moments_of(two_markets().write(tmp_path / "base"))
    changed = two_markets()
    changed.spot = [(t, p if t <= cut else 99_000.0) for t, p in changed.spot]
    changed.delta(cut + S, "r/2", B, "yes", 0.25, 50.0)  # B's bid moves up after the cut
    after = moments_of(changed.write(tmp_path / "changed"))
    assert [m for m in base if m.t_ns <= cut] == [m for m in after if m.t_ns <= cut]
    assert [m for m in base if m.t_ns > cut] != [m for m in after if m.t_ns > cut]


def test_a_momentary_cross_a_gap_and_a_known_gap_are_not_read(tmp_path: Path) -> None:
    rec = two_markets()
    moment = OPEN_A + 300 * S
    # Kalshi publishes a crossing add before the removal, within one exchange millisecond.
    rec.delta(moment - 1000, "r/1", A, "yes", 0.60, 10.0, ts_ms=moment // 1_000_000)
    rec.delta(moment + 1000, "r/1", A, "yes", 0.60, -10.0, ts_ms=moment // 1_000_000)
    rec.gaps = [(A, OPEN_A + 400 * S, OPEN_A + 460 * S)]  # 12:06:40 .. 12:07:40: moments 12:07:00, 12:07:30
    rec.delta(OPEN_A + 599 * S, "r/1", A, "yes", 0.11, 1.0, seq=10_000)  # a seq gap: stale to the close
    folder = rec.write(tmp_path / "rec")
    run = score_paths([folder], ScoreOptions(split=ALL_REPORTED, resamples=0))
    skipped = run.report["skipped_moments"]
    assert isinstance(skipped, dict)
    assert skipped["book crossed"] == 1
    assert skipped["known gap"] == 2
    assert skipped["book stale"] == 10  # 12:10:00 .. 12:14:30
    assert run.report["n"] == 58 - 13


def test_the_blend_is_fitted_only_before_the_split(tmp_path: Path) -> None:
    folder = two_markets().write(tmp_path / "rec")
    report = score_paths([folder], ScoreOptions(split=iso(OPEN_B), resamples=100)).report
    parts = report["parts"]
    assert isinstance(parts, dict)
    assert parts["fit"]["n"] == 29 and parts["report"]["n"] == 29
    assert report["n"] == 29 and report["blend_weights"]["fitted"] and report["blend_weights"]["n"] == 29  # type: ignore[index]


def test_the_cli_prints_one_json_object_with_the_interface_keys(tmp_path: Path) -> None:
    folder = two_markets().write(tmp_path / "rec")
    args = ["score", str(folder), "--json", "--split", ALL_REPORTED, "--resamples", "50"]
    first = CliRunner().invoke(cli, [*args, "--plot", str(tmp_path / "plots")])
    assert first.exit_code == 0, first.output
    report = json.loads(first.stdout)
    for key in ("n", "markets", "brier", "log_loss"):
        assert key in report
    for key in ("brier", "log_loss"):
        assert set(report[key]) >= {"model", "market", "blend"}
    assert set(report["parts"]) == {"fit", "report"}
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == [
        "by_time_to_close_report.png",
        "reliability_report.png",
    ]
    again = CliRunner().invoke(cli, args)
    assert again.stdout == first.stdout  # deterministic


def test_the_human_output_is_a_table(tmp_path: Path) -> None:
    folder = two_markets().write(tmp_path / "rec")
    result = CliRunner().invoke(cli, ["score", str(folder), "--split", ALL_REPORTED, "--resamples", "20"])
    assert result.exit_code == 0, result.output
    assert "Brier" in result.stdout and "0.1825" in result.stdout


def test_a_path_that_is_no_recording_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["score", str(tmp_path)])
    assert result.exit_code == 2


def test_the_blend_recovers_known_weights() -> None:
    rng = np.random.default_rng(1)
    x1, x2 = rng.normal(size=20_000), rng.normal(size=20_000)
    p = 1 / (1 + np.exp(-(0.3 + 0.8 * x1 + 0.4 * x2)))
    y = (rng.random(20_000) < p).astype(np.float64)
    w = fit_blend(1 / (1 + np.exp(-x1)), 1 / (1 + np.exp(-x2)), y)
    assert (w.intercept, w.model, w.market) == pytest.approx((0.3, 0.8, 0.4), abs=0.06)
    assert fit_blend(np.array([]), np.array([]), np.array([])) is FALLBACK


def test_bootstrap_intervals_are_seeded_and_resample_whole_markets() -> None:
    group = np.array([0, 0, 0, 1, 2], dtype=np.int64)
    values = np.array([1.0, 1.0, 1.0, 0.0, 0.0])
    first = MarketBootstrap(3, 500, seed=7).interval(group, values)
    assert first == MarketBootstrap(3, 500, seed=7).interval(group, values)
    # Resamples without market 0 score 0; the top ones draw it two or three times out of three.
    assert first is not None and first[0] == 0.0 and first[1] >= 6 / 7


def test_wilson_interval() -> None:
    assert wilson_interval(0, 0) is None
    low, high = wilson_interval(0, 10) or (1.0, 0.0)
    assert low == 0.0 and 0.25 < high < 0.35
