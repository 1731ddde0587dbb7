"""`kxbtc calibrate`: the README protocol on synthetic candles with known answers, real data, bad files."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from kxbtc.cli import cli

START = datetime(2024, 1, 1, tzinfo=UTC)
STEP = 0.01  # history closes alternate 100 and 100·e^0.01: every squared log return is 1e-4
REAL_DATA = (
    Path(__file__).resolve().parents[2].parent / "shared" / "data" / "btcusd_1m_2023-03-01_to_03-10.csv"
)


def _closes() -> list[float]:
    closes = [100.0 * math.exp(STEP * (i % 2)) for i in range(240)]
    strike1 = closes[-1]
    closes += [strike1 + 0.5 * (k + 1) for k in range(15)]  # window 1 (04:00) rises: YES
    strike2 = closes[-1]
    closes += [strike2 - 0.5 * (k + 1) for k in range(15)]  # window 2 (04:15) falls: NO
    return closes


def _rows(closes: list[float]) -> list[str]:
    rows = []
    for i, c in enumerate(closes):
        t = (START + timedelta(minutes=i)).strftime("%Y-%m-%d %H:%M:%S+00:00")
        rows.append(f"{t},{c!r},{c!r},{c!r},{c!r},1.0")
    return rows


def _write(tmp_path: Path, rows: list[str], header: str = "open_time,open,high,low,close,volume") -> Path:
    path = tmp_path / "candles.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def _expected_baseline(closes: list[float]) -> tuple[float, float]:
    """The README baseline computed by hand: Φ((spot − K) / (spot·√(v·(h − 2/3)))), v = mean r² over 240."""
    briers, losses = [], []
    for start, outcome in ((240, 1.0), (255, 0.0)):
        strike = closes[start - 1]
        for h in (14, 10, 5, 2):
            j = start + 14 - h
            spot = closes[j]
            var = sum(math.log(closes[i] / closes[i - 1]) ** 2 for i in range(j - 239, j + 1)) / 240
            z = (spot - strike) / (spot * math.sqrt(var * (h - 2 / 3)))
            p = 0.5 * math.erfc(-z / math.sqrt(2))
            q = min(max(p, 1e-4), 1 - 1e-4)
            briers.append((p - outcome) ** 2)
            losses.append(-(outcome * math.log(q) + (1 - outcome) * math.log(1 - q)))
    return sum(briers) / len(briers), sum(losses) / len(losses)


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["calibrate", *args])
    return result.exit_code, result.stdout, result.stderr


def test_baseline_on_synthetic_candles_matches_hand_computation(tmp_path: Path) -> None:
    closes = _closes()
    code, out, _ = _run(str(_write(tmp_path, _rows(closes))), "--model", "baseline", "--json")
    assert code == 0
    report = json.loads(out)
    brier, loss = _expected_baseline(closes)
    assert report["n"] == 8
    assert report["brier"] == pytest.approx(brier, abs=1e-12)
    assert report["log_loss"] == pytest.approx(loss, abs=1e-12)
    assert set(report["per_horizon"]) == {"14", "10", "5", "2"}
    assert sum(b["n"] for b in report["reliability"]) == 8
    # The 16 windows before 04:00 lack 240 minutes of history.
    assert len(report["skipped"]) == 16
    assert all("240 minutes" in s["reason"] for s in report["skipped"])


def test_default_model_on_synthetic_candles(tmp_path: Path) -> None:
    code, out, _ = _run(str(_write(tmp_path, _rows(_closes()))), "--json", "--at", "5,2")
    assert code == 0
    report = json.loads(out)
    assert report["model"] == "default"
    assert report["n"] == 4
    assert set(report["per_horizon"]) == {"5", "2"}
    # Both windows trend steadily: a good model is confident and right by 2 minutes before close.
    assert report["per_horizon"]["2"]["brier"] < 0.05


def test_text_report(tmp_path: Path) -> None:
    code, out, err = _run(str(_write(tmp_path, _rows(_closes()))))
    assert code == 0
    assert "Brier" in out and "log loss" in out and "reliability" in out
    assert "skipped 16 window(s)" in err


@pytest.mark.skipif(not REAL_DATA.is_file(), reason="shared data file not present")
def test_default_beats_the_baseline_on_real_candles() -> None:
    code, out, _ = _run(str(REAL_DATA), "--model", "baseline", "--json")
    assert code == 0
    baseline = json.loads(out)
    assert baseline["brier"] == pytest.approx(0.1616, abs=1e-4)  # the README's figure, reproduced
    assert baseline["log_loss"] == pytest.approx(0.4845, abs=1e-3)
    assert baseline["n"] == 944 * 4
    code, out, _ = _run(str(REAL_DATA), "--json")
    improved = json.loads(out)
    assert improved["brier"] < baseline["brier"]
    assert improved["log_loss"] < baseline["log_loss"]


def test_missing_minutes_skip_the_window_and_say_why(tmp_path: Path) -> None:
    rows = _rows(_closes())
    del rows[5]  # 00:05: inside the 04:00 window's 240-minute history, before the 04:15 window's
    code, out, _ = _run(str(_write(tmp_path, rows)), "--json")
    assert code == 0
    report = json.loads(out)
    assert report["n"] == 4  # only the 04:15 window is left
    gap = [s for s in report["skipped"] if s["window_start"] == "2024-01-01 04:00"]
    assert gap and "missing minute" in gap[0]["reason"] and "00:05" in gap[0]["reason"]
    code, _, err = _run(str(_write(tmp_path, rows)))
    assert code == 0
    assert "window 2024-01-01 04:00" in err and "00:05" in err
    # A gap inside the window (04:10) leaves nothing to score: a usage error that says why.
    rows = _rows(_closes())
    del rows[250]
    code, _, err = _run(str(_write(tmp_path, rows)))
    assert code == 2
    assert "no window can be scored" in err and "missing minute(s) in the window" in err


def test_non_numeric_price_names_the_line(tmp_path: Path) -> None:
    rows = _rows(_closes())
    rows[3] = rows[3].rsplit(",", 2)[0] + ",abc,1.0"  # close of the 4th data row = line 5
    code, _, err = _run(str(_write(tmp_path, rows)))
    assert code == 2
    assert "line 5" in err and "close" in err and "abc" in err


def test_unsorted_rows_name_the_line(tmp_path: Path) -> None:
    rows = _rows(_closes())
    rows[10], rows[11] = rows[11], rows[10]  # data rows 11 and 12 are lines 12 and 13
    code, _, err = _run(str(_write(tmp_path, rows)))
    assert code == 2
    assert "line 13" in err and "sorted" in err


def test_duplicate_row_and_bad_header_and_empty_file(tmp_path: Path) -> None:
    rows = _rows(_closes())
    code, _, err = _run(str(_write(tmp_path, [*rows[:5], rows[4], *rows[5:]])))
    assert code == 2 and "line 7" in err
    code, _, err = _run(str(_write(tmp_path, rows, header="time,open,high,low,close,volume")))
    assert code == 2 and "line 1" in err and "open_time" in err
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    code, _, err = _run(str(empty))
    assert code == 2 and "empty" in err
    code, _, err = _run(str(tmp_path / "absent.csv"))
    assert code == 2


def test_too_short_file_and_bad_horizons(tmp_path: Path) -> None:
    code, _, err = _run(str(_write(tmp_path, _rows(_closes())[:200])))
    assert code == 2 and "no window can be scored" in err
    code, _, err = _run(str(_write(tmp_path, _rows(_closes()))), "--at", "15")
    assert code == 2 and "--at" in err


def test_plot_writes_a_png(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    png = tmp_path / "reliability.png"
    code, _, _ = _run(str(_write(tmp_path, _rows(_closes()))), "--plot", str(png))
    assert code == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_into_a_missing_folder_creates_it_and_a_bad_path_is_one_line(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    csv = str(_write(tmp_path, _rows(_closes())))
    png = tmp_path / "not" / "yet" / "reliability.png"
    code, _, _ = _run(csv, "--plot", str(png))
    assert code == 0 and png.read_bytes()[:4] == b"\x89PNG"
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, _, err = _run(csv, "--plot", str(blocker / "x.png"))
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err


def test_plot_title_puts_the_baseline_beside_the_model(tmp_path: Path) -> None:
    from kxbtc.pricing.calibrate import BASELINE, DEFAULT, calibrate
    from kxbtc.pricing.calibration_plot import title
    from kxbtc.pricing.candle_file import load_candles

    candles = load_candles(_write(tmp_path, _rows(_closes())))
    model, baseline = calibrate(candles, (10, 2), DEFAULT), calibrate(candles, (10, 2), BASELINE)
    text = title(model, baseline)
    assert f"model default: Brier {model.brier:.4f}" in text
    assert f"baseline: Brier {baseline.brier:.4f}" in text


def test_help_names_no_file_outside_the_repository() -> None:
    result = CliRunner().invoke(cli, ["calibrate", "--help"])
    assert result.exit_code == 0
    assert "shared/data/README" not in result.output and "/work" not in result.output
