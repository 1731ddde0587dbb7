"""`kxbtc bench`'s table and JSON: a latency's tail (p90, worst, sample count) is shown with it."""

from __future__ import annotations

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
