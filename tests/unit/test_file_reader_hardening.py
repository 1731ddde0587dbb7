"""Recording and shared-format files the fuzzer found (tests/fuzz/test_fuzz_files.py): each is refused
with a typed error naming the file instead of a traceback."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from kxbtc.backtest.recording import FORMAT, VERSION, RecordingError
from kxbtc.recordings.gaps import read_gaps_csv
from kxbtc.recordings.kxbtc_file import KxbtcRecording
from kxbtc.recordings.shared_folder import SharedFormatError, read_markets_csv, read_spot_file, read_ws_file

HEADER = {"t": 1, "k": "header", "format": FORMAT, "version": VERSION}


def test_a_day_file_that_is_not_gzip_is_a_shared_format_error(tmp_path: Path) -> None:
    path = tmp_path / "kalshi_ws_2026-05-13.jsonl.gz"
    path.write_bytes(b'{"t": 1, "conn": 1, "frame": {}}\n')
    with pytest.raises(SharedFormatError, match="unreadable"):
        list(read_ws_file(path))


def test_non_utf8_and_short_rows_in_csv_files_are_shared_format_errors(tmp_path: Path) -> None:
    markets = tmp_path / "markets.csv"
    markets.write_bytes(b"\x80")
    with pytest.raises(SharedFormatError, match="unreadable"):
        read_markets_csv(markets)
    gaps = tmp_path / "gaps.csv"
    gaps.write_bytes(b"t_last_ok_ns,t_resync_ns,market_ticker\n\xff\n")
    with pytest.raises(SharedFormatError):
        read_gaps_csv(gaps)
    spot = tmp_path / "spot_2026-05-13.csv.gz"
    spot.write_bytes(gzip.compress(b"exchange_ts,price,source,t_ns\n1780315200,1,x\n"))
    with pytest.raises(SharedFormatError, match="line 2"):
        list(read_spot_file(spot))


def test_recording_lines_with_a_non_string_kind_or_a_broken_market_are_recording_errors(
    tmp_path: Path,
) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps({**HEADER, "k": []}) + "\n")
    with pytest.raises(RecordingError, match="unknown kind"):
        KxbtcRecording(path)
    path.write_text(json.dumps(HEADER) + "\n" + json.dumps({"t": 2, "k": "market", "ticker": "X"}) + "\n")
    with pytest.raises(RecordingError, match="line 2: market line unreadable"):
        KxbtcRecording(path).markets()
