"""The engines of a sharded build: the same shards, the same parts, on this machine's processes
(`local`) or on the workers of a Dask cluster (`dask`); then one streaming merge of the parts into
the table's files, used by both, so both give the same bytes (issue 23).

Why Dask futures: one task per shard, a bounded number in flight, and a task returns only its
manifest (the rows stay in the part on disk). Not `dask.dataframe.to_parquet`, which can leave
duplicate parts after a worker crash (dask/dask#6445); and resuming lives on disk, because Dask
drops a disconnected client's futures (dask/distributed#5684).
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from functools import partial
from itertools import chain, islice
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from tqdm import tqdm

from elastic_atlas.errors import AtlasError, EngineError
from elastic_atlas.pipeline.driver import RunOptions
from elastic_atlas.pipeline.memory import give_back_memory
from elastic_atlas.pipeline.merge import (
    bounded_parts,
    merge_reject_parts,
    merge_sorted,
    merge_table_parts,
)
from elastic_atlas.pipeline.parts import (
    PART_GROUP,
    REJECTS,
    ROWS,
    STRUCTURES,
    ShardJob,
    pin_numerics,
    probe_inputs,
    run_shard,
    shard_inputs,
    write_part,
)
from elastic_atlas.pipeline.predict import predict_stream
from elastic_atlas.pipeline.shards import ShardSpec
from elastic_atlas.pipeline.structures import ARROW_SCHEMA, STRUCTURE_OPTIONS, TextKeeper
from elastic_atlas.pipeline.workplan import MP_API, Plan

STRUCTURE_GROUP = 2_048  # rows per row group of a structures file (as write_structures)
# CIF texts read ahead over all parts of the structures merge: a CIF is ~2.3 KB, 100 times a
# table row, so the merge holds 100 times fewer of them (~40 MB)
STRUCTURE_BUFFER = 16_384
# and merges fewer of their files at once: each open part holds a decoded row group of texts
# (~2 MB), so 16 parts at once, not 64 (more merge levels, a few seconds each per million rows)
STRUCTURE_FAN_IN = 16


@contextmanager
def shard_runner(options: RunOptions, tables: int = 1) -> Iterator[Callable[..., None]]:
    """`run(todo, spec, label, done)` on the engine `options` names, for the shards of
    `tables` tables in turn. A Dask cluster is reached (or a local one started) in the
    background from now on, while the client plans: its workers start as the plan is written.
    It serves every table (a release starts its cluster once, not once per table) and is let
    go as soon as the last table's shards have run, so that the last merge does not share the
    client's memory with the Dask client's state."""
    if options.engine != "dask":
        yield partial(run_shards, options=options, connection=None)
        return
    with ThreadPoolExecutor(1, thread_name_prefix="dask-connect") as pool:
        connection = DaskConnection(pool.submit(_connect, options), tables)
        try:
            yield partial(run_shards, options=options, connection=connection)
        finally:
            connection.close()


class DaskConnection:
    """A client (and the local cluster it started, if any) being reached in the background,
    kept for the shards of `tables` tables."""

    def __init__(self, connecting: Future, tables: int = 1) -> None:
        self.connecting, self.closed, self.tables_left = connecting, False, tables

    def client(self) -> Any:
        return self.connecting.result()[0]

    def table_done(self) -> None:
        """A table's shards have run: the cluster goes after the last table's."""
        self.tables_left -= 1
        if self.tables_left <= 0:
            self.close()

    def close(self) -> None:
        """Let the cluster go (once; a failed connection has nothing to close)."""
        if self.closed or self.connecting.exception() is not None:
            return
        self.closed = True
        client, cluster = self.connecting.result()
        client.close()
        if cluster is not None:
            cluster.close()
        give_back_memory()


def run_shards(
    todo: list[ShardJob],
    spec: ShardSpec,
    label: str,
    done: int,
    *,
    options: RunOptions,
    connection: DaskConnection | None,
) -> None:
    """Every job's part; a bar counts inputs (`done` of them were already in parts)."""
    total = done + sum(job.inputs for job in todo)
    bar_options = {"unit": " inputs", "disable": options.quiet, "desc": label, "total": total}
    with tqdm(file=sys.stderr, initial=done, **bar_options) as bar:
        if connection is None:
            _run_local(todo, spec, options, bar)
        else:
            if todo:
                _run_dask(todo, spec, connection.client(), bar)
            connection.table_done()


def _run_local(todo: list[ShardJob], spec: ShardSpec, options: RunOptions, bar: tqdm) -> None:
    """The pending shards as one stream through this machine's process pool, cut back into
    parts: the pool's chunks are whole inference windows of the plan, as on a worker."""
    import torch

    threads = torch.get_num_threads()
    if options.workers <= 1 or spec.checkpoints[0].device.type != "cpu":
        pin_numerics(spec.checkpoints)  # inference in this process: as on every worker
    try:
        keeper = TextKeeper()
        raws = chain.from_iterable(shard_inputs(job, spec.screen) for job in todo)
        records = predict_stream(
            keeper.watch(raws), spec.checkpoints, workers=options.workers,
            batch_size=spec.batch_size, **spec.hooks(),
        )  # fmt: skip
        for job in todo:  # a part's seconds: the wall time its records took to come back
            started = time.perf_counter()
            shard = list(islice(records, job.inputs))
            write_part(job, spec, shard, keeper, time.perf_counter() - started)
            bar.update(job.inputs)
    finally:
        torch.set_num_threads(threads)


def _connect(options: RunOptions) -> tuple[Any, Any]:
    """(client, cluster) of the scheduler `options` names, or of a cluster of
    `options.workers` single-threaded processes started here (`local_cluster`; cluster None
    when not ours to close); a scheduler that cannot be reached is a one-line error."""
    from distributed import Client

    cluster = None
    try:
        if options.scheduler_file is not None:
            if not Path(options.scheduler_file).is_file():
                raise EngineError(f"{options.scheduler_file}: no such scheduler file")
            client = Client(scheduler_file=str(options.scheduler_file), timeout="10s")
        elif options.scheduler is not None:
            client = Client(options.scheduler, timeout="10s")
        else:
            cluster = local_cluster(max(1, options.workers))
            client = Client(cluster)
            # its workers start as processes of their own: all of them before any shard (the
            # shards in flight are counted from the workers there are)
            client.wait_for_workers(max(1, options.workers), timeout=WORKERS_TIMEOUT)
    except (OSError, TimeoutError) as error:
        if cluster is not None:
            cluster.close()
        where = options.scheduler_file or options.scheduler or "a local cluster"
        raise EngineError(f"cannot reach the Dask scheduler ({where}): {error}") from None
    return client, cluster


# Dask's monitors, made quiet: they feed a dashboard this cluster does not have, and they cost
# CPU that the shards would use (BENCHMARKS, engines: the monitors table). The statistical
# profiler samples a running task's stack every 10 ms; the event loops tick every 20 ms; the
# system monitor every 500 ms and the nannies' memory check every 100 ms, in every process.
QUIET_MONITORS = {
    "DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED": "False",
    "DASK_DISTRIBUTED__ADMIN__TICK__INTERVAL": "1s",
    "DASK_DISTRIBUTED__ADMIN__SYSTEM_MONITOR__INTERVAL": "2s",
    "DASK_DISTRIBUTED__WORKER__MEMORY__MONITOR_INTERVAL": "1s",
}

# How the processes of the local cluster start (Dask reads its configuration from DASK_*
# variables). Dask's nannies set MALLOC_TRIM_THRESHOLD_=65536 in their workers, so glibc hands
# freed memory back at once; parsing and graph building allocate and free so much that a shard
# took 1.2 to 1.6 times as long with it (BENCHMARKS). A shard's memory is bounded anyway: the
# workers keep glibc's own, adaptive threshold (None unsets the variable). The workers import
# the pipeline (torch, pymatgen: seconds) as they start, not in their first task. The
# scheduler's log is a pipe read only if it fails to start: errors only, so it never fills.
LOCAL_CLUSTER_ENVIRONMENT = {
    # a whole dict: Dask lower-cases the names of DASK_* variables, the key of this one not
    "DASK_DISTRIBUTED__NANNY__PRE_SPAWN_ENVIRON": '{"MALLOC_TRIM_THRESHOLD_": None}',
    "DASK_DISTRIBUTED__WORKER__PRELOAD": '["elastic_atlas.pipeline.parts"]',
    "DASK_LOGGING__DISTRIBUTED": "error",
    **QUIET_MONITORS,
}
# a cluster whose client was killed (kill -9) does not outlive it for long: the scheduler
# closes once idle this long, its workers once they have lost it this long
ORPHAN_TIMEOUTS = {"scheduler": "30 minutes", "worker": "60s"}
WORKERS_TIMEOUT = 120  # seconds a build waits for the workers it needs


def local_cluster(workers: int) -> Any:
    """A cluster of `workers` single-threaded worker processes on this machine, its scheduler
    in a process of its own as well (`SubprocessCluster`): a `LocalCluster` keeps its
    scheduler and comms in the client's process, beside the plan's peak (about 60 MiB, by
    hand; the client memory bar of issue 23: BENCHMARKS, scale)."""
    from distributed.deploy.subprocess import SubprocessCluster

    with _environment(LOCAL_CLUSTER_ENVIRONMENT):  # the processes inherit it as they start
        return SubprocessCluster(
            n_workers=workers, threads_per_worker=1, dashboard_address=None,
            silence_logs=logging.ERROR,
            scheduler_kwargs={"idle_timeout": ORPHAN_TIMEOUTS["scheduler"]},
            worker_kwargs={"death_timeout": ORPHAN_TIMEOUTS["worker"]},
        )  # fmt: skip


@contextmanager
def _environment(variables: dict[str, str]) -> Iterator[None]:
    """`variables` set in this process's environment for the block, then as they were."""
    before = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def check_workers(client: Any, plan: Plan) -> int:
    """The number of workers, each of which must see the run folder (a shared filesystem)
    and, when the plan queries the Materials Project, have an API key in its environment."""
    try:
        client.wait_for_workers(1, timeout=WORKERS_TIMEOUT)
    except TimeoutError:
        waited = f"waited {WORKERS_TIMEOUT} s"
        raise EngineError(f"the Dask scheduler has no worker ({waited})") from None
    seen = client.run(os.path.isfile, str(plan.path))
    blind = sorted(worker for worker, ok in seen.items() if not ok)
    if blind:
        raise EngineError(
            f"{len(blind)} Dask worker(s) cannot see {plan.folder} (e.g. {blind[0]}): put the "
            "run folder and the inputs on a filesystem every worker shares"
        )
    if any(origin.kind == MP_API for origin in plan.origins):
        keys = client.run(has_mp_api_key)
        keyless = sorted(worker for worker, ok in keys.items() if not ok)
        if keyless:
            raise EngineError(
                f"{len(keyless)} Dask worker(s) have no MP_API_KEY (e.g. {keyless[0]}): export "
                "it where the workers start (a Slurm job's prologue)"
            )
    return len(seen)


def has_mp_api_key() -> bool:
    """Whether this process could ask the Materials Project (run on every worker)."""
    return bool(os.environ.get("MP_API_KEY"))


def _run_dask(todo: list[ShardJob], spec: ShardSpec, client: Any, bar: tqdm) -> None:
    """One task per shard, at most two per worker in flight; a task returns its manifest. A
    shard that kills its worker is isolated (`isolate`) and run again without its killers; a
    task cancelled because the workers holding the spec died is submitted again."""
    from distributed import as_completed
    from distributed.client import FutureCancelledError
    from distributed.scheduler import KilledWorker

    workers = check_workers(client, todo[0].plan)
    shared = Scattered(client, spec)
    # the longest shards first (most inputs to read), so no worker ends far behind
    queue, running = iter(sorted(todo, key=lambda job: -job.reads)), as_completed()
    jobs: dict[str, tuple[ShardJob, int]] = {}

    def submit(job: ShardJob | None, attempt: int = 0) -> None:
        if job is not None:
            key = f"shard-{job.part.name}-{len(job.killers)}-{attempt}"  # a new key each time
            future = client.submit(run_shard, job, shared.future(attempt > 0), key=key,
                                   pure=False)  # fmt: skip
            jobs[future.key] = (job, attempt)
            running.add(future)

    for job in islice(queue, 2 * workers):
        submit(job)
    for future in running:
        job, attempt = jobs.pop(future.key)
        try:
            future.result()
        except AtlasError:  # a source or checkpoint error, named: stop, parts stay
            raise
        except KilledWorker:  # an input kills its worker: find it, run the shard without it
            killers = isolate(client, job, shared)
            if not killers and attempt >= RESUBMITS:
                raise EngineError(
                    f"shard {job.index} kills its worker, but no input of it does alone; give "
                    "the workers more memory or use a smaller --shard-size"
                ) from None
            # no killer of its own: it died beside another shard's (tasks queued on a worker
            # that dies count as failed too), so it just runs again
            submit(replace(job, killers=tuple(sorted({*job.killers, *killers}))), attempt + 1)
            continue
        except FutureCancelledError as error:
            if attempt >= RESUBMITS:
                raise EngineError(
                    f"shard {job.index} ({job.inputs} inputs from #{job.first}) was cancelled "
                    f"{attempt + 1} times ({error}); finished parts stay, rerun to resume"
                ) from None
            submit(job, attempt + 1)
            continue
        bar.update(job.inputs)
        submit(next(queue, None))


RESUBMITS = 3  # a cancelled shard task (the scattered spec lost with dead workers) is resent


class Scattered:
    """The spec, scattered once to every worker (not pickled into each task), and again when
    the workers that held it died."""

    def __init__(self, client: Any, spec: ShardSpec) -> None:
        self.client, self.spec, self._future = client, spec, None

    def future(self, again: bool = False) -> Any:
        if again or self._future is None or self._future.status != "finished":
            # hash=False: a new key each time, never the key of the copy being dropped (that
            # one is forgotten with its old Future, and anything waiting on it is cancelled)
            self._future = self.client.scatter(self.spec, broadcast=True, hash=False)
        return self._future


def isolate(client: Any, job: ShardJob, shared: Scattered) -> tuple[int, ...]:
    """The ordinals of the inputs of `job` that kill a worker, found by halving: a probe runs a
    range of the shard through the pipeline and writes nothing; a range whose probe dies is cut
    in two until single inputs are left. Each dead probe costs the scheduler's allowed failures
    (`distributed.scheduler.allowed-failures`) worker restarts."""
    from distributed.client import FutureCancelledError
    from distributed.scheduler import KilledWorker

    def dies(inputs: range) -> bool:
        for _ in range(RESUBMITS + 1):
            try:  # the spec sent again: the dead workers may have held its only copies
                spec = shared.future(again=True)
                client.submit(probe_inputs, job, inputs, spec, pure=False).result()
            except KilledWorker:
                return True
            except FutureCancelledError:  # its spec was lost with a dying worker: again
                continue
            return False
        raise EngineError(f"shard {job.index}: the probes for an input killing its worker "
                          "keep losing their workers; rerun to resume")  # fmt: skip

    suspects, killers = [range(job.first, job.first + job.inputs)], []
    while suspects:
        inputs = suspects.pop()
        if not dies(inputs):
            continue
        if len(inputs) > 1:
            half = len(inputs) // 2
            suspects += [inputs[half:], inputs[:half]]
        elif dies(inputs):  # twice: a probe can die beside another shard's killer
            killers.append(inputs[0])
    return tuple(sorted(killers))


def merge_parts(
    plan: Plan, jobs: list[ShardJob], table: str, files: dict[str, Path], metadata: dict[str, str]
) -> int:
    """The table's CSV, Parquet, structures and rejects from the parts; rows written."""
    merged = merge_table_parts([j.part / ROWS for j in jobs], table, files["csv"],
                               files["parquet"], metadata)  # fmt: skip
    if merged.duplicates:  # the plan rejects a repeated id before any part is made
        raise AssertionError(f"duplicate ids in the parts: {merged.duplicates[:3]}")
    give_back_memory()
    rejects = [j.part / REJECTS for j in jobs] + [plan.rejects_path]
    merge_reject_parts(rejects, table, files["rejects"])
    give_back_memory()
    merge_structure_parts([j.part / STRUCTURES for j in jobs], files["structures"], metadata)
    return merged.rows


def merge_structure_parts(parts: list[Path], path: Path, metadata: dict[str, str]) -> None:
    """The structures file from sorted parts, row groups of `STRUCTURE_GROUP` rows."""
    schema = ARROW_SCHEMA.with_metadata({k.encode(): v.encode() for k, v in metadata.items()})
    keys, buffered = ["material_id"], STRUCTURE_BUFFER
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".merge-") as scratch:
        levels = bounded_parts(parts, keys, STRUCTURE_FAN_IN, Path(scratch), PART_GROUP, buffered)
        chunks = merge_sorted(levels, keys, STRUCTURE_GROUP, buffered)
        with pq.ParquetWriter(path, schema, **STRUCTURE_OPTIONS) as writer:
            for chunk in chunks:
                writer.write_table(chunk.cast(schema), row_group_size=STRUCTURE_GROUP)
