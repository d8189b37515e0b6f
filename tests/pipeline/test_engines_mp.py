"""A Materials Project query as a sharded build (issue 23): the client lists the ids
(`_fields=material_id`), each shard fetches its own documents by id (`material_ids=`), both
engines write the same bytes, every listed id ends as a row or a reject with its reason, and a
Dask worker without an API key is one line before any shard runs. Against a local fake of the
summary endpoint (127.0.0.1, stops by itself): no network."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd
import pytest
from checkpoint_factory import make_own
from fake_mp import KEY, FakeMPDatabase, document
from structures import diamond, rock_salt

from elastic_atlas.errors import EngineError, SourceError
from elastic_atlas.inputs.mp_api import MPAPIError, MPClient
from elastic_atlas.inputs.recipe import load_recipe
from elastic_atlas.pipeline.parts import NOT_RETURNED
from elastic_atlas.pipeline.run import RunOptions, build_table

OUTPUTS = ("mped.csv", "mped.parquet", "mped-structures.parquet", "rejects.csv")


def database() -> list[dict]:
    """Twelve good documents, one outside the band-gap window, one with a broken structure,
    one with a text band gap; the listing repeats one id."""
    documents = [document(f"mp-{i}", rock_salt(5.0 + i / 20), 1.0 + i / 10) for i in range(12)]
    documents.insert(5, document("mp-50", diamond(), 9.5))  # outside [0.1, 8]
    broken = document("mp-60", diamond(), 2.0)
    broken["structure"] = {"lattice": "not a lattice"}
    documents.insert(7, broken)
    text_gap = document("mp-70", diamond(), 2.0)
    text_gap["band_gap"] = "2,0"
    documents.append(text_gap)
    documents.append(document("mp-3", diamond(), 2.0))  # listed twice
    return documents


EXPECTED = {
    "mp-50": "band_gap_outside_window",
    "mp-60": "unreadable_structure",
    "mp-70": "unreadable_structure",
    "mp-3": "duplicate_id",
    "mp-8": "no_structure",  # withdrawn between the listing and the fetch
}


@pytest.fixture
def mp_recipe(tmp_path, monkeypatch) -> Path:
    make_own(tmp_path / "model", members=1)
    recipe = tmp_path / "recipe.toml"
    recipe.write_text(
        'table = "mped"\n[[structures]]\nkind = "mp_api"\ncriteria = {band_gap_min = 0.0}\n'
        'source = "Materials Project API"\nlicence = "CC-BY-4.0"\n'
        '[models]\ncheckpoint = "model"\n'
    )
    monkeypatch.setenv("MP_API_KEY", KEY)
    monkeypatch.setenv("ELASTIC_ATLAS_CACHE", str(tmp_path / "cache"))
    return recipe


def options(engine="local", scheduler=None, shard=4):
    return RunOptions(workers=0, batch_size=2, quiet=True, engine=engine, scheduler=scheduler,
                      shard_inputs=shard)  # fmt: skip


def files(folder: Path) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in OUTPUTS}


def serve(monkeypatch, max_limit=1000) -> FakeMPDatabase:
    server = FakeMPDatabase(database(), max_limit)
    server.withdrawn = {"mp-8"}
    monkeypatch.setenv("MP_API_ENDPOINT", server.url)
    return server


def test_the_ids_are_listed_once_and_each_shard_fetches_only_its_own(mp_recipe, tmp_path,
                                                                      monkeypatch):  # fmt: skip
    with serve(monkeypatch, max_limit=6) as server:  # a server capping _limit: three pages
        result = build_table(load_recipe(mp_recipe), tmp_path / "out", options(shard=4))
    listing = [q for _, q, _ in server.requests if q["_fields"] == "material_id"]
    assert [q["_skip"] for q in listing] == ["0", "6", "12"]
    fetches = [q["material_ids"].split(",") for _, q, _ in server.requests if "material_ids" in q]
    plan = pd.read_parquet(tmp_path / "out" / "parts" / "plan.parquet")
    to_read = plan[plan["reason"].isna()]  # the second mp-3 is a duplicate: not fetched
    shards = to_read.groupby(to_read["ordinal"] // 4)["material_id"]
    assert sorted(map(sorted, fetches)) == sorted(sorted(ids) for _, ids in shards)
    rejects = pd.read_csv(tmp_path / "out" / "rejects.csv")
    assert dict(zip(rejects["material_id"], rejects["reason"], strict=True)) == EXPECTED
    detail = rejects.set_index("material_id")["detail"]
    assert detail["mp-8"] == NOT_RETURNED and "band_gap '2,0'" in detail["mp-70"]
    rows = pd.read_csv(tmp_path / "out" / "mped.csv")
    assert sorted(rows["material_id"]) == sorted(f"mp-{i}" for i in range(12) if i != 8)
    assert rows.set_index("material_id")["band_gap"]["mp-2"] == pytest.approx(1.2)
    assert result.book.inputs == 16 and result.book.accepted == 11  # 16 listed: 11 + 5


def test_both_engines_write_the_same_bytes_and_a_rerun_asks_nothing(mp_recipe, tmp_path,
                                                                    monkeypatch):  # fmt: skip
    distributed = pytest.importorskip("distributed", reason="the dask engine needs [scale]")
    with serve(monkeypatch) as server:
        build_table(load_recipe(mp_recipe), tmp_path / "local", options(shard=4))
        # workers started now inherit the key and the endpoint, as a job's prologue gives them
        with distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=logging.ERROR,
        ) as c:
            build_table(load_recipe(mp_recipe), tmp_path / "dask", options("dask",
                        c.scheduler_address, shard=4))  # fmt: skip
        assert files(tmp_path / "dask") == files(tmp_path / "local")
        asked = len(server.requests)
        build_table(load_recipe(mp_recipe), tmp_path / "local", options(shard=4))
        assert len(server.requests) == asked  # listing from the cache, every part reused
    shards = json.loads((tmp_path / "local" / "summary.json").read_text())["shards"]
    assert shards["reused"] == shards["shards"] == 4


def test_a_dask_worker_without_a_key_is_one_error_before_any_shard(mp_recipe, tmp_path,
                                                                   monkeypatch):  # fmt: skip
    distributed = pytest.importorskip("distributed", reason="the dask engine needs [scale]")
    keyless = distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                       dashboard_address=":0", silence_logs=logging.ERROR,
                                       env={"MP_API_KEY": ""})  # fmt: skip
    with (
        serve(monkeypatch) as server,
        keyless,
        pytest.raises(
            EngineError,
            match=r"1 Dask "
            "worker\\(s\\) have no MP_API_KEY",
        ),
    ):
        build_table(load_recipe(mp_recipe), tmp_path / "out",
                    options("dask", keyless.scheduler_address))  # fmt: skip
    assert not any("material_ids" in q for _, q, _ in server.requests)  # no shard asked
    assert not list((tmp_path / "out" / "parts").glob("s*"))


def test_a_server_ignoring_the_id_filter_stops_the_build_naming_the_shard(mp_recipe, tmp_path,
                                                                          monkeypatch):  # fmt: skip
    with serve(monkeypatch) as server:
        server.ignore_filter = True
        with pytest.raises(SourceError, match=r"shard 0: .*answer holds 'mp-\d+' too"):
            build_table(load_recipe(mp_recipe), tmp_path / "out", options(shard=4))
    assert not (tmp_path / "out" / "mped.csv").exists()


def test_a_listing_whose_total_changes_between_pages_is_refused(tmp_path):
    """An update between two pages (or cached pages of another day beside new ones) would make
    `_skip` miss or repeat documents."""
    documents = database()
    with FakeMPDatabase(documents, max_limit=6) as server:
        client = MPClient(api_key=KEY, cache_dir=tmp_path / "cache", base_url=server.url)
        ids = client.list_ids()
        first = [next(ids) for _ in range(6)]
        documents.append(document("mp-99", diamond(), 1.0))  # the database grows
        with pytest.raises(MPAPIError, match=r"changed between pages.*total_doc 16 at _skip=0, 17"):
            list(ids)
    assert first == [d["material_id"] for d in database()[:6]]


def test_a_document_the_server_returns_twice_is_an_error(tmp_path):
    twice = document("mp-1", rock_salt(), 1.0)
    with FakeMPDatabase([twice, twice, document("mp-2", diamond(), 1.0)]) as server:
        server.ignore_filter = True
        client = MPClient(api_key=KEY, cache_dir=tmp_path / "cache", base_url=server.url)
        with pytest.raises(MPAPIError, match="holds 'mp-1' twice"):
            client.fetch_documents(["mp-1", "mp-2"])
