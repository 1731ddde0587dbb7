"""The shared-format reader decodes its day files block by block: whatever the block boundaries, it must
give every line, in order, as a line-by-line read would, and still name a bad line."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from kxbtc.recordings import shared_folder
from kxbtc.recordings.shared_folder import SharedFormatError, read_ws_file
from kxbtc.recordings.source import WsFrame


def _lines(n: int) -> list[bytes]:
    out = []
    for i in range(n):
        # Lines of varied length, so block boundaries fall mid-line, mid-string and mid-number.
        frame = {"type": "orderbook_delta", "sid": 2, "seq": i + 1, "msg": {"pad": "x" * (i % 37)}}
        out.append(json.dumps({"t": 1_000 + i, "conn": f"run/{i % 3}", "frame": frame}).encode() + b"\n")
    return out


def _expected(lines: list[bytes]) -> list[WsFrame]:
    out = []
    for raw in lines:
        line = json.loads(raw)
        frame = json.dumps(line["frame"]).encode()
        out.append(WsFrame(line["t"], line["conn"], frame))
    return out


def _same(got: list[WsFrame], lines: list[bytes]) -> None:
    want = _expected(lines)
    assert [(f.t_ns, f.conn) for f in got] == [(f.t_ns, f.conn) for f in want]
    assert [json.loads(bytes(f.frame)) for f in got] == [json.loads(f.frame) for f in want]


def test_every_line_in_order_whatever_the_block_size(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lines = _lines(500)
    path = tmp_path / "kalshi_ws_2026-05-13.jsonl.gz"
    path.write_bytes(gzip.compress(b"".join(lines)))
    for block in (7, 64, 1000, 1 << 18):
        monkeypatch.setattr(shared_folder, "_BLOCK", block)
        _same(list(read_ws_file(path)), lines)


def test_several_gzip_members_and_a_last_line_without_newline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = _lines(120)
    path = tmp_path / "kalshi_ws_2026-05-13.jsonl.gz"
    body = b"".join(lines).rstrip(b"\n")
    path.write_bytes(gzip.compress(body[:3000]) + gzip.compress(body[3000:]))  # as `cat a.gz b.gz`
    monkeypatch.setattr(shared_folder, "_BLOCK", 500)
    _same(list(read_ws_file(path)), lines)


def test_a_bad_line_is_named_by_its_number(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lines = _lines(300)
    lines[211] = b'{"t": 5, "conn": "run/1", "frame": {\n'
    path = tmp_path / "kalshi_ws_2026-05-13.jsonl.gz"
    path.write_bytes(gzip.compress(b"".join(lines)))
    monkeypatch.setattr(shared_folder, "_BLOCK", 900)
    with pytest.raises(SharedFormatError, match="line 212"):
        list(read_ws_file(path))


def test_a_truncated_compressed_file_is_an_error_after_its_whole_lines(tmp_path: Path) -> None:
    lines = _lines(2000)
    packed = gzip.compress(b"".join(lines))
    path = tmp_path / "kalshi_ws_2026-05-13.jsonl.gz"
    path.write_bytes(packed[: len(packed) // 2])
    got: list[WsFrame] = []
    with pytest.raises(SharedFormatError, match="truncated"):
        for frame in read_ws_file(path):
            got.append(frame)
    assert got and [f.t_ns for f in got] == list(range(1_000, 1_000 + len(got)))
