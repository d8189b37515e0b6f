from __future__ import annotations

import zipfile

import numpy as np
import pandas as pd
import pytest
from checkpoint_factory import make_own
from click.testing import CliRunner
from structures import BAD_CIFS, cif_text, diamond, rock_salt

from elastic_atlas.cli import main
from elastic_atlas.contract.reasons import Rejected
from elastic_atlas.inputs.sources import RawStructure, SourceError, iter_cif_source
from elastic_atlas.model.checkpoint import EnsembleInference
from elastic_atlas.model.loading import load_checkpoint
from elastic_atlas.pipeline.predict import predict_stream
from elastic_atlas.pipeline.records import Predicted

GOOD = {"mp-1": rock_salt(), "mp-2": diamond(), "mp-3": rock_salt(6.0)}


def write_folder(folder):
    folder.mkdir()
    for name, structure in GOOD.items():
        (folder / f"{name}.cif").write_text(cif_text(structure))
    for name, (text, _) in BAD_CIFS.items():
        (folder / f"{name}.cif").write_text(text)
    (folder / "binary.cif").write_bytes(b"\xff\xfe\x00bad")
    (folder / "notes.txt").write_text("not a structure")
    return folder


def expected_reasons():
    return {**{n: r for n, (_, r) in BAD_CIFS.items()}, "binary": "unreadable_file"}


@pytest.mark.parametrize("layout", ["folder", "zip"])
def test_predict_cli_accounts_for_every_input(tmp_path, layout):
    make_own(tmp_path / "model")
    source = write_folder(tmp_path / "cifs")
    if layout == "zip":
        archive = tmp_path / "cifs.zip"
        with zipfile.ZipFile(archive, "w") as z:
            for path in sorted(source.glob("*.cif")):
                z.write(path, path.name)
        source = archive
    out = tmp_path / "out" / "pred.csv"
    result = CliRunner().invoke(
        main,
        [
            "predict",
            "--checkpoint",
            str(tmp_path / "model"),
            str(source),
            "-o",
            str(out),
            "--quiet",
            "--workers",
            "2",
        ],
    )
    assert result.exit_code == 0, result.output
    predicted = pd.read_csv(out)
    rejected = pd.read_csv(out.with_name("pred.rejects.csv"))
    assert list(predicted.columns) == [
        "material_id",
        "log10_k_vrh",
        "log10_g_vrh",
        "log10_k_vrh_spread",
        "log10_g_vrh_spread",
        "log10_k_vrh_uncertainty",
        "log10_g_vrh_uncertainty",
        "log10_k_vrh_expanded_uncertainty",
        "log10_g_vrh_expanded_uncertainty",
    ]
    assert sorted(predicted.material_id) == sorted(GOOD)
    expected = expected_reasons()
    if layout == "folder":  # a file that is not a CIF is an input too, counted with its reason
        expected["notes.txt"] = "skipped_file"
    assert dict(zip(rejected.material_id, rejected.reason, strict=True)) == expected
    assert list(rejected.columns) == ["material_id", "source", "stage", "reason", "detail"]
    assert rejected.detail.notna().all()
    n_inputs = len(GOOD) + len(expected)
    assert f"{n_inputs} inputs = 3 predicted + {n_inputs - 3} rejected" in result.output


def test_single_cif_and_gnome_style_names(tmp_path):
    make_own(tmp_path / "model")
    path = tmp_path / "0a1b2c3d4e.CIF"
    path.write_text(cif_text(rock_salt()))
    out = tmp_path / "one.csv"
    result = CliRunner().invoke(
        main,
        [
            "predict",
            "--checkpoint",
            str(tmp_path / "model"),
            str(path),
            "-o",
            str(out),
            "--quiet",
            "--workers",
            "0",
        ],
    )
    assert result.exit_code == 0, result.output
    assert pd.read_csv(out).material_id.tolist() == ["0a1b2c3d4e"]


def test_worker_processes_and_in_process_agree(tmp_path):
    make_own(tmp_path / "model")
    checkpoint = load_checkpoint(tmp_path / "model")
    source = write_folder(tmp_path / "cifs")

    def run(workers):
        return [
            (r.material_id, getattr(r, "values", None), getattr(r, "reason", None))
            for r in predict_stream(
                iter_cif_source(source), [checkpoint], workers=workers, batch_size=2
            )
        ]

    assert run(0) == run(2)


def test_inference_in_the_main_process_gives_the_same_records(tmp_path):
    """The accelerator layout (workers build graphs, this process predicts), run on CPU."""
    make_own(tmp_path / "model")
    checkpoint = load_checkpoint(tmp_path / "model")
    source = write_folder(tmp_path / "cifs")

    def run(in_workers):
        records = predict_stream(
            iter_cif_source(source),
            [checkpoint],
            workers=2,
            batch_size=2,
            inference_in_workers=in_workers,
        )
        return [
            (r.material_id, r.source, getattr(r, "reason", None), getattr(r, "values", None))
            for r in records
        ]

    in_workers, in_main = run(True), run(False)
    assert [r[:3] for r in in_workers] == [r[:3] for r in in_main]  # same order, same verdicts
    for a, b in zip(in_workers, in_main, strict=True):
        if a[3] is not None:
            assert a[3] == pytest.approx(b[3], abs=1e-6)  # batches differ, values do not


def test_element_without_features_is_rejected(tmp_path):
    make_own(tmp_path / "model")
    checkpoint = load_checkpoint(tmp_path / "model")
    checkpoint.features.known[11] = False  # pretend the table has no sodium
    raws = [
        RawStructure("nacl", cif_text(rock_salt()), "test"),
        RawStructure("c", cif_text(diamond()), "test"),
    ]
    records = list(predict_stream(raws, [checkpoint], workers=0))
    assert isinstance(records[0], Rejected) and records[0].reason == "element_not_featurized"
    assert "Na" in records[0].detail
    assert isinstance(records[1], Predicted)


@pytest.mark.parametrize(
    ("failure", "reason"), [("raise", "inference_error"), ("nan", "non_finite_prediction")]
)
def test_a_graph_the_model_fails_on_is_rejected_and_the_batch_goes_on(
    tmp_path, monkeypatch, failure, reason
):
    make_own(tmp_path / "model")
    checkpoint = load_checkpoint(tmp_path / "model")
    real = EnsembleInference.predict_graphs

    def fragile(self, graphs):  # fails on any batch holding carbon
        mean, spread = real(self, graphs)
        carbon = [bool((g.atomic_numbers == 6).any()) for g in graphs]
        if any(carbon) and failure == "raise":
            raise RuntimeError("simulated kernel failure")
        mean[carbon] = np.nan
        return mean, spread

    monkeypatch.setattr(EnsembleInference, "predict_graphs", fragile)
    raws = [
        RawStructure("nacl", cif_text(rock_salt()), "test"),
        RawStructure("c", cif_text(diamond()), "test"),
        RawStructure("nacl-2", cif_text(rock_salt(6.0)), "test"),
    ]
    records = list(predict_stream(raws, [checkpoint], workers=0))
    assert [type(r).__name__ for r in records] == ["Predicted", "Rejected", "Predicted"]
    assert records[1].stage == "inference" and records[1].reason == reason
    assert records[1].detail


def test_broken_sources_raise_a_clear_error(tmp_path):
    truncated = tmp_path / "cut.zip"
    with zipfile.ZipFile(tmp_path / "whole.zip", "w") as z:
        z.writestr("mp-1.cif", cif_text(rock_salt()))
    truncated.write_bytes((tmp_path / "whole.zip").read_bytes()[:40])
    with pytest.raises(SourceError, match="zip"):
        iter_cif_source(truncated)
    with pytest.raises(SourceError, match="no such"):
        iter_cif_source(tmp_path / "missing")
    result = CliRunner().invoke(
        main,
        ["predict", "--checkpoint", str(tmp_path), str(truncated), "-o", str(tmp_path / "x.csv")],
    )
    assert result.exit_code == 2


def test_predict_gives_each_row_its_groups_95_percent_half_width(tmp_path):
    """With the shipped (grouped) checkpoint, u and k·u of every row are what the model card's
    calibration gives for the row's spread and predicted B."""
    import json

    import numpy as np

    from elastic_atlas.inputs.recipe import default_checkpoint
    from elastic_atlas.model.calibration import Calibration
    from elastic_atlas.paths import repo_root

    out = tmp_path / "pred.csv"
    source = repo_root() / "build" / "sample" / "structures"
    args = ["predict", "--checkpoint", str(default_checkpoint()), str(source), "-o", str(out)]
    result = CliRunner().invoke(main, [*args, "--quiet", "--workers", "0"])
    assert result.exit_code == 0, result.output
    rows = pd.read_csv(out)
    card = json.loads((default_checkpoint() / "model.json").read_text())
    bulk = 10.0 ** rows["log10_k_vrh"].to_numpy()
    factors = set()
    for target in card["targets"]:
        calibration, name = Calibration.from_dict(target["calibration"]), target["name"]
        spread = rows[f"{name}_spread"].to_numpy()
        assert rows[f"{name}_uncertainty"].to_numpy() == pytest.approx(
            calibration.sigma(spread, bulk), rel=1e-6
        )
        half = rows[f"{name}_expanded_uncertainty"].to_numpy()
        assert half == pytest.approx(calibration.expanded(spread, bulk), rel=1e-6)
        factors |= set(np.round(half / rows[f"{name}_uncertainty"].to_numpy(), 6))
    assert len(factors) > 1  # grouped: not one factor for every row


def test_a_worker_of_the_local_pool_that_dies_stops_the_run_instead_of_hanging(tmp_path):
    """A crash in a native library kills the process, not the input: the pool must not wait
    for the dead worker's chunk forever (multiprocessing.Pool did)."""
    from poison import kill_on_poison

    from elastic_atlas.errors import EngineError
    from elastic_atlas.inputs.sources import RawStructure
    from elastic_atlas.model.loading import load_checkpoint
    from elastic_atlas.pipeline.predict import predict_stream

    make_own(tmp_path / "model", members=1)
    text = cif_text(rock_salt())
    ids = [f"mp-{i}" for i in range(40)] + ["poison-1"]
    raws = [RawStructure(i, text, "t", metadata={"material_id": i}) for i in ids]
    checkpoint = load_checkpoint(tmp_path / "model")
    with pytest.raises(EngineError, match="a worker process died"):
        list(predict_stream(raws, [checkpoint], workers=2, batch_size=8, screen=kill_on_poison))
