"""The streaming merge: sorted parts become the very CSV text and the same Parquet rows as the
whole table written at once; duplicate ids keep the first in input order; the rejects too."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from elastic_atlas.contract.reasons import REJECT_COLUMNS
from elastic_atlas.inputs.synthetic import synthetic_table
from elastic_atlas.pipeline.memory import give_back_memory, lean_client
from elastic_atlas.pipeline.merge import (
    ORDINAL,
    merge_reject_parts,
    merge_table_parts,
    row_group_batches,
)
from elastic_atlas.pipeline.tables import arrow_table, write_csv


def write_parts(frame: pd.DataFrame, folder, count: int, seed: int = 0) -> list:
    """`frame` (with its ordinals) shuffled into `count` parts, each sorted as a shard's."""
    folder.mkdir(exist_ok=True)
    order = np.random.default_rng(seed).permutation(len(frame))
    paths = []
    for index, rows in enumerate(np.array_split(order, count)):
        part = frame.iloc[rows].sort_values(["material_id", ORDINAL])
        table = arrow_table(part.drop(columns=[ORDINAL]), "mped")
        table = table.append_column(ORDINAL, pa.array(part[ORDINAL].to_numpy(), pa.int64()))
        pq.write_table(table, folder / f"part-{index}.parquet")
        paths.append(folder / f"part-{index}.parquet")
    return paths


@pytest.mark.parametrize("fan_in", [64, 2])
def test_parts_merge_into_the_whole_tables_files(tmp_path, fan_in):
    frame = synthetic_table(3_000, seed=5)
    frame[ORDINAL] = np.arange(len(frame))
    duplicate = frame.iloc[[10, 20]].copy()  # the same ids again, later in input order
    duplicate[ORDINAL] = [5_000, 5_001]
    duplicate["k_vrh"] *= 2  # different rows: only the first in input order may stay
    parts = write_parts(pd.concat([frame, duplicate]), tmp_path / "parts", count=7)
    merged = merge_table_parts(parts, "mped", tmp_path / "m.csv", tmp_path / "m.parquet",
                               {"elastic_atlas.version": "1.0"}, fan_in=fan_in)  # fmt: skip
    expected = frame.drop(columns=[ORDINAL]).sort_values("material_id").reset_index(drop=True)
    write_csv(expected, tmp_path / "whole.csv", "mped")
    assert (tmp_path / "m.csv").read_bytes() == (tmp_path / "whole.csv").read_bytes()
    written = pq.read_table(tmp_path / "m.parquet")
    assert written.equals(arrow_table(expected, "mped").replace_schema_metadata(
        written.schema.metadata))  # fmt: skip
    assert written.schema.metadata[b"elastic_atlas.version"] == b"1.0"
    assert merged.rows == 3_000
    expected_duplicates = list(zip(duplicate.material_id, [5_000, 5_001], strict=True))
    assert sorted(merged.duplicates) == sorted(expected_duplicates)


def test_rejects_merge_into_the_sorted_rejects_file(tmp_path):
    rng = np.random.default_rng(2)
    reasons = ["band_gap_outside_window", "radioactive_element"]
    rows = [(f"mp-{rng.integers(1, 500)}", f"src-{rng.integers(3)}", "screen",
             str(rng.choice(reasons)), "" if rng.random() < 0.5 else f"detail {rng.integers(9)}")
            for _ in range(2_000)]  # fmt: skip
    frame = pd.DataFrame(rows, columns=list(REJECT_COLUMNS))
    (tmp_path / "parts").mkdir()
    parts = []
    shuffled = frame.sample(frac=1, random_state=1)
    for index, rows_of_part in enumerate(np.array_split(np.arange(len(shuffled)), 5)):
        chunk = shuffled.iloc[rows_of_part]
        path = tmp_path / "parts" / f"rejects-{index}.parquet"
        pq.write_table(pa.Table.from_pandas(chunk.sort_values(list(REJECT_COLUMNS)),
                                            preserve_index=False), path)  # fmt: skip
        parts.append(path)
    assert merge_reject_parts(parts, "mped", tmp_path / "rejects.csv", fan_in=2) == 2_000
    whole = pd.DataFrame(sorted(rows), columns=list(REJECT_COLUMNS))
    whole.insert(0, "table", "mped")
    whole.to_csv(tmp_path / "whole.csv", index=False, lineterminator="\n")
    assert (tmp_path / "rejects.csv").read_bytes() == (tmp_path / "whole.csv").read_bytes()


def test_a_part_is_read_one_row_group_at_a_time(tmp_path):
    """pyarrow's iter_batches reads far ahead (137 MiB for one file of 682 small row groups of
    CIF texts): the merge's reader holds one decoded row group, and yields every row in order."""
    texts = [f"{i:06d}" + "x" * 10_000 for i in range(400)]  # 4 MB of text, 40 groups of 10
    path = tmp_path / "wide.parquet"
    pq.write_table(pa.table({"cif": texts}), path, row_group_size=10, compression="none")
    pool = pa.default_memory_pool()
    held, rows = 0, []
    for batch in row_group_batches(path, batch_rows=4):
        held = max(held, pool.bytes_allocated())
        rows += batch.column("cif").to_pylist()
        assert batch.num_rows <= 4
    assert rows == texts
    assert held < 1_000_000  # one group is 100 kB; reading ahead would hold up to 4 MB


def test_the_lean_client_restores_the_callers_pool_and_gives_memory_back():
    before = pa.default_memory_pool()
    with lean_client():
        inside = pa.default_memory_pool()
        table = pc.add(pa.array(np.arange(2_000_000)), 1)  # 16 MB made in the returning pool
        assert inside.bytes_allocated() >= table.nbytes
        del table
        give_back_memory()
        assert inside.bytes_allocated() < 1_000_000
    assert pa.default_memory_pool().backend_name == before.backend_name
    assert inside.backend_name in ("jemalloc", "system")  # never mimalloc, which keeps pages
