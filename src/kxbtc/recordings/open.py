"""Open recordings of any supported format, detected from what is on disk.

- a folder in the shared research format (``markets.csv`` + ``kalshi_ws_<day>.jsonl.gz``), or one of
  its day files;
- a kxbtc recording (``kxbtc record``: a JSON-lines file whose first line is its header).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from kxbtc.errors import KxbtcError
from kxbtc.recordings.kxbtc_file import KxbtcRecording
from kxbtc.recordings.shared_folder import SharedRecording, is_shared_day_file, is_shared_folder
from kxbtc.recordings.source import MarketRecording


class UnknownRecordingError(KxbtcError):
    """A path that is no recording kxbtc can read."""


def open_recording(path: Path) -> MarketRecording:
    if not path.exists():
        raise UnknownRecordingError(f"{path}: no such file or folder")
    if is_shared_folder(path) or is_shared_day_file(path):
        return SharedRecording.open(path)
    if path.is_file():
        return KxbtcRecording(path)
    raise UnknownRecordingError(
        f"{path}: not a recording (expected a kxbtc recording file, or a folder with markets.csv and "
        "kalshi_ws_<day>.jsonl.gz files)"
    )


def open_recordings(paths: Sequence[Path]) -> list[MarketRecording]:
    """One recording per path; several day files of one shared folder become one recording."""
    shared_days = [p for p in paths if is_shared_day_file(p)]
    out: list[MarketRecording] = [open_recording(p) for p in paths if p not in shared_days]
    by_folder: dict[Path, list[Path]] = {}
    for p in shared_days:
        by_folder.setdefault(p.parent, []).append(p)
    for folder, days in sorted(by_folder.items()):
        markets = folder / "markets.csv"
        out.append(SharedRecording(days, markets if markets.exists() else None))
    return out
