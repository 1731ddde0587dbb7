"""``kxbtc score`` on the real recorded data of ../shared (skipped when it is not there).

One day file keeps it to seconds: 2026-05-11 has spot only from 12:06 to 12:33 UTC, so a few markets
score, all before the default split (the fit part); the headline part is empty for that day alone.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from kxbtc.cli import cli

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "kalshi_l2_2026-05"
DAY = SHARED_DATA / "kalshi_ws_2026-05-11.jsonl.gz"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not DAY.exists(), reason=f"real recordings not found at {SHARED_DATA}"),
]


def test_score_one_real_day_file() -> None:
    result = CliRunner().invoke(cli, ["score", str(DAY), "--json", "--resamples", "200"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    fit = report["parts"]["fit"]
    assert report["n"] == 0  # nothing after the split on this day
    assert fit["n"] > 10 and fit["markets"] >= 2
    for metric in ("brier", "log_loss"):
        for name in ("model", "market", "blend"):
            assert 0 <= fit[metric][name] < 1.5
            low, high = fit["intervals"][metric][name]
            assert low <= fit[metric][name] <= high
    assert report["skipped_moments"]["known gap"] > 0  # the day's missing delta files are masked
    assert report["events"] > 300_000
