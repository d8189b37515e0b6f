from __future__ import annotations

import json
import pickle
import warnings
import zipfile

import numpy as np
import pandas as pd
import pytest
import torch
from checkpoint_factory import SMALL, TARGETS, make_own
from structures import diamond, rock_salt

from elastic_atlas.inputs.cif import parse_cif
from elastic_atlas.model.cgcnn import FoldedCGCNN, collate
from elastic_atlas.model.checkpoint import (
    Checkpoint,
    CheckpointError,
    build_model,
    load_state_strictly,
)
from elastic_atlas.model.features import own_feature_table
from elastic_atlas.model.graph import GraphParameters, build_graph
from elastic_atlas.model.loading import load_checkpoint


def test_own_format_round_trip_gives_identical_predictions(tmp_path):
    models = make_own(tmp_path / "m")
    graphs = [build_graph(rock_salt()), build_graph(diamond())]
    loaded = load_checkpoint(tmp_path / "m")
    assert loaded.kind == "own" and loaded.target_names == ["log10_k_vrh", "log10_g_vrh"]
    mean, spread = loaded.predict_graphs(graphs)
    in_memory = Checkpoint(models, own_feature_table(), GraphParameters(), TARGETS, "own", tmp_path)
    expected_mean, expected_spread = in_memory.predict_graphs(graphs)
    np.testing.assert_array_equal(mean, expected_mean)
    np.testing.assert_array_equal(spread, expected_spread)
    assert np.all(spread > 0)
    card = json.loads((tmp_path / "m" / "model.json").read_text())
    assert card["format_version"] == 1 and len(card["members"]) == 2
    assert card["targets"][0]["unit"] == "log10(GPa)"


def test_folded_inference_equals_the_module_forward():
    """BatchNorm folding and the fused products change nothing beyond float32 rounding."""
    torch.manual_seed(1)
    model = build_model(SMALL, GraphParameters())
    for module in model.modules():  # trained-like statistics, so the folding is not trivial
        if isinstance(module, torch.nn.BatchNorm1d):
            module.running_mean.uniform_(-1, 1)
            module.running_var.uniform_(0.5, 2)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.5, 0.5)
    model.eval()
    graphs = [build_graph(rock_salt()), build_graph(diamond()), build_graph(rock_salt())]
    batch = collate(graphs, own_feature_table().values)
    with torch.no_grad():
        expected = model(batch)
        folded = FoldedCGCNN(model)(batch)
        travelled = pickle.loads(pickle.dumps(FoldedCGCNN(model)))(batch)
    assert expected.abs().max() > 0.01
    torch.testing.assert_close(folded, expected, rtol=1e-5, atol=1e-5)
    assert torch.equal(travelled, folded)


def test_tampered_weights_are_refused(tmp_path):
    make_own(tmp_path / "m", members=1)
    weights = tmp_path / "m" / "member-0.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="sha256"):
        load_checkpoint(tmp_path / "m")


def test_unknown_format_version_is_refused(tmp_path):
    make_own(tmp_path / "m", members=1)
    card_path = tmp_path / "m" / "model.json"
    card = json.loads(card_path.read_text())
    card["format_version"] = 99
    card_path.write_text(json.dumps(card))
    with pytest.raises(CheckpointError, match="version 99"):
        load_checkpoint(tmp_path / "m")


def test_missing_checkpoint_and_missing_atom_init(tmp_path):
    with pytest.raises(CheckpointError, match="no such"):
        load_checkpoint(tmp_path / "nothing")
    reference = tmp_path / "x.pth.tar"
    reference.write_bytes(b"0")
    with pytest.raises(CheckpointError, match="--atom-init"):
        load_checkpoint(reference)


def test_strict_loading_names_missing_and_unexpected_keys():
    model = build_model(SMALL, GraphParameters())
    state = dict(model.state_dict())
    state.pop("fc_out.bias")
    state["extra.weight"] = torch.zeros(1)
    with pytest.raises(CheckpointError, match=r"missing \['fc_out.bias'\].*extra.weight"):
        load_state_strictly(model, state, "test")


@pytest.mark.shared
@pytest.mark.parametrize(("name", "column"), [("bulk", "log10_k_vrh"), ("shear", "log10_g_vrh")])
def test_reference_checkpoints_reproduce_the_reference_implementation(shared, name, column):
    folder = shared / "models" / "cgcnn_reference"
    expected = pd.read_csv(folder / "reference_predictions.csv")
    checkpoint = load_checkpoint(folder / f"{name}-moduli.pth.tar", folder / "atom_init.json")
    with (
        zipfile.ZipFile(shared / "mp2018" / "structures.zip") as archive,
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")
        graphs = [
            build_graph(parse_cif(archive.read(f"{m}.cif").decode())) for m in expected.material_id
        ]
    ours = checkpoint.predict_graphs(graphs)[0][:, 0]
    difference = np.abs(ours - expected[column].to_numpy())
    tied = np.array([g.cutoff_ties > 0 for g in graphs])
    # Every structure whose 12-neighbour cut is unambiguous agrees to 1e-4 log10 GPa.
    assert difference[~tied].max() <= 1e-4
    assert (~tied).sum() >= 115
    # Where equidistant neighbours of different elements straddle the cut, the reference kept
    # whichever its pymatgen listed first; ours follows the installed pymatgen's order. The
    # neighbour search of nine pymatgen releases (2023.7.20 to 2025.10.7) misses 3 of the 120
    # (mp-554601, mp-568968, mp-5977), that of 2026.10.24 misses 2 (mp-5977, mp-23656): none
    # reproduces the file entirely, so its exact environment is unknown.
    assert (difference > 1e-4).sum() <= 2 and difference.max() < 0.01


@pytest.mark.slow
def test_graphs_equal_the_reference_data_loader_on_the_installed_pymatgen(shared):
    """The reference CIFData: get_all_neighbors(8 Å), each list sorted by distance, first 12.

    Run live on all 120 reference structures, it gives exactly our neighbour indices and
    distances, ties included; the two structures that differ from reference_predictions.csv
    therefore differ because that file was made with another pymatgen's neighbour order.
    (Our fast CIF path may order exact ties inside the 12 differently, ~1e-16 Å apart in
    coordinates; the neighbour set, and so the prediction, is the same.)
    """
    from pymatgen.core import Structure

    folder = shared / "models" / "cgcnn_reference"
    ids = pd.read_csv(folder / "reference_predictions.csv").material_id
    with (
        zipfile.ZipFile(shared / "mp2018" / "structures.zip") as archive,
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")
        for material_id in ids:
            text = archive.read(f"{material_id}.cif").decode()
            structure = Structure.from_str(text, fmt="cif")  # as the reference reads CIFs
            neighbours = [
                sorted(n, key=lambda x: x[1])[:12]
                for n in structure.get_all_neighbors(8.0, include_index=True)
            ]
            graph = build_graph(structure)  # the same Structure object: only the graph differs
            np.testing.assert_array_equal(
                graph.neighbor_index, [[x[2] for x in n] for n in neighbours], err_msg=material_id
            )
            np.testing.assert_array_equal(
                graph.neighbor_distance,
                np.array([[x[1] for x in n] for n in neighbours], dtype=np.float32),
                err_msg=material_id,
            )
