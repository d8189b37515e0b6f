"""Batches are fixed windows of inputs: where a stream is cut (a shard) or which inputs fail
does not change which inputs share an inference batch, so it cannot change their bits."""

from __future__ import annotations

from elastic_atlas.inputs.recipe import load_recipe
from elastic_atlas.paths import repo_root
from elastic_atlas.pipeline.candidates import candidates, load_models, recipe_summary
from elastic_atlas.pipeline.records import Accounting


def test_device_batches_are_windows_of_inputs_not_counts_of_graphs(monkeypatch):
    """On the accelerator path (forced here on the CPU) a batch is the graphs of a fixed window
    of inputs, so inputs that never became graphs do not shift the later batches, and a stream
    that starts at a window boundary gives its inputs the very bits of the whole stream."""
    import elastic_atlas.pipeline.predict as predict
    from elastic_atlas.contract.reasons import Reason
    from elastic_atlas.inputs.sources import RawStructure
    from elastic_atlas.pipeline.records import Predicted

    recipe = load_recipe(repo_root() / "build" / "sample.toml")
    raws = list(candidates(recipe, Accounting(), recipe_summary(recipe)))[:16]
    broken = [RawStructure(f"bad-{i}", None, "test", Reason.UNREADABLE_FILE, "x") for i in range(3)]
    stream = broken + raws  # window 1: 3 unreadable + 5 structures; then windows of 8
    models = load_models(recipe)
    batches: list[list[str]] = []
    original = predict.predict_results

    def spy(items, inference):
        batches.append([i.material_id for i in items if isinstance(i, predict.GraphResult)])
        return original(items, inference)

    monkeypatch.setattr(predict, "predict_results", spy)

    def rows(inputs: list) -> dict[str, dict]:
        records = predict.predict_stream(inputs, models, workers=0, batch_size=8,
                                         inference_in_workers=False)  # fmt: skip
        return {r.material_id: r.values for r in records if isinstance(r, Predicted)}

    whole = rows(stream)
    ids = [r.material_id for r in raws]
    assert batches == [ids[:5], ids[5:13], ids[13:]]
    tail = rows(stream[8:])
    assert tail and all(whole[m] == values for m, values in tail.items())
