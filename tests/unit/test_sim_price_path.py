"""The simulated BRTI: seeded, BTC-like, and replayable from a CSV."""

from __future__ import annotations

import math
from pathlib import Path

from kxbtc.sim.price_path import SECONDS_PER_YEAR, CsvPath, SyntheticPath


def test_synthetic_path_is_deterministic_and_btc_like() -> None:
    a = SyntheticPath(1_000_000, seed=42)
    b = SyntheticPath(1_000_000, seed=42)
    n = 86_400
    values = [a.value_cents(1_000_000 + i) for i in range(n)]
    assert values == [b.value_cents(1_000_000 + i) for i in range(n)]
    other = SyntheticPath(1_000_000, seed=43)
    assert values[1:100] != [other.value_cents(1_000_000 + i) for i in range(1, 100)]
    assert min(values) > 50_000_00 and max(values) < 200_000_00
    returns = [math.log(values[i + 1] / values[i]) for i in range(n - 1)]
    annual = math.sqrt(sum(r * r for r in returns) / len(returns) * SECONDS_PER_YEAR)
    assert 0.3 < annual < 0.9


def test_csv_path_replays_and_holds_values(tmp_path: Path) -> None:
    path = tmp_path / "prices.csv"
    # Unix seconds, Unix milliseconds and RFC 3339 may be mixed.
    path.write_text(
        "timestamp,price\n1781159000,100000.50\n1781159003,100010\n1781159004000,100020.25\n"
        "2026-06-11T06:23:30Z,100030\n"
    )
    replay = CsvPath(path)
    assert replay.first_second() == 1781159000
    assert replay.value_cents(1781159010) == 10_003_000
    assert [replay.value_cents(s) for s in range(1781159000, 1781159006)] == [
        10_000_050,
        10_000_050,
        10_000_050,
        10_001_000,
        10_002_025,
        10_002_025,
    ]
