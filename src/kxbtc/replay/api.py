"""Replay recordings with one configuration and settings: the entry point of ``kxbtc backtest --replay``."""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path

from kxbtc.config import Config
from kxbtc.recordings.open import open_recordings
from kxbtc.replay.report import ReplayReport, outcomes
from kxbtc.replay.runner import ReplayRunner, ReplaySettings
from kxbtc.store.db import SqliteStore


def replay(
    config: Config, paths: Sequence[Path], settings: ReplaySettings, *, db_path: Path | None = None
) -> ReplayReport:
    """Each recording replayed on its own account (start cash, risk day); one report over all."""
    recordings = open_recordings(paths)
    report = ReplayReport([r.name for r in recordings], settings.latency_ms, settings.index)
    rejections: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    indexes = set()
    with tempfile.TemporaryDirectory(prefix="kxbtc-replay-") as tmp:
        for i, recording in enumerate(recordings):
            path = db_path if db_path is not None and len(recordings) == 1 else Path(tmp) / f"replay-{i}.db"
            store = SqliteStore(path)
            try:
                runner = ReplayRunner(config, recording, settings, store)
                runner.run()
                store.flush()
                report.markets += outcomes(runner)
                rejections.update(runner.core.stats.rejected)
                report.halts += [
                    f"{recording.name}: {e.kind}: {e.detail}"
                    for e in runner.core.stats.risk_events
                    if e.severity == "halt"
                ]
                for f in fields(runner.counts):  # not ``asdict``: it turns a Counter into pairs
                    value = getattr(runner.counts, f.name)
                    if isinstance(value, int):
                        counts[f.name] += value
                    elif isinstance(value, dict):
                        for sub, n in value.items():
                            counts[f"{f.name}.{sub}"] += n
                indexes.add("spot+basis" if runner.use_spot else "kalshi")
                if runner.recorded_priors is not None and settings.llm_answers is not None:
                    report.llm = runner.recorded_priors.note(settings.llm_answers.name)
            finally:
                store.close()
    report.rejections = dict(sorted(rejections.items()))
    report.counts = dict(sorted(counts.items()))
    report.index = ",".join(sorted(indexes)) or settings.index
    return report
