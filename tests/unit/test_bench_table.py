"""`kxbtc bench`'s table and JSON: a latency's tail (p90, worst, sample count) is shown with it."""

from __future__ import annotations

from pathlib import Path

import pytest

from kxbtc.bench.suite import Figure, _figure_json, table


def test_tick_to_wire_shows_its_tail_and_sample_count() -> None:
    samples = [float(v) for v in range(1, 1001)]  # 1..1000 us
    figure = _figure_json(Figure.of("tick_to_wire", "tick to order on the wire", "us", samples))
    assert (figure["n"], figure["p90"], figure["max"]) == (1000, 900.0, 1000.0)
    doc = {
        "machine": {"cpu": "cpu", "cores": 2, "python": "3.11", "date": "today"},
        "figures": {"tick_to_wire": figure},
        "notes": {"tick_to_wire": "pinned: engine on core 0, simulator on core 1"},
    }
    text = table(doc)
    assert "(n=1,000)" in text and "900.0" in text and "max 1,000.0" in text
    assert "pinned: engine on core 0" in text
    # Other figures keep their plain row.
    assert "p90" not in _figure_json(Figure.of("book_delta", "delta", "us", samples))


def test_every_figure_measured_keeps_its_own_row(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The CI's per-event replay figure and the whole-day rate are two rows, not one overwriting the other."""
    from kxbtc.bench import figures, suite

    monkeypatch.setattr(figures, "replay_cpu_us", lambda path, events=0: [9.0])
    monkeypatch.setattr(figures, "replay_events_per_s", lambda path: (100_000.0, 5))
    day = tmp_path / "day.jsonl.gz"
    day.write_bytes(b"")
    real_quick = suite.run_quick
    monkeypatch.setattr(suite, "run_quick", lambda: real_quick(day))
    doc = suite.run_all(tick_seconds=0, replay=day)
    assert doc["figures"]["replay"]["median"] == 9.0
    assert doc["figures"]["replay_rate"]["median"] == 100_000.0
