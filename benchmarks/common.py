"""Helpers shared by the benchmark scripts: timing a command and describing the machine."""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out"
BIN = Path(sys.executable).parent


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    return (
        f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, {platform.system()}"
    )


def today() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d")


def timed(command: list[str], runs: int = 3) -> tuple[float, int, float]:
    """Best wall time of `runs` runs, the exit code, and the peak RSS (MiB) of the children."""
    best = float("inf")
    code = 0
    for _ in range(runs):
        start = time.perf_counter()
        code = subprocess.run(command, capture_output=True, check=False).returncode
        best = min(best, time.perf_counter() - start)
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return best, code, peak_mib


def _tree_memory_kib(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of a process and all its descendants (KiB), from /proc.

    The RSS sum counts pages shared between processes (the libraries of forked workers) once per
    process, so it overstates; the PSS sum shares each page out among its users and adds up to
    the memory the tree really holds.
    """
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    pss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            status = (entry / "status").read_text()
        except OSError:
            continue
        children.setdefault(int(stat[1]), []).append(int(entry.name))
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                rss[int(entry.name)] = int(line.split()[1])
        try:
            for line in (entry / "smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    pss[int(entry.name)] = int(line.split()[1])
        except OSError:
            pass
    total_rss, total_pss, stack = 0, 0, [pid]
    while stack:
        current = stack.pop()
        total_rss += rss.get(current, 0)
        total_pss += pss.get(current, 0)
        stack.extend(children.get(current, []))
    return total_rss, total_pss


def measure(command: list[str], log: Path | None = None) -> dict[str, float]:
    """Run `command`; wall time, the peak summed RSS and PSS of its process tree and the peak
    RSS of the command's own process (MiB)."""
    start = time.perf_counter()
    out = log.open("w") if log else subprocess.DEVNULL
    process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    peak_rss = peak_pss = peak_own = 0
    while process.poll() is None:
        rss, pss = _tree_memory_kib(process.pid)
        peak_rss, peak_pss = max(peak_rss, rss), max(peak_pss, pss)
        peak_own = max(peak_own, _own_rss_kib(process.pid))
        time.sleep(0.5)
    return {
        "seconds": time.perf_counter() - start,
        "exit": process.returncode,
        "peak_rss_mib": peak_rss / 1024,
        "peak_pss_mib": peak_pss / 1024,
        "own_peak_rss_mib": peak_own / 1024,
    }


def _own_rss_kib(pid: int) -> int:
    """The RSS of one process (KiB), 0 once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    return next((int(x.split()[1]) for x in status.splitlines() if x.startswith("VmRSS:")), 0)


def write_report(path: Path, report: dict) -> None:
    """A benchmark's results as indented JSON under benchmarks/results (committed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {path}")


def header() -> dict[str, str]:
    """What every results file starts with: when, where, and the command that wrote it (relative
    to the repository, so no machine path lands in a committed file)."""
    script = Path(sys.argv[0]).resolve()
    shown = script.relative_to(ROOT) if script.is_relative_to(ROOT) else Path(script.name)
    arguments = [_relative(a) for a in sys.argv[1:]]
    return {
        "date": today(),
        "machine": machine(),
        "command": " ".join([".venv/bin/python", str(shown), *arguments]),
    }


def _relative(argument: str) -> str:
    """A path argument inside the repository as a relative path; others by their last part."""
    if "/" not in argument:
        return argument
    path = Path(argument).resolve()
    if path.is_relative_to(ROOT):
        return str(path.relative_to(ROOT))
    return "<" + path.name + ">"


def checkpoint_fold(checkpoint: Any) -> tuple[Any, dict[str, list[str]]]:
    """The training configuration of a frozen checkpoint's fold (Matbench files from
    ../shared/data) and its train/validation/test ids, from its model card."""
    from elastic_atlas.paths import shared_data
    from elastic_atlas.training.evaluate import checkpoint_fold as fold_of

    return fold_of(checkpoint, shared_data() / "matbench")
