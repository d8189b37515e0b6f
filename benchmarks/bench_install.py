"""Install sizes: the core wheel alone vs with every extra, each in a fresh venv.

Usage: .venv/bin/python benchmarks/bench_install.py [--json OUT]
Builds the wheel, then for "core" (`pip install WHEEL`) and "all" (`pip install WHEEL[all]`)
creates a venv under benchmarks/out/install, installs from PyPI (torch from the pinned CPU
wheel), and reports the venv's size on disk, the number of installed distributions and the
time; then the core venv loads, looks up and validates the embedded-sample release built by the
full venv (the light install's promise, checked on a real install).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from common import OUT, ROOT, machine, today


def folder_mib(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


def install(name: str, requirement: str) -> dict[str, float | int]:
    venv = OUT / "install" / name
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    start = time.perf_counter()
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            requirement,
        ],
        check=True,
    )
    seconds = time.perf_counter() - start
    listed = subprocess.run(
        [str(python), "-m", "pip", "list", "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {
        "mib": round(folder_mib(venv), 1),
        "distributions": len(json.loads(listed)),
        "seconds": round(seconds, 1),
    }


def core_uses_a_release(release: Path) -> dict[str, object]:
    """In the core venv (no torch): every table loaded, GaAs looked up as "AsGa", the first
    row's structure of each table, and the errors `validate` finds, with the time it took."""
    python = OUT / "install" / "core" / "bin" / "python"
    code = (
        "import json, sys, time; import elastic_atlas as ea; start = time.perf_counter(); "
        f"r = {str(release)!r}; "
        "rows = {t: len(ea.load(t, release=r)) for t in ea.tables(r)}; "
        "found = ea.lookup('mped', release=r, formula='AsGa').material_id.tolist(); "
        "kinds = {t: type(next(iter(ea.structures(t, [ea.load(t, release=r, "
        "columns=['material_id']).material_id[0]], release=r).values()))).__name__ "
        "for t in rows}; "
        "errors = sum(f.severity == 'error' for f in ea.validate(r)); "
        "print(json.dumps({'rows': rows, 'AsGa': found, 'structures': kinds, "
        "'validation_errors': errors, 'torch_imported': 'torch' in sys.modules, "
        "'seconds': round(time.perf_counter() - start, 1)}))"
    )
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1]}
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--release",
        type=Path,
        default=None,
        help="also check a (real) release folder from the core venv",
    )
    args = parser.parse_args()
    wheels = OUT / "install" / "dist"
    shutil.rmtree(wheels, ignore_errors=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            str(wheels),
            str(ROOT),
        ],
        check=True,
    )
    (wheel,) = wheels.glob("elastic_atlas-*.whl")
    report = {
        "date": today(),
        "machine": machine(),
        "core": install("core", str(wheel)),
        "all": install("all", f"{wheel}[all]"),
    }
    release = OUT / "install" / "releases"
    shutil.rmtree(release, ignore_errors=True)
    subprocess.run(
        [
            str(OUT / "install" / "all" / "bin" / "elastic-atlas"),
            "release",
            "--releases",
            str(release),
            "--quiet",
        ],
        check=True,
    )
    report["core_on_sample"] = core_uses_a_release(release / "0.1.0+sample")
    if args.release is not None:
        report["core_on_release"] = core_uses_a_release(args.release.resolve())
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
