"""``kxbtc sweep``: strategies x latencies (x settings) replayed over recordings in parallel, one table
with in-sample and out-of-sample columns.

Each cell is one independent replay (its own core, account and risk day), so cells run in parallel local
processes (``concurrent.futures``), or as Ray tasks on a cluster with ``--ray ADDRESS`` (Ray is an
optional extra: ``pip install 'kxbtc[ray]'``). The split is fixed before anything is looked at: the
in-sample column trades markets opening before it, the out-of-sample column markets opening from it on;
only the out-of-sample column says anything about an edge.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kxbtc.backtest.sim_loop import with_strategies
from kxbtc.config import Config
from kxbtc.replay.api import replay
from kxbtc.replay.runner import ReplaySettings


@dataclass(frozen=True, slots=True)
class Cell:
    strategy: str
    latency_ms: float
    part: str  # in_sample | out_of_sample
    settings: ReplaySettings


def cells(strategies: Sequence[str], latencies: Sequence[float], split_ns: int, index: str) -> list[Cell]:
    out = []
    for strategy in strategies:
        for latency in latencies:
            out.append(
                Cell(strategy, latency, "in_sample", ReplaySettings(latency, index, trade_until_ns=split_ns))
            )
            out.append(
                Cell(
                    strategy, latency, "out_of_sample", ReplaySettings(latency, index, trade_from_ns=split_ns)
                )
            )
    return out


def run_cell(config: Config, paths: Sequence[Path], cell: Cell) -> dict[str, Any]:
    report = replay(with_strategies(config, [cell.strategy]), paths, cell.settings).to_json()
    keep = ("markets", "markets_traded", "trades", "contracts", "fees", "net_pnl", "net_pnl_interval_95")
    row: dict[str, Any] = {"strategy": cell.strategy, "latency_ms": cell.latency_ms, "part": cell.part}
    row.update({k: report[k] for k in keep})
    row["net_per_contract"] = report["net_per_contract"]
    return row


def sweep(
    config: Config,
    paths: Sequence[Path],
    todo: Sequence[Cell],
    *,
    jobs: int = 0,
    ray_address: str | None = None,
) -> list[dict[str, Any]]:
    if ray_address is not None:
        return _on_ray(config, paths, todo, ray_address)
    workers = jobs or os.cpu_count() or 1
    if workers == 1:
        return [run_cell(config, paths, c) for c in todo]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(run_cell, config, list(paths), c) for c in todo]
        return [f.result() for f in futures]


def _on_ray(
    config: Config, paths: Sequence[Path], todo: Sequence[Cell], address: str
) -> list[dict[str, Any]]:
    try:
        import ray  # type: ignore[import-not-found, unused-ignore]  # optional extra
    except ImportError:
        raise RuntimeError("--ray needs Ray: pip install 'kxbtc[ray]'") from None
    ray.init(address=address)
    remote = ray.remote(run_cell)
    # Every worker must see the recordings at the same paths (a shared file system).
    return list(ray.get([remote.remote(config, list(paths), c) for c in todo]))


def table(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per strategy and latency, in-sample and out-of-sample side by side."""
    merged: dict[tuple[str, float], dict[str, Any]] = {}
    for r in rows:
        key = (r["strategy"], r["latency_ms"])
        entry = merged.setdefault(key, {"strategy": r["strategy"], "latency_ms": r["latency_ms"]})
        prefix = "is" if r["part"] == "in_sample" else "oos"
        for k in (
            "markets",
            "trades",
            "contracts",
            "fees",
            "net_pnl",
            "net_pnl_interval_95",
            "net_per_contract",
        ):
            entry[f"{prefix}_{k}"] = r[k]
    return [merged[k] for k in sorted(merged)]
