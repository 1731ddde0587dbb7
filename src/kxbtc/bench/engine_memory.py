"""``make bench-memory``: the engine's own resident memory over many simulated hours, measured the way a
trader runs it: ``kxbtc sim serve --speed S`` in one process and ``kxbtc run --env sim --sim-clock ...`` in
another. The soak's figure (``kxbtc.bench.soak``) is the engine and the simulator in one process; this one
is the engine's process alone.

At every simulated hour this process reads, from ``/proc``, each child's resident set (``VmRSS``, and its
anonymous part ``RssAnon``: the heap, without the mapped libraries) and CPU time. Between samples it
watches the engine's sockets to the simulator once a wall second: bytes waiting in their receive queues are
frames the engine has not read yet, so a queue that stays full means the engine does not keep up with the
speed-up (the figure would then describe a slower market than the one simulated). At the end the engine is
stopped with SIGINT, as Ctrl-C would, and its summary line (orders, fills, settled markets) is kept.

Linux only (``/proc``). Run it pinned to one core (``--cores 1``) on a machine shared with latency runs.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from kxbtc.clock import NS_PER_S
from kxbtc.sim.harness import generate_key_pair

ALL_SERIES = ("KXBTC15M", "KXBTCD", "KXBTC")
#: Faults a trader's connection sees on a bad day, none of which stops the engine: dropped frames
#: (resyncs; a dropped snapshot stalls its market for the 10 wall seconds of the client's timeout, so
#: rare), a disconnect every 2 wall minutes (2 simulated hours at speed 60), 429s and 500s, lost order
#: responses.
DEFAULT_FAULTS = "drop=0.002,disconnect_every=120,http_429=0.01,http_5xx=0.01,lose_response=0.02"
#: The soak's wide mispricing: many orders and fills, so the per-order and per-fill state is exercised.
DEFAULT_MISPRICING = 0.08
#: Small orders, as in the soak: the account does not run out of money over the day.
ENGINE_CONFIG = """\
[strategies.fair_value]
max_contracts = 2

[strategies.book_glitch]
max_contracts = 2
"""
#: Wall seconds between looks at the engine's socket receive queues.
PROBE_S = 1.0
_MB = 1024 * 1024


@dataclass(slots=True)
class HourSample:
    """One simulated hour's end, as seen from outside both processes."""

    hour: int
    wall_s: float
    engine_rss_mb: float
    engine_anon_mb: float
    engine_cpu_s: float
    sim_rss_mb: float
    sim_cpu_s: float
    #: Over the hour: the most bytes waiting unread in the engine's sockets from the simulator, and the
    #: share of the once-a-second looks that found any.
    backlog_max_bytes: int = 0
    backlog_share: float = 0.0


@dataclass(slots=True)
class EngineMemoryRun:
    hours: int
    speed: float
    seed: int
    series: list[str]
    faults: str
    mispricing: float
    samples: list[HourSample] = field(default_factory=list)
    wall_s: float = 0.0
    #: The engine's own closing line (``kxbtc run stopped: orders N, fills M, ...``), and its exit code.
    engine_summary: str = ""
    engine_exit: int | None = None
    cores: list[int] | None = None

    def rss_mb_by_hour(self) -> list[float]:
        return [s.engine_rss_mb for s in self.samples]

    def summary(self) -> dict[str, Any]:
        """Growth from hour 1 to the last hour, the peak, and whether the engine kept up."""
        rss = self.rss_mb_by_hour()
        anon = [s.engine_anon_mb for s in self.samples]
        busy = [
            (b.engine_cpu_s - a.engine_cpu_s) / (b.wall_s - a.wall_s)
            for a, b in zip(self.samples, self.samples[1:], strict=False)
            if b.wall_s > a.wall_s
        ]
        return {
            "rss_hour1_mb": rss[0] if rss else None,
            "rss_last_mb": rss[-1] if rss else None,
            "rss_peak_mb": max(rss) if rss else None,
            "rss_growth_pct": growth_pct(rss),
            "anon_growth_pct": growth_pct(anon),
            "engine_cpu_share_max": round(max(busy), 3) if busy else None,
            "backlog_max_bytes": max((s.backlog_max_bytes for s in self.samples), default=0),
            "backlog_share_max": max((s.backlog_share for s in self.samples), default=0.0),
        }

    def table(self) -> str:
        lines = [
            f"engine-only memory: {self.hours} simulated h at {self.speed:g}x, seed {self.seed}, "
            f"series {','.join(self.series)}; faults {self.faults or 'none'}; mispricing {self.mispricing:g}",
            f"{'hour':>4} {'wall s':>7} {'engine RSS':>10} {'anon':>7} {'CPU %':>6} "
            f"{'sim RSS':>8} {'sim CPU %':>9} {'backlog max B':>13} {'looks w/ backlog':>16}",
        ]
        previous: HourSample | None = None
        for s in self.samples:
            span = s.wall_s - previous.wall_s if previous else s.wall_s
            cpu = 100 * (s.engine_cpu_s - (previous.engine_cpu_s if previous else 0)) / span if span else 0
            sim = 100 * (s.sim_cpu_s - (previous.sim_cpu_s if previous else 0)) / span if span else 0
            lines.append(
                f"{s.hour:>4} {s.wall_s:>7.0f} {s.engine_rss_mb:>7.1f} MB {s.engine_anon_mb:>7.1f} "
                f"{cpu:>6.0f} {s.sim_rss_mb:>5.1f} MB {sim:>9.0f} {s.backlog_max_bytes:>13,} "
                f"{100 * s.backlog_share:>15.0f}%"
            )
            previous = s
        rss = self.rss_mb_by_hour()
        if len(rss) >= 2:
            pct = growth_pct(rss)
            lines.append(
                f"engine resident memory, hour 1 -> {len(rss)}: {rss[0]:.1f} -> {rss[-1]:.1f} MB "
                f"({pct:+.1f} %), peak {max(rss):.1f} MB; target: under 10 % and under 300 MB"
            )
        lines.append(f"wall time {self.wall_s:.0f} s; engine: {self.engine_summary or '(no summary)'}")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        doc = {k: v for k, v in asdict(self).items() if k != "samples"}
        doc["samples"] = [asdict(s) for s in self.samples]
        doc["rss_mb_by_hour"] = [round(x, 1) for x in self.rss_mb_by_hour()]
        doc["summary"] = self.summary()
        return doc


def growth_pct(series: Sequence[float]) -> float | None:
    if len(series) < 2 or not series[0]:
        return None
    return round(100.0 * (series[-1] - series[0]) / series[0], 2)


# -- /proc readers (pure on their text, so the tests need no process) ---------------------------------


def status_mb(status_text: str, key: str) -> float:
    """A ``kB`` line of ``/proc/PID/status`` (``VmRSS``, ``RssAnon``) in MiB; 0 when absent."""
    for line in status_text.splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(stat_text: str, ticks_per_s: float) -> float:
    """User plus system CPU time of all the process's threads, from ``/proc/PID/stat``."""
    # The command name (field 2) may hold spaces and parentheses: count the fields after its last ')'.
    fields = stat_text[stat_text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / ticks_per_s


def socket_inodes(fd_targets: Iterable[str]) -> set[int]:
    """The inodes of the sockets among a process's open files (``readlink /proc/PID/fd/N``)."""
    out = set()
    for target in fd_targets:
        if target.startswith("socket:["):
            out.add(int(target[8:-1]))
    return out


def rx_backlog(net_tcp_text: str, inodes: set[int], remote_port: int) -> int:
    """Bytes waiting unread in the receive queues of the given sockets connected to ``remote_port``
    (``/proc/PID/net/tcp``: addresses and queues in hex)."""
    total = 0
    for line in net_tcp_text.splitlines()[1:]:
        parts = line.split()
        if len(parts) < 10:
            continue
        port = int(parts[2].rsplit(":", 1)[1], 16)
        if port == remote_port and int(parts[9]) in inodes:
            total += int(parts[4].split(":")[1], 16)
    return total


def hour_due_s(hour: int, speed: float, sim_ns: int, wall_ns: int, sim_start_ns: int) -> float:
    """Unix wall time (s) at which the simulator's clock reaches ``hour`` simulated hours past
    ``sim_start_ns``, given its anchor (``sim_ns`` read at ``wall_ns``)."""
    target_ns = sim_start_ns + hour * 3600 * NS_PER_S
    return (wall_ns + (target_ns - sim_ns) / speed) / NS_PER_S


def parse_sim_clock_line(line: str) -> tuple[float, int, int] | None:
    match = re.match(r"sim clock ([\d.e+]+):(\d+):(\d+)", line)
    if match is None:
        return None
    return float(match[1]), int(match[2]), int(match[3])


# -- the run ------------------------------------------------------------------------------------------


class _Proc:
    """What this process reads of a child: its resident set, CPU time and (the engine's) socket queues."""

    def __init__(self, pid: int) -> None:
        self.root = Path(f"/proc/{pid}")
        self.ticks = float(os.sysconf("SC_CLK_TCK"))

    def rss(self) -> tuple[float, float]:
        text = (self.root / "status").read_text()
        return status_mb(text, "VmRSS"), status_mb(text, "RssAnon")

    def cpu(self) -> float:
        return cpu_seconds((self.root / "stat").read_text(), self.ticks)

    def backlog(self, remote_port: int) -> int:
        targets = []
        for fd in (self.root / "fd").iterdir():
            try:
                targets.append(os.readlink(fd))
            except OSError:  # closed since the listing
                continue
        inodes = socket_inodes(targets)
        return rx_backlog((self.root / "net/tcp").read_text(), inodes, remote_port)


def _wait_for_line(path: Path, pattern: str, proc: subprocess.Popen[bytes], timeout_s: float) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for line in path.read_text(errors="replace").splitlines():
            if line.startswith(pattern):
                return line
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    raise RuntimeError(f"no {pattern!r} line from the simulator; its stderr: {path.read_text()[-2000:]}")


def run(
    hours: int,
    speed: float,
    *,
    seed: int = 1,
    series: Sequence[str] = ALL_SERIES,
    faults: str = DEFAULT_FAULTS,
    mispricing: float = DEFAULT_MISPRICING,
    work_dir: Path,
    log: bool = True,
    trace_dir: Path | None = None,
    tracemalloc: bool = False,
) -> EngineMemoryRun:
    """The simulator and the engine as two child processes for ``hours`` simulated hours."""
    result = EngineMemoryRun(hours, speed, seed, list(series), faults, mispricing)
    key = generate_key_pair()
    public = work_dir / "public.pem"
    public.write_bytes(key.public_key_pem)
    key_file = key.write_private_key(work_dir)
    config = work_dir / "kxbtc.toml"
    config.write_text(ENGINE_CONFIG)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KXBTC")}
    sim_err = work_dir / "sim.err"
    command = [sys.executable, "-m", "kxbtc", "sim", "serve", "--speed", str(speed), "--seed", str(seed)]
    command += ["--trust", f"{key.key_id}={public}", "--mispricing", str(mispricing)]
    if faults:
        command += ["--faults", faults]
    started = time.monotonic()
    with open(sim_err, "wb") as err:
        sim = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=err, env=env)
    engine: subprocess.Popen[bytes] | None = None
    try:
        assert sim.stdout is not None
        rest_url = sim.stdout.readline().decode().split()[1]
        ws_url = sim.stdout.readline().decode().split()[1]
        anchor = parse_sim_clock_line(_wait_for_line(sim_err, "sim clock ", sim, 60.0))
        assert anchor is not None
        _, sim_ns, wall_ns = anchor
        port = int(rest_url.split(":")[2].split("/")[0])
        # With ``trace_dir`` the engine writes the allocator's and SQLite's figures at each hour's sample
        # (and with ``tracemalloc`` a snapshot of its Python objects): ``kxbtc.bench.traced_engine``.
        runner = ["kxbtc"]
        if trace_dir is not None:
            runner = ["kxbtc.bench.traced_engine", str(trace_dir)]
            runner += ["--tracemalloc"] if tracemalloc else []
        engine_command = [
            sys.executable, "-m", *runner, "run", "--env", "sim", "--rest-url", rest_url, "--ws-url", ws_url,
            "--no-ntp", "--key-id", key.key_id, "--key-file", str(key_file),
            "--db", str(work_dir / "kxbtc.db"), "--config", str(config),
            "--sim-clock", f"{speed}:{sim_ns}:{wall_ns}",
        ]  # fmt: skip
        for name in series:
            engine_command += ["--series", name]
        engine_err = work_dir / "engine.err"
        with open(engine_err, "wb") as err:
            engine = subprocess.Popen(engine_command, stdout=subprocess.DEVNULL, stderr=err, env=env)
        eng, simp = _Proc(engine.pid), _Proc(sim.pid)
        sim_start_ns = sim_ns  # hour 0: the simulator's clock when it started serving
        for hour in range(1, hours + 1):
            due = hour_due_s(hour, speed, sim_ns, wall_ns, sim_start_ns)
            looks = busy = most = 0
            while (left := due - time.time()) > 0:
                if engine.poll() is not None or sim.poll() is not None:
                    raise RuntimeError(
                        f"a child exited early (engine {engine.poll()}, simulator {sim.poll()})"
                    )
                backlog = eng.backlog(port)
                looks, busy, most = looks + 1, busy + (backlog > 0), max(most, backlog)
                time.sleep(min(PROBE_S, left))
            rss, anon = eng.rss()
            if trace_dir is not None:
                engine.send_signal(signal.SIGUSR1)
            sample = HourSample(
                hour,
                round(time.monotonic() - started, 1),
                round(rss, 1),
                round(anon, 1),
                round(eng.cpu(), 2),
                round(simp.rss()[0], 1),
                round(simp.cpu(), 2),
                most,
                round(busy / looks, 3) if looks else 0.0,
            )
            result.samples.append(sample)
            if log:
                print(
                    f"hour {hour}: engine {sample.engine_rss_mb} MB (anon {sample.engine_anon_mb}), "
                    f"sim {sample.sim_rss_mb} MB, wall {sample.wall_s:.0f} s",
                    file=sys.stderr,
                    flush=True,
                )
        engine.send_signal(signal.SIGINT)  # Ctrl-C: cancel resting orders, reconcile, flush, summary
        result.engine_exit = engine.wait(120)
        lines = engine_err.read_text(errors="replace").strip().splitlines()
        result.engine_summary = next((x for x in reversed(lines) if x.startswith("kxbtc run stopped")), "")
    finally:
        for proc in (engine, sim):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
    result.wall_s = round(time.monotonic() - started, 1)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The engine's own resident memory per simulated hour")
    parser.add_argument("--hours", type=int, default=24, help="simulated hours")
    parser.add_argument("--speed", type=float, default=60.0, help="simulated seconds per wall second")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--series", action="append", choices=ALL_SERIES, help="repeat; default all three")
    parser.add_argument("--faults", default=DEFAULT_FAULTS, help="`kxbtc sim serve --faults`; '' for none")
    parser.add_argument("--mispricing", type=float, default=DEFAULT_MISPRICING)
    parser.add_argument("--cores", help="run both processes on these cores, e.g. 1 (default: unpinned)")
    parser.add_argument("--keep", type=Path, help="keep the database and both processes' stderr here")
    parser.add_argument("--json-out", type=Path, default=Path("engine_memory.json"))
    parser.add_argument(
        "--trace-engine",
        type=Path,
        help="diagnostic: each hour the engine writes glibc's and SQLite's memory figures into this folder",
    )
    parser.add_argument(
        "--tracemalloc", action="store_true", help="with --trace-engine: also a tracemalloc snapshot per hour"
    )
    args = parser.parse_args(argv)
    cores = [int(c) for c in args.cores.split(",")] if args.cores else None
    if cores:  # the children inherit it
        os.sched_setaffinity(0, cores)
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        if any(args.keep.iterdir()):  # a database left there would be restarted from
            parser.error(f"--keep {args.keep}: not empty")
    with tempfile.TemporaryDirectory(prefix="kxbtc-engine-memory-") as tmp:
        work = args.keep or Path(tmp)
        result = run(
            args.hours,
            args.speed,
            seed=args.seed,
            series=args.series or ALL_SERIES,
            faults=args.faults,
            mispricing=args.mispricing,
            work_dir=work,
            trace_dir=args.trace_engine,
            tracemalloc=args.tracemalloc,
        )
    result.cores = cores
    print(result.table())
    args.json_out.write_text(json.dumps(result.to_json(), indent=2) + "\n")
    return 0 if result.engine_exit == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
