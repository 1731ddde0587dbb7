"""Kalshi's cfbenchmarks_value frames -> index observations -> the settlement tracker."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kxbtc.errors import ProtocolError
from kxbtc.kalshi.ws_messages import decode_frame
from kxbtc.oracle.feeds.kalshi_cfb import (
    CfbHandler,
    IndexObservation,
    parse_cfbenchmarks_value,
    subscribe_command,
    value_to_cents,
)
from kxbtc.oracle.settlement import IndexSample, SettlementTracker, StrikeRule

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "feeds" / "kalshi_cfbenchmarks_value.jsonl"
CLOSE = 1_795_184_100  # 14:15:00 UTC, the quarter-hour the fixture straddles


def raw_frames() -> list[str]:
    return [line for line in FIXTURE.read_text().splitlines() if line.strip()]


def test_parses_the_double_encoded_value_exactly() -> None:
    obs = parse_cfbenchmarks_value(raw_frames()[0])
    assert obs.index_id == "BRTI"
    assert obs.time_ms == 1_795_184_038_123
    assert obs.second == CLOSE - 62  # a tick at :58.123 is the :58 print
    assert obs.cents == 9_123_556 and obs.value == 91235.56
    assert obs.received_at_ms == obs.time_ms + 41
    assert obs.avg_60s.window_size == 60 and obs.avg_60s.value == pytest.approx(91235.30683333)
    assert obs.final_minute is None  # only inside the final minute
    assert obs.seq == 101


def test_accepts_an_already_decoded_dict() -> None:
    frame = raw_frames()[5]
    assert parse_cfbenchmarks_value(json.loads(frame)) == parse_cfbenchmarks_value(frame)


def test_accepts_the_ws_clients_typed_message() -> None:
    frame = raw_frames()[5]
    typed = decode_frame(frame.encode())
    assert type(typed).__name__ == "CfbenchmarksValue"
    assert parse_cfbenchmarks_value(typed) == parse_cfbenchmarks_value(frame)


def test_final_minute_average_appears_only_in_the_window() -> None:
    observations = [parse_cfbenchmarks_value(f) for f in raw_frames()]
    with_final = [o for o in observations if o.final_minute is not None]
    assert [o.second for o in with_final] == list(range(CLOSE - 59, CLOSE + 1))
    assert [o.final_minute.window_size for o in with_final if o.final_minute] == list(range(1, 61))


def test_tracker_reproduces_kalshis_running_settlement_average() -> None:
    tracker = SettlementTracker(CLOSE, StrikeRule.from_market("greater_or_equal", "91233.72"))

    def on_obs(obs: IndexObservation) -> None:
        tracker.record(IndexSample(obs.second, obs.cents))
        if obs.final_minute is not None:
            # Kalshi's running mean and count are exactly ours, tick by tick.
            assert tracker.count == obs.final_minute.window_size
            assert tracker.running_average == pytest.approx(obs.final_minute.value, abs=1e-8)
            assert tracker.total_cents / 100 == pytest.approx(obs.final_minute.total, abs=1e-4)

    handler = CfbHandler(on_obs)
    for frame in raw_frames():
        handler(frame)
    assert tracker.complete and tracker.observed == 60
    assert tracker.settlement_cents == 9_123_372  # 91233.7225 rounds to 91233.72
    assert tracker.outcome() is True  # equal to the strike: ties go to YES
    assert tracker.outcome(StrikeRule.from_market("greater_or_equal", "91233.73")) is False


def test_handler_drops_repeats_and_other_indices() -> None:
    seen: list[int] = []
    handler = CfbHandler(lambda o: seen.append(o.second))
    frames = raw_frames()
    handler(frames[1])
    assert handler(frames[1]) is None  # replayed
    assert handler(frames[0]) is None  # older than the last
    handler(frames[2])
    assert seen == [CLOSE - 61, CLOSE - 60]
    assert handler.dropped_out_of_order == 2 and handler.received == 4
    eth = json.loads(frames[3])
    eth["msg"]["index_id"] = "ETHUSD_RTI"
    assert handler(eth) is None and len(seen) == 2


@pytest.mark.parametrize(
    "frame",
    [
        b"{not json",
        b'{"type":"ticker","sid":1,"seq":1,"msg":{}}',
        b'{"type":"cfbenchmarks_value","sid":1,"seq":1,"msg":{"index_id":"BRTI"}}',
    ],
)
def test_bad_frames_raise_protocol_error(frame: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse_cfbenchmarks_value(frame)


def test_bad_inner_value_raises_protocol_error() -> None:
    frame = json.loads(raw_frames()[0])
    frame["msg"]["data"] = json.dumps({"type": "value", "id": "BRTI", "time": 1, "value": "n/a"})
    with pytest.raises(ProtocolError):
        parse_cfbenchmarks_value(frame)


def test_value_to_cents_and_subscribe_command() -> None:
    assert value_to_cents("68000.12") == 6_800_012
    assert value_to_cents("68000.125") == 6_800_012  # half-even beyond the published precision
    assert value_to_cents("68000") == 6_800_000
    assert subscribe_command(3) == {
        "id": 3,
        "cmd": "subscribe",
        "params": {"channels": ["cfbenchmarks_value"], "index_ids": ["BRTI"]},
    }
