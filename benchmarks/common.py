"""Helpers shared by the benchmark scripts: timing a command and describing the machine."""

from __future__ import annotations

import os
import platform
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

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
