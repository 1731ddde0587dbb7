"""`kxbtc bench` splits tick-to-wire by burst: the first order one burst of frames causes, and what each
further order of the same burst adds."""

from __future__ import annotations

from kxbtc.bench.tick_to_wire import TickToWireRun


def test_orders_sharing_an_arrival_stamp_are_one_burst() -> None:
    # Two bursts: stamp 10 caused three orders (written 900, 1,100 and 1,400 us after it), stamp 20 one.
    run = TickToWireRun(
        samples_ns=[900_000, 1_100_000, 1_400_000, 700_000],
        cpu_samples_ns=[0, 0, 0, 0],
        frames=40,
        seconds=1.0,
        stamps_ns=[10, 10, 10, 20],
    )
    assert run.bursts() == [[900_000, 1_100_000, 1_400_000], [700_000]]
    assert run.first_of_burst_ns() == [900_000, 700_000]
    assert run.further_order_gaps_ns() == [200_000, 300_000]
