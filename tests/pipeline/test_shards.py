"""The scale-out seam: shards of the sample's inputs, processed apart and merged, give exactly
the table and the accounting of one build."""

from __future__ import annotations

import pyarrow as pa

from elastic_atlas.inputs.recipe import load_recipe
from elastic_atlas.paths import repo_root
from elastic_atlas.pipeline.candidates import candidates, load_models, recipe_summary
from elastic_atlas.pipeline.crosscheck import crosscheck_of
from elastic_atlas.pipeline.model_refs import model_ref
from elastic_atlas.pipeline.records import Accounting
from elastic_atlas.pipeline.run import RunOptions, run_build
from elastic_atlas.pipeline.shards import ShardSpec, SymmetryTally, process_shard


def test_shards_merge_to_the_table_and_accounting_of_one_build():
    recipe = load_recipe(repo_root() / "build" / "sample.toml")
    whole = run_build(recipe, RunOptions(workers=0, batch_size=8, quiet=True))
    joined = Accounting()  # the join and the summary screen run once, in the driver
    raws = list(candidates(recipe, joined, recipe_summary(recipe)))
    models = load_models(recipe)
    spec = ShardSpec(
        recipe.table, model_ref(recipe.models, models), recipe.screen, 1, batch_size=8,
        crosscheck=crosscheck_of(recipe, models),
    )  # fmt: skip
    # Contiguous shards of whole inference batches (8 inputs here) form the very same batches as
    # one run, so the bits agree; any other split agrees to float32 rounding (checked below).
    shards = [process_shard(raws[i : i + 8], spec) for i in range(0, len(raws), 8)]
    assert len(shards) > 1
    book, symmetry = joined, SymmetryTally()
    for shard in shards:
        book = book.merge(Accounting(0, shard.book.accepted, shard.book.rejects))
        symmetry = symmetry.merge(shard.symmetry)
    book.inputs = joined.inputs
    book.check()
    assert book.accepted == whole.book.accepted and book.counts() == whole.book.counts()
    rows = pa.concat_tables([s.rows for s in shards]).sort_by("material_id")
    expected = pa.Table.from_pandas(whole.frame, schema=rows.schema, preserve_index=False)
    assert rows.equals(expected)
    assert sum(len(s.rows) for s in shards) == whole.book.accepted > 0
    interleaved = [process_shard(raws[i::3], spec).rows for i in range(3)]
    other = pa.concat_tables(interleaved).sort_by("material_id").to_pandas()
    assert list(other.material_id) == list(whole.frame.material_id)
    difference = (other.k_vrh / whole.frame.k_vrh - 1).abs().max()
    assert difference < 1e-5
