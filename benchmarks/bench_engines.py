"""The two engines of a sharded build on real inputs (issue 23): equality, efficiency, resume.

Usage: .venv/bin/python benchmarks/bench_engines.py [--recipe build/mped.toml] [--workers 2]
       [--pairs 2] [--json FILE]
- Equality and efficiency: `--pairs` pairs of fresh builds, local engine then dask engine (a
  LocalCluster of --workers processes started by the command itself: its start is included),
  each timed as a whole command; the ratio is taken within each pair (the machine's load moves
  between pairs), and each build's files are compared byte for byte with the first local one.
- Resume after `kill -9` of the client (the whole process group: client, cluster, workers) when
  about half of the shards have parts: the rerun reuses them, recomputes the rest, same bytes.
- A worker killed mid-run (SIGKILL of one worker process): its nanny restarts it, the scheduler
  reruns its shard elsewhere, same bytes.
Peak RSS: the client's own (summary.json) and the workers' (part manifests).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import time
from pathlib import Path

from common import BIN, OUT, ROOT, header, write_report

FILES = ("csv", "parquet", "structures", "rejects")


def names(table: str) -> list[str]:
    return [f"{table}.csv", f"{table}.parquet", f"{table}-structures.parquet", "rejects.csv"]


def command(recipe: Path, out: Path, engine: str, workers: int) -> list[str]:
    return [str(BIN / "elastic-atlas"), "build", str(recipe), "-o", str(out), "--quiet",
            "--engine", engine, "--workers", str(workers)]  # fmt: skip


def build(recipe: Path, out: Path, engine: str, workers: int) -> dict:
    subprocess.run(["rm", "-rf", str(out)], check=True)
    start = time.perf_counter()
    subprocess.run(command(recipe, out, engine, workers), check=True, capture_output=True)
    wall = time.perf_counter() - start
    summary = json.loads((out / "summary.json").read_text())
    manifests = [json.loads(p.read_text()) for p in out.glob("parts/s*/manifest.json")]
    return {
        "engine": engine,
        "wall_s": round(wall, 1),
        "inputs": summary["inputs"],
        "inputs_per_s": round(summary["inputs"] / wall, 1),
        "client_peak_rss_mib": summary["peak_rss_mib"],
        "worker_peak_rss_mib": max(m["peak_rss_mib"] for m in manifests),
        "shards": summary["shards"],
    }


def same_files(a: Path, b: Path, table: str) -> bool:
    return all((a / n).read_bytes() == (b / n).read_bytes() for n in names(table))


def parts_done(out: Path) -> int:
    return len(list(out.glob("parts/s*/manifest.json")))


def interrupted(recipe: Path, out: Path, engine: str, workers: int, shards: int) -> dict:
    """kill -9 of the whole command once half of the shards have parts, then the rerun."""
    subprocess.run(["rm", "-rf", str(out)], check=True)
    process = subprocess.Popen(command(recipe, out, engine, workers), start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    while parts_done(out) < shards // 2 and process.poll() is None:
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    kept = parts_done(out)
    start = time.perf_counter()
    subprocess.run(command(recipe, out, engine, workers), check=True, capture_output=True)
    summary = json.loads((out / "summary.json").read_text())
    return {"engine": engine, "parts_at_kill": kept, "rerun_s": round(time.perf_counter() -
            start, 1), "shards": summary["shards"]}  # fmt: skip


def worker_killed(recipe: Path, out: Path, workers: int) -> dict:
    """SIGKILL of one dask worker process once a few shards are done; the run goes on."""
    import psutil

    subprocess.run(["rm", "-rf", str(out)], check=True)
    process = subprocess.Popen(command(recipe, out, "dask", workers),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    while parts_done(out) < 3 and process.poll() is None:
        time.sleep(0.2)
    spawned = [p for p in psutil.Process(process.pid).children(recursive=True)
               if "spawn_main" in " ".join(p.cmdline())]  # fmt: skip
    victim = spawned[0].pid if spawned else None
    if victim is not None:
        os.kill(victim, signal.SIGKILL)
    _, error = process.communicate()
    return {"killed_worker_pid": victim, "exit": process.returncode,
            "parts_at_kill": 3, "stderr_tail": error.decode()[-300:]}  # fmt: skip


TRIM_CHILD = """
import json, sys, time
from pathlib import Path
from elastic_atlas.inputs.recipe import load_recipe
from elastic_atlas.pipeline.candidates import load_models, recipe_summary_table
from elastic_atlas.pipeline.crosscheck import crosscheck_of
from elastic_atlas.pipeline.model_refs import model_ref
from elastic_atlas.pipeline.parts import run_shard, shard_jobs
from elastic_atlas.pipeline.shards import ShardSpec
from elastic_atlas.pipeline.workplan import write_plan

recipe = load_recipe(Path(sys.argv[1]))
checkpoints = load_models(recipe)
spec = ShardSpec(recipe.table, model_ref(recipe.models, checkpoints), recipe.screen, 16, None,
                 crosscheck_of(recipe, checkpoints))
plan = write_plan(recipe, recipe_summary_table(recipe), Path(sys.argv[2]))
seconds = []
for job in shard_jobs(plan, str(time.time()))[:4]:  # a key of its own: never a finished part
    start = time.perf_counter()
    run_shard(job, spec)
    seconds.append(time.perf_counter() - start)
print(json.dumps(seconds))
"""


def trim_cost(recipe: Path, folder: Path) -> dict:
    """The first four shards in one process, with and without Dask's MALLOC_TRIM_THRESHOLD_."""
    out = {}
    for name, value in (("glibc default", None), ("MALLOC_TRIM_THRESHOLD_=65536", "65536")):
        env = {k: v for k, v in os.environ.items() if k != "MALLOC_TRIM_THRESHOLD_"}
        if value:
            env["MALLOC_TRIM_THRESHOLD_"] = value
        subprocess.run(["rm", "-rf", str(folder)], check=True)
        done = subprocess.run([str(BIN / "python"), "-c", TRIM_CHILD, str(recipe), str(folder)],
                              env=env, capture_output=True, check=True, text=True)  # fmt: skip
        out[name] = [round(s, 2) for s in json.loads(done.stdout.splitlines()[-1])]
    first, second = out.values()
    return {"seconds": out, "ratio": round(sum(second) / sum(first), 3)}


MONITOR_CHILD = """
import json, sys, time
from pathlib import Path
from distributed import Client, wait
from elastic_atlas.inputs.recipe import load_recipe
from elastic_atlas.pipeline import engines
from elastic_atlas.pipeline.candidates import load_models, recipe_summary_table
from elastic_atlas.pipeline.crosscheck import crosscheck_of
from elastic_atlas.pipeline.model_refs import model_ref
from elastic_atlas.pipeline.parts import run_shard, shard_jobs
from elastic_atlas.pipeline.shards import ShardSpec
from elastic_atlas.pipeline.workplan import write_plan

if __name__ == "__main__":
    recipe = load_recipe(Path(sys.argv[1]))
    checkpoints = load_models(recipe)
    spec = ShardSpec(recipe.table, model_ref(recipe.models, checkpoints), recipe.screen, 16,
                     None, crosscheck_of(recipe, checkpoints))
    plan = write_plan(recipe, recipe_summary_table(recipe), Path(sys.argv[2]))
    if sys.argv[3] == "defaults":  # the local cluster with Dask's own monitors
        for name in engines.QUIET_MONITORS:
            del engines.LOCAL_CLUSTER_ENVIRONMENT[name]
    cluster = engines.local_cluster(2)
    client = Client(cluster)
    client.wait_for_workers(2)
    shared = client.scatter(spec, broadcast=True)
    jobs = shard_jobs(plan, str(time.time()))[:SHARDS]  # a key of its own: never a finished part
    start = time.perf_counter()
    manifests = client.gather([client.submit(run_shard, j, shared, pure=False) for j in jobs])
    wall = time.perf_counter() - start
    client.close()
    cluster.close()
    print(json.dumps({"wall": wall, "seconds": [m["seconds"] for m in manifests]}))
"""


def monitor_cost(recipe: Path, folder: Path, shards: int = 8, rounds: int = 2) -> dict:
    """The same `shards` shards on a 2-worker local cluster, with the package's quiet monitors
    and with Dask's defaults, alternating `rounds` times (the machine's load drifts)."""
    out: dict[str, list] = {"quiet": [], "defaults": []}
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_TRIM_THRESHOLD_"}
    child = MONITOR_CHILD.replace("SHARDS", str(shards))
    for _ in range(rounds):
        for name in out:
            subprocess.run(["rm", "-rf", str(folder)], check=True)
            command = [str(BIN / "python"), "-c", child, str(recipe), str(folder), name]
            done = subprocess.run(command, env=env, capture_output=True, check=True, text=True)
            result = json.loads(done.stdout.splitlines()[-1])
            out[name].append({"wall": round(result["wall"], 2),
                              "task_seconds": round(sum(result["seconds"]), 2)})  # fmt: skip
    quiet = sum(r["wall"] for r in out["quiet"])
    return {"shards": shards, "runs": out,
            "ratio": round(sum(r["wall"] for r in out["defaults"]) / quiet, 3)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", type=Path, default=ROOT / "build" / "mped.toml")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--pairs", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    table = "mped" if "mped" in args.recipe.name else "ned"
    folder = OUT / "engines"
    reference = folder / "reference"
    runs = []
    for pair in range(args.pairs):
        local = build(args.recipe, folder / "local" if pair else reference, "local", args.workers)
        dask = build(args.recipe, folder / "dask", "dask", args.workers)
        local["same_bytes"] = True if not pair else same_files(folder / "local", reference, table)
        dask["same_bytes"] = same_files(folder / "dask", reference, table)
        ratio = round(dask["inputs_per_s"] / local["inputs_per_s"], 3)
        runs.append({"local": local, "dask": dask, "dask_over_local": ratio})
        print(f"pair {pair}: local {local['wall_s']} s, dask {dask['wall_s']} s, ratio {ratio}")
    shards = runs[0]["local"]["shards"]["shards"]
    resumes = []
    for engine in ("local", "dask"):
        resume = interrupted(args.recipe, folder / f"resume-{engine}", engine, args.workers,
                             shards)  # fmt: skip
        resume["same_bytes"] = same_files(folder / f"resume-{engine}", reference, table)
        resumes.append(resume)
        print(f"resume {engine}: {resume}")
    killed = worker_killed(args.recipe, folder / "worker-killed", args.workers)
    killed["same_bytes"] = killed["exit"] == 0 and same_files(
        folder / "worker-killed", reference, table
    )
    print(f"worker killed: {killed}")
    trim = trim_cost(args.recipe, folder / "trim")
    print(f"trim: {trim}")
    monitors = monitor_cost(args.recipe, folder / "monitors")
    print(f"monitors: {monitors}")
    report = {**header(), "recipe": args.recipe.name, "workers": args.workers,
              "load_average": os.getloadavg(), "pairs": runs, "resume": resumes,
              "worker_killed": killed, "trim": trim, "monitors": monitors}  # fmt: skip
    if args.json:
        write_report(args.json, report)


if __name__ == "__main__":
    main()
