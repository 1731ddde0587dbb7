"""The replay's ``index`` setting picks which recorded index source reaches the core.

An in-memory recording with both Kalshi's ``cfbenchmarks_value`` prints and spot trades, no markets: only
the index matters here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from kxbtc.clock import NS_PER_MS, NS_PER_S
from kxbtc.config import Config
from kxbtc.recordings.source import MarketInfo, RecordedEvent, SpotTick, WsFrame
from kxbtc.replay.runner import ReplayRunner, ReplaySettings
from kxbtc.store.db import SqliteStore

T0 = 1_780_315_200 * NS_PER_S


def cfb_frame(t_ns: int, value: str, seq: int) -> bytes:
    ms = t_ns // NS_PER_MS
    data = json.dumps({"type": "value", "id": "BRTI", "time": ms, "value": value})
    avg = {"value": value, "window_size": 60, "window_start_ts_ms": ms, "window_end_ts_exclusive": ms}
    msg = {"index_id": "BRTI", "received_at": ms, "data": data, "avg_60s_data": avg}
    return json.dumps({"type": "cfbenchmarks_value", "sid": 2, "seq": seq, "msg": msg}).encode()


class BothIndexes:
    """Kalshi prints 100,100 at +0.5 s and +1.5 s; Coinbase trades 100,090 at +0.7 s and +1.7 s."""

    name = "both-indexes"
    use_yes_price = True
    accept_unannounced_sids = True
    has_spot = True  # its events hold Coinbase trades

    def markets(self) -> dict[str, MarketInfo]:
        return {}

    def events(self) -> Iterator[RecordedEvent]:
        for n in range(2):
            t = T0 + n * NS_PER_S
            yield WsFrame(t + 500 * NS_PER_MS, "ws", cfb_frame(t + 500 * NS_PER_MS, "100100.00", n + 1))
            yield SpotTick(t + 700 * NS_PER_MS, t + 700 * NS_PER_MS, 100_090.0, "coinbase")


@pytest.mark.parametrize(
    ("index", "spot", "last_ns", "kalshi_ticks"),
    [
        ("kalshi", 100_100.0, T0 + 1_500 * NS_PER_MS, 2),
        ("spot", 100_090.0, T0 + 1_700 * NS_PER_MS, 0),  # no market settled yet: basis 0
        ("auto", 100_090.0, T0 + 1_700 * NS_PER_MS, 0),  # the recording has spot trades
    ],
)
def test_only_the_chosen_source_reaches_the_core(
    tmp_path: Path, index: str, spot: float, last_ns: int, kalshi_ticks: int
) -> None:
    store = SqliteStore(tmp_path / "replay.db")
    try:
        runner = ReplayRunner(Config(), BothIndexes(), ReplaySettings(index=index), store, strategies=[])
        runner.run()
    finally:
        store.close()
    assert (runner.core.index.spot, runner.core.index.last_ts_ns) == (spot, last_ns)
    assert (runner.counts.index_ticks, runner.counts.spot_ticks) == (kalshi_ticks, 2)
    assert runner.kalshi_index.emitted == 2  # both sources saw their input; only one was passed on
    assert runner.spot_index.emitted == (0 if index == "kalshi" else 2)
