"""Sharded builds (issue 23): the local engine and the Dask engine write the same bytes, with
one shard or many per worker; finished parts are reused and only they; a changed input or
checkpoint invalidates exactly the parts it touches; a damaged member stops the run naming it,
with the finished parts kept; a scheduler that cannot be reached is one line, exit 2."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest
from checkpoint_factory import make_own
from click.testing import CliRunner
from recipes import NED_FROM_CIFS
from structures import cif_text, diamond, rock_salt

from elastic_atlas.cli import main
from elastic_atlas.errors import OutputError, SourceError
from elastic_atlas.inputs.recipe import load_recipe
from elastic_atlas.pipeline.run import RunOptions, build_table, run_build, write_table_files

distributed = pytest.importorskip(
    "distributed", reason="the dask engine needs elastic-atlas[scale]"
)

OUTPUTS = ("mped.csv", "mped.parquet", "mped-structures.parquet", "rejects.csv")


@pytest.fixture(scope="module")
def scheduler():
    """One 2-worker LocalCluster for the module (workers are processes, one thread each, as
    `--engine dask` starts them); its address is what `--scheduler` takes."""
    import logging

    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
        silence_logs=logging.ERROR,
    ) as cluster:  # fmt: skip
        yield cluster.scheduler_address


def options(engine="local", scheduler=None, shard=2, batch=1):
    return RunOptions(workers=0, batch_size=batch, quiet=True, engine=engine,
                      scheduler=scheduler, shard_inputs=shard)  # fmt: skip


def files(folder: Path) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in OUTPUTS}


def summary(folder: Path) -> dict:
    return json.loads((folder / "summary.json").read_text())


def test_the_local_engine_writes_the_bytes_of_a_streamed_build(inputs, tmp_path):
    """Batch 1: no batch can differ, so the plan's verdicts, the parts and the merge are all
    that is compared with the former streamed build."""
    recipe, _ = inputs
    streamed = run_build(load_recipe(recipe), RunOptions(workers=0, batch_size=1, quiet=True))
    write_table_files(streamed, tmp_path / "streamed", "rejects.csv")
    result = build_table(load_recipe(recipe), tmp_path / "sharded", options(shard=2))
    assert files(tmp_path / "sharded") == files(tmp_path / "streamed")
    planned = result.book.inputs - result.book.reasons["no_structure"]  # summary-only: no input
    assert result.statistics.shards["shards"] == -(-planned // 2) > 5
    assert result.book.counts() == streamed.book.counts()


@pytest.mark.parametrize(("shard", "batch"), [(16, 8), (1, 1)])
def test_the_dask_engine_writes_the_bytes_of_the_local_engine(
    inputs, tmp_path, scheduler, shard, batch
):
    """2 shards (about one per worker) and 22 (eleven per worker): the same files."""
    recipe, _ = inputs
    build_table(load_recipe(recipe), tmp_path / "local", options(shard=shard, batch=batch))
    build_table(load_recipe(recipe), tmp_path / "dask",
                options("dask", scheduler, shard=shard, batch=batch))  # fmt: skip
    assert files(tmp_path / "dask") == files(tmp_path / "local")
    local, dask = summary(tmp_path / "local"), summary(tmp_path / "dask")
    assert dask["shards"]["engine"] == "dask" and dask["shards"]["reused"] == 0
    assert {k: dask[k] for k in ("inputs", "accepted", "screened_out", "rejected")} == {
        k: local[k] for k in ("inputs", "accepted", "screened_out", "rejected")
    }


def test_the_sample_builds_to_the_same_bytes_on_both_engines_from_the_command_line(
    tmp_path, scheduler
):
    runner = CliRunner()
    for engine, extra in (("local", []), ("dask", ["--scheduler", scheduler])):
        result = runner.invoke(main, ["build", "-o", str(tmp_path / engine), "--quiet",
                                      "--engine", engine, *extra])  # fmt: skip
        assert result.exit_code == 0, result.output
    assert files(tmp_path / "dask") == files(tmp_path / "local")


def test_a_rerun_recomputes_only_the_missing_parts_to_the_same_bytes(inputs, tmp_path):
    recipe, _ = inputs
    out = tmp_path / "out"
    build_table(load_recipe(recipe), out, options(shard=4))
    first, shards = files(out), summary(out)["shards"]["shards"]
    parts = sorted((out / "parts").glob("s*-*"))
    shutil.rmtree(parts[1])  # as if the run had been killed before this shard ended
    (parts[2] / "manifest.json").unlink()  # ... or during it: no manifest, no part
    for name in OUTPUTS:
        (out / name).unlink()
    build_table(load_recipe(recipe), out, options(shard=4))
    assert files(out) == first
    facts = summary(out)["shards"]
    seconds = facts.pop("seconds")  # where the wall time went
    assert facts == {"engine": "local", "shards": shards, "reused": shards - 2, "stale_parts": 0}
    assert set(seconds) == {"plan", "shards", "merge"} and min(seconds.values()) >= 0


def test_a_changed_summary_row_invalidates_only_the_shard_that_holds_it(inputs, tmp_path):
    recipe, _ = inputs
    out = tmp_path / "out"
    build_table(load_recipe(recipe), out, options(shard=4))
    path = recipe.parent / "summary.csv"
    path.write_text(path.read_text().replace("mp-60,1.5", "mp-60,1.6"))
    build_table(load_recipe(recipe), out, options(shard=4))
    shards = summary(out)["shards"]
    assert shards["reused"] == shards["shards"] - 1 and shards["stale_parts"] == 1


def test_another_checkpoint_invalidates_every_part(inputs, tmp_path):
    recipe, _ = inputs
    out = tmp_path / "out"
    build_table(load_recipe(recipe), out, options(shard=4))
    make_own(recipe.parent / "model", members=1)  # other weights in the same folder
    build_table(load_recipe(recipe), out, options(shard=4))
    shards = summary(out)["shards"]
    assert shards["reused"] == 0 and shards["stale_parts"] == shards["shards"]


def damaged_zip(folder: Path) -> Path:
    """Eight good members, then one whose deflate stream is broken."""
    path = folder / "structures.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for i in range(8):
            archive.writestr(f"mp-{i}.cif", cif_text(rock_salt(5.0 + i / 10)),
                             zipfile.ZIP_DEFLATED)  # fmt: skip
        archive.writestr("mp-9.cif", cif_text(diamond()), zipfile.ZIP_DEFLATED)
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("mp-9.cif")
    data = bytearray(path.read_bytes())
    data[info.header_offset + 30 + len("mp-9.cif") + 40] ^= 0xFF
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("engine", ["local", "dask"])
def test_a_damaged_member_stops_the_run_naming_it_and_finished_parts_stay(
    tmp_path, scheduler, engine
):
    make_own(tmp_path / "model", members=1)
    damaged_zip(tmp_path)
    recipe = tmp_path / "recipe.toml"
    recipe.write_text('table = "mped"\n[[structures]]\npath = "structures.zip"\nsource = "z"\n'
                      'licence = "CC-BY-4.0"\n[screen]\ngap_policy = "include"\n'
                      '[models]\ncheckpoint = "model"\n')  # fmt: skip
    out = tmp_path / "out"
    with pytest.raises(SourceError, match=r"shard 4: .*entry mp-9\.cif cannot be read"):
        build_table(load_recipe(recipe), out, options(engine, scheduler, shard=2))
    finished = sorted(p.parent.name[:7] for p in (out / "parts").glob("s*/manifest.json"))
    good = ["s000000", "s000001", "s000002", "s000003"]
    if engine == "local":  # shards in order: every one before the damaged member is kept
        assert finished == good
    else:  # shards side by side: those done when the error came are kept, none other
        assert set(finished) <= set(good)
    assert not (out / "mped.csv").exists()  # no table with holes in it


def test_a_scheduler_that_cannot_be_reached_is_one_line_exit_2(tmp_path):
    arguments = ["--engine", "dask", "--scheduler", "tcp://127.0.0.1:9"]
    result = CliRunner().invoke(main, ["build", "-o", str(tmp_path / "out"), "--quiet", *arguments])
    assert result.exit_code == 2
    assert result.output.startswith("error: cannot reach the Dask scheduler")
    assert len(result.output.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--scheduler", "tcp://127.0.0.1:9"], "go with --engine dask"),
        (["--shard-size", "100"], "multiple of 256"),
        (["--engine", "dask", "--scheduler-file", "missing.json"], "no such scheduler file"),
    ],
)
def test_engine_options_that_cannot_work_are_refused(tmp_path, arguments, message):
    result = CliRunner().invoke(main, ["build", "-o", str(tmp_path / "out"), "--quiet", *arguments])
    assert result.exit_code == 2 and message in result.output


def test_a_release_resumes_from_the_parts_a_stopped_run_left(tmp_path, scheduler):
    """The release command keeps a table's parts beside the releases until the release stands;
    the rebuild on the Dask engine is byte-identical to the local one (the release's own
    comparison of an existing version)."""
    releases = tmp_path / "releases"
    runner = CliRunner()
    common = ["release", "--releases", str(releases), "--quiet", "--workers", "0"]
    result = runner.invoke(main, common)
    assert result.exit_code == 0, result.output
    assert not (releases / ".parts-0.1.0+sample").exists()  # gone once the release stands
    result = runner.invoke(main, [*common, "--engine", "dask", "--scheduler", scheduler])
    assert result.exit_code == 0, result.output
    assert "byte-identical" in result.output


TWO_TABLES = """name = "two-tables"
title = "Two tables"
description = "A release built by the tests."
keywords = ["test"]
[[creators]]
name = "elastic-atlas developers"
[tables]
mped = "{sample}"
ned = "ned.toml"
"""


def test_a_release_reaches_its_dask_cluster_once_for_all_its_tables(
    tmp_path, scheduler, monkeypatch
):
    """A release's tables share one cluster (a local one starts once, not once per table);
    both tables' shards run on it, and it is let go after the last table's shards."""
    from elastic_atlas.paths import repo_root
    from elastic_atlas.pipeline import engines

    (tmp_path / "cifs").mkdir()
    for i, structure in enumerate([rock_salt(), diamond()]):
        (tmp_path / "cifs" / f"{i + 1:010x}.CIF").write_text(cif_text(structure))
    (tmp_path / "ned.toml").write_text(NED_FROM_CIFS)
    sample = repo_root() / "build" / "sample.toml"
    (tmp_path / "release.toml").write_text(TWO_TABLES.format(sample=sample))
    connected, ran, closed = [], [], []
    connect, run_dask, close = engines._connect, engines._run_dask, engines.DaskConnection.close
    monkeypatch.setattr(engines, "_connect", lambda o: connected.append(o) or connect(o))
    monkeypatch.setattr(engines, "_run_dask", lambda t, *a: ran.append(t) or run_dask(t, *a))
    monkeypatch.setattr(engines.DaskConnection, "close",
                        lambda self: closed.append(self.tables_left) or close(self))  # fmt: skip
    result = CliRunner().invoke(main, ["release", "--config", str(tmp_path / "release.toml"),
                                       "--releases", str(tmp_path / "releases"), "--quiet",
                                       "--version", "1.0.0", "--engine", "dask",
                                       "--scheduler", scheduler])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert len(connected) == 1 and len(ran) == 2  # one connection, both tables' shards on it
    assert closed[0] == 0  # first closed when no table was left (the context's close: no-op)


def test_a_connection_kept_for_two_tables_closes_after_the_second():
    from concurrent.futures import Future

    from elastic_atlas.pipeline.engines import DaskConnection

    class Closable:
        closed = 0

        def close(self) -> None:
            self.closed += 1

    client, cluster, connecting = Closable(), Closable(), Future()
    connecting.set_result((client, cluster))
    connection = DaskConnection(connecting, tables=2)
    connection.table_done()
    assert (client.closed, cluster.closed) == (0, 0)  # the second table still needs it
    connection.table_done()
    connection.close()  # the context's own close at the end: once only
    assert (client.closed, cluster.closed) == (1, 1)


def test_a_link_planted_where_the_plan_goes_is_refused(inputs, tmp_path):
    recipe, _ = inputs
    victim = tmp_path / "victim.txt"
    victim.write_text("not the build's")
    (tmp_path / "out" / "parts").mkdir(parents=True)
    (tmp_path / "out" / "parts" / "plan.parquet").symlink_to(victim)
    with pytest.raises(OutputError, match="symbolic link"):
        build_table(load_recipe(recipe), tmp_path / "out", options())
    assert victim.read_text() == "not the build's"


def test_a_sharded_builds_columns_are_read_alone_from_its_file(inputs, tmp_path):
    """The release asks a built table for the few columns its card and page use: they come
    from the Parquet file without the rest, equal to the whole table's, in the order asked;
    a column the table lacks is left out, not invented."""
    recipe, _ = inputs
    result = build_table(load_recipe(recipe), tmp_path / "b", options())
    assert result.loaded is None  # a sharded build holds no rows
    asked = result.columns(["k_vrh", "material_id", "no_such_column"])
    assert list(asked.columns) == ["k_vrh", "material_id"] and result.loaded is None
    whole = result.frame
    assert asked.equals(whole[["k_vrh", "material_id"]])
    assert result.columns(["g_vrh"]).equals(whole[["g_vrh"]])  # rows in memory: same answer


def test_the_local_engines_parts_say_how_long_their_shard_took(inputs, tmp_path):
    build_table(load_recipe(inputs[0]), tmp_path / "b", options(shard=4))
    manifests = [json.loads(p.read_text()) for p in (tmp_path / "b").glob("parts/s*/manifest.json")]
    assert len(manifests) > 1 and all(m["seconds"] > 0 for m in manifests)


def test_the_local_cluster_keeps_its_scheduler_and_workers_out_of_the_client(monkeypatch):
    """`--engine dask` without a scheduler: the scheduler and the workers are processes of their
    own (the client's memory holds neither), the workers keep glibc's trim threshold, have the
    pipeline imported and Dask's monitors quiet, and closing the cluster leaves no process
    behind."""
    import os

    import psutil

    from elastic_atlas.pipeline.engines import LOCAL_CLUSTER_ENVIRONMENT, local_cluster

    def worker_state() -> dict:  # defined here: sent by value, not imported on the worker
        import os
        import sys

        import dask

        return {"pid": os.getpid(), "trim": os.environ.get("MALLOC_TRIM_THRESHOLD_"),
                "preloaded": "elastic_atlas.pipeline.parts" in sys.modules,
                "profiler": dask.config.get("distributed.worker.profile.enabled"),
                "tick": dask.config.get("distributed.admin.tick.interval")}  # fmt: skip

    # the module's LocalCluster put Dask's threshold into this process's environment (its
    # nannies live here and update os.environ), which a process started now would inherit
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    before = {child.pid for child in psutil.Process().children(recursive=True)}  # other clusters
    cluster = local_cluster(1)
    try:
        assert cluster.scheduler.process.pid != os.getpid()
        with distributed.Client(cluster) as client:
            client.wait_for_workers(1, timeout=60)
            (state,) = client.run(worker_state).values()
        assert state["pid"] not in (os.getpid(), cluster.scheduler.process.pid)
        assert state["trim"] is None and state["preloaded"]
        assert state["profiler"] is False and state["tick"] == "1s"  # Dask's monitors quiet
    finally:
        cluster.close()
    assert not any(name in os.environ for name in LOCAL_CLUSTER_ENVIRONMENT)  # as it was
    left = [c for c in psutil.Process().children(recursive=True) if c.pid not in before]
    assert psutil.wait_procs(left, timeout=10)[1] == []  # none of its processes outlives it


def test_the_sample_on_a_local_cluster_of_the_command_gives_the_local_bytes(tmp_path):
    runner = CliRunner()
    for engine in ("local", "dask"):
        result = runner.invoke(main, ["build", "-o", str(tmp_path / engine), "--quiet",
                                      "--engine", engine, "--workers", "2"])  # fmt: skip
        assert result.exit_code == 0, result.output
    assert files(tmp_path / "dask") == files(tmp_path / "local")
