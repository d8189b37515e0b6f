"""The page of a table of millions of rows: a fixed random sample of `PAGE_ROWS`, read from the
Parquet file row group by row group (the page and its search hold the sample, the files every
row)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from elastic_atlas.pipeline.run import BuildResult, read_frame
from elastic_atlas.release.page import page_rows


def test_a_small_table_is_shown_whole_and_a_large_one_by_a_fixed_sample():
    assert page_rows(5, limit=10).tolist() == [0, 1, 2, 3, 4]
    assert page_rows(10, limit=10).tolist() == list(range(10))
    sample = page_rows(1_000, limit=40)
    assert len(sample) == len(set(sample.tolist())) == 40  # no row twice
    assert (np.diff(sample) > 0).all() and sample[0] >= 0 and sample[-1] < 1_000  # file order
    assert sample.tolist() == page_rows(1_000, limit=40).tolist()  # the same page every time
    assert sample.tolist() != list(range(40))  # spread over the table, not its first rows


def test_rows_at_reads_only_the_sampled_rows_of_a_written_table(tmp_path):
    path = tmp_path / "mped.parquet"
    ids = [f"mp-{i:04d}" for i in range(1_000)]
    table = pa.table({"material_id": ids, "nsites": pa.array(range(1_000), pa.int64()),
                      "k_vrh": np.linspace(1, 2, 1_000)})  # fmt: skip
    pq.write_table(table, path, row_group_size=64)  # 16 row groups
    built = BuildResult("mped", None, None, None, [], None, parquet=path)  # type: ignore[arg-type]
    positions = np.array([0, 63, 64, 500, 999])
    rows = built.rows_at(["material_id", "nsites", "not_a_column"], positions)
    whole = read_frame(path, ["material_id", "nsites"])
    assert built.rows == 1_000
    assert rows.equals(whole.iloc[positions].reset_index(drop=True))
    assert str(rows["nsites"].dtype) == "Int64"  # as a build's frame holds integers
    in_memory = BuildResult("mped", whole, None, None, [], None)  # type: ignore[arg-type]
    assert in_memory.rows_at(["material_id", "nsites"], positions).equals(rows)
    assert built.rows_at(["material_id"], np.array([], dtype=int)).empty
