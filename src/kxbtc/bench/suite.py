"""``kxbtc bench``: every speed figure in one table, written as JSON too, and the CI check against a baseline.

A figure is a list of timings (median and 99th percentile shown) or a single rate. The CI check
(``compare``) divides each timing's 10th percentile by the calibration workload's, measured in the same
process (``figures.calibration_us``): a machine or a load that slows everything alike leaves the ratio
alone, so only a change in kxbtc's own code can move it by 2x.
"""

from __future__ import annotations

import json
import platform
import statistics
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kxbtc.bench import figures

#: Figures the CI check compares (fast, deterministic inputs, in-process). ``replay`` needs the shared
#: research recording beside the repository and is left out where it is absent.
QUICK = ("book_delta", "sign_rsa", "sign_ed25519", "fair_value", "sim_order", "replay")
#: The recording ``replay`` reads: the shared research folder's 2026-05-13 day file.
QUICK_REPLAY = (
    Path(__file__).resolve().parents[3].parent / "shared/data/kalshi_l2_2026-05/kalshi_ws_2026-05-13.jsonl.gz"
)
#: How much worse than the baseline (as a ratio to the calibration) a figure may be before CI fails.
TOLERANCE = 2.0


@dataclass(frozen=True, slots=True)
class Figure:
    name: str
    what: str
    unit: str
    median: float
    p99: float | None
    #: Samples the median and p99 come from.
    n: int
    #: The 10th percentile: what the CI check compares, as the least disturbed by a busy machine.
    p10: float | None = None
    p90: float | None = None
    max: float | None = None

    @staticmethod
    def of(name: str, what: str, unit: str, values: list[float]) -> Figure:
        ordered = sorted(values)
        if not ordered:
            return Figure(name, what, unit, 0.0, None, 0)
        median = statistics.median(ordered)
        return Figure(
            name,
            what,
            unit,
            median,
            _rank(ordered, 0.99),
            len(ordered),
            _rank(ordered, 0.10),
            _rank(ordered, 0.90),
            ordered[-1],
        )


def _rank(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def machine() -> dict[str, Any]:
    """CPU model and cores (from /proc/cpuinfo where there is one), Python, and the date."""
    model, cores = platform.processor() or platform.machine(), 0
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and model in ("", platform.machine(), platform.processor()):
                model = line.split(":", 1)[1].strip()
            cores += line.startswith("processor")
    except OSError:
        pass
    return {
        "cpu": model,
        "cores": cores or None,
        "python": platform.python_version(),
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


QUICK_FIGURES: dict[str, tuple[str, Callable[[], list[float]]]] = {
    "book_delta": ("decode + apply of one book delta", figures.book_delta_us),
    "sign_rsa": ("signing one request, RSA-2048 (PSS)", lambda: figures.sign_us("rsa")),
    "sign_ed25519": ("signing one request, Ed25519", lambda: figures.sign_us("ed25519")),
    "fair_value": ("one fair-value evaluation", figures.fair_value_us),
    "sim_order": ("one order into the simulator's exchange", figures.sim_order_us),
}


def run_quick(replay: Path | None = QUICK_REPLAY) -> tuple[Figure, list[Figure]]:
    """The calibration and the quick figures, each in microseconds (``replay`` where the file exists)."""
    calibration = Figure.of("calibration", "fixed pure-Python workload", "us", figures.calibration_us())
    out = [Figure.of(name, what, "us", make()) for name, (what, make) in QUICK_FIGURES.items()]
    if replay is not None and replay.exists():
        what = "one recorded event through the core (CPU)"
        out.append(Figure.of("replay", what, "us", figures.replay_cpu_us(replay)))
    return calibration, out


def run_all(
    *,
    tick_seconds: float = 60.0,
    replay: Path | None = None,
    soak_json: Path | None = None,
    pin: tuple[int, int] | None = None,
    engine_memory_json: Path | None = None,
) -> dict[str, Any]:
    """Every figure; the JSON document ``kxbtc bench`` writes. ``pin``: the tick-to-wire run's engine
    and simulator each on its own core (engine's, simulator's)."""
    from kxbtc.bench.tick_to_wire import measure

    calibration, quick = run_quick()
    out = [calibration, *quick]
    notes: dict[str, str] = {}
    # The whole-day replay runs before the tick-to-wire run: a fresh heap, and no core pinning left over.
    if replay is not None and replay.exists():
        rate, events = figures.replay_events_per_s(replay)
        out.append(Figure("replay_rate", f"replay of {replay.name}", "events/s", rate, None, events))
    else:
        notes["replay_rate"] = "skipped: no recording (../shared/data absent)"
    if tick_seconds > 0:
        run = measure(tick_seconds, pin=pin)
        where = f"pinned: engine on core {pin[0]}, simulator on core {pin[1]}" if pin else "not pinned"
        out.append(
            Figure.of(
                "tick_to_wire",
                "tick to order on the wire",
                "us",
                [s / 1000 for s in run.samples_ns],
            )
        )
        out.append(
            Figure.of(
                "tick_to_wire_cpu",
                "tick to wire, loop thread CPU time",
                "us",
                [s / 1000 for s in run.cpu_samples_ns],
            )
        )
        # Where the time goes: one burst of frames can make several markets order at once, and each
        # order after the first waits for the evaluations and sends before it.
        out.append(
            Figure.of(
                "tick_to_wire_first",
                "tick to wire, a burst's first order",
                "us",
                [s / 1000 for s in run.first_of_burst_ns()],
            )
        )
        out.append(
            Figure.of(
                "tick_to_wire_next",
                "tick to wire, added by each further order",
                "us",
                [s / 1000 for s in run.further_order_gaps_ns()],
            )
        )
        bursts = run.bursts()
        notes["tick_to_wire"] = (
            f"{where}; {run.frames} frames in {run.seconds:.0f} s; {len(bursts)} bursts with orders, "
            f"{_orders_per_burst(bursts)}"
        )
    # Memory: the engine's own process first (``make bench-memory``), then the soak's whole process.
    engine_memory = _engine_memory(engine_memory_json)
    soak_memory = _soak_memory(soak_json)
    out.extend(engine_memory or [])
    out.extend(soak_memory or [])
    if soak_memory is not None:
        notes["soak"] = "the soak's rows are one process running the engine and the simulator together"
    if engine_memory is None:
        notes["memory"] = (
            "engine's own process not measured: run `make bench-memory` first (engine_memory.json)"
            if soak_memory is not None
            else "not measured: run `make bench-memory` (engine alone) or `make soak` first"
        )
    return {
        "machine": machine(),
        "figures": {f.name: _figure_json(f) for f in out},
        "notes": notes,
    }


def _orders_per_burst(bursts: list[list[int]]) -> str:
    sizes = sorted(len(b) for b in bursts)
    if not sizes:
        return "no orders"
    return f"orders per burst median {statistics.median(sizes):g}, max {sizes[-1]}"


def _rss_rows(rss: list[float], name: str, what: str) -> list[Figure]:
    """Resident memory at hour 1 and at the last hour, and the growth between them."""
    first, last = rss[0], rss[-1]
    growth = 100.0 * (last - first) / first if first else 0.0
    n = len(rss)
    return [
        Figure(f"{name}_hour1", f"{what}: RSS at hour 1", "MB", first, None, 1),
        Figure(f"{name}_hour{n}", f"{what}: RSS at hour {n}", "MB", last, None, 1),
        Figure(f"{name}_growth", f"{what}: RSS growth, hour 1 to {n}", "%", growth, None, 1),
    ]


def _engine_memory(path: Path | None) -> list[Figure] | None:
    """The engine's own process against ``kxbtc sim serve`` in another (``kxbtc.bench.engine_memory``)."""
    if path is None or not path.exists():
        return None
    rss = json.loads(path.read_text()).get("rss_mb_by_hour") or []
    if len(rss) < 2:
        return None
    return [
        *_rss_rows(rss, "rss", "engine alone"),
        Figure("rss_peak", "engine alone: peak RSS", "MB", max(rss), None, 1),
    ]


def _soak_memory(path: Path | None) -> list[Figure] | None:
    """The soak's one process: the engine and the simulator together (``kxbtc.bench.soak``)."""
    if path is None or not path.exists():
        return None
    doc = json.loads(path.read_text())
    rss = doc.get("rss_mb_by_hour") or []
    if len(rss) < 2:
        return None
    out = _rss_rows(rss, "soak_rss", "soak, one process")
    # The engine's share apart from the simulator's (objects reachable from it; soaks since issue 15).
    engine = doc.get("engine_mb_by_hour") or []
    if len(engine) >= 2:
        what = f"soak: engine-held objects, hour 1 to {len(engine)}"
        out.append(Figure("engine_held_growth", what, "MB", engine[-1] - engine[0], None, 1))
    return out


def _figure_json(f: Figure) -> dict[str, Any]:
    out = {"what": f.what, "unit": f.unit, "median": round(f.median, 3), "p99": _round(f.p99), "n": f.n}
    if f.name.startswith("tick_to_wire"):  # a latency's tail is the point: p90 and the worst too
        out |= {"p90": _round(f.p90), "max": _round(f.max)}
    return out


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def table(doc: Mapping[str, Any]) -> str:
    """The one table people read: machine first, then each figure's median, p99 and rate."""
    m = doc["machine"]
    lines = [
        f"machine: {m['cpu']}, {m['cores']} cores; Python {m['python']}; {m['date']}",
        f"{'figure':<44} {'median':>12} {'p99':>12}  {'unit':<9} {'per second':>12}",
    ]
    for f in doc["figures"].values():
        per_s = f"{1e6 / f['median']:,.0f}" if f["unit"] == "us" and f["median"] > 0 else ""
        if "p90" in f:  # a latency, not a rate
            per_s = ""
        p99 = f"{f['p99']:,.1f}" if f["p99"] is not None else ""
        lines.append(f"{f['what']:<44} {f['median']:>12,.1f} {p99:>12}  {f['unit']:<9} {per_s:>12}")
        if "p90" in f:
            n = f"  (n={f['n']:,})"
            lines.append(f"{n:<44} {'p90':>12} {f['p90']:>12,.1f}  max {f['max']:,.1f}")
    lines += [f"{name}: {note}" for name, note in doc.get("notes", {}).items()]
    return "\n".join(lines)


def ratios(calibration: Figure, quick: list[Figure]) -> dict[str, float]:
    """Each quick figure's 10th percentile over the calibration's (medians swing more on a busy machine)."""
    return {f.name: (f.p10 or f.median) / (calibration.p10 or calibration.median) for f in quick}


def compare(current: Mapping[str, float], baseline: Mapping[str, float]) -> list[str]:
    """The figures more than ``TOLERANCE`` times worse than the baseline, described."""
    worse = []
    for name, base in baseline.items():
        now = current.get(name)
        if now is not None and base > 0 and now > TOLERANCE * base:
            worse.append(f"{name}: {now:.2f} x calibration, baseline {base:.2f} (over {TOLERANCE:.0f}x)")
    return worse
