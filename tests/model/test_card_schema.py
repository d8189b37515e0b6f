"""model.json is a contract: every key checked before a weight is read, one line naming it."""

from __future__ import annotations

import json

import pytest
from checkpoint_factory import make_own
from click.testing import CliRunner

from elastic_atlas.cli import main
from elastic_atlas.model.checkpoint import CheckpointError
from elastic_atlas.model.loading import load_checkpoint
from elastic_atlas.paths import repo_root

CIF = repo_root() / "build" / "sample" / "structures" / "mp-149.cif"


def edit(card: dict, change: str) -> None:
    if change == "unknown key":
        card["colour"] = "red"
    elif change == "missing architecture":
        del card["architecture"]
    elif change == "members not a list":
        card["members"] = "member-0.safetensors"
    elif change == "string width":
        card["architecture"]["atom_fea_len"] = "16"
    elif change == "unit GPa":
        card["targets"][0]["unit"] = "GPa"
    elif change == "zero std":
        card["targets"][1]["std"] = 0.0
    elif change == "unknown target":
        card["targets"][0]["name"] = "log10_e_vrh"
    elif change == "swapped targets":
        card["targets"][0]["name"], card["targets"][1]["name"] = "log10_g_vrh", "log10_k_vrh"
    elif change == "training ids outside":
        card["training"]["ids"] = {"file": "../../etc/hostname"}
    elif change == "member outside":
        card["members"][0]["file"] = "../member-0.safetensors"
    elif change.startswith("groups"):
        groups = {"edges": [0.05], "soft_bulk_modulus": 32.0, "multipliers": [1.0, 2.0, 1.5, 3.0],
                  "coverage_factors": [3.0, 2.5, 2.8, 2.2], "leave_out_weight": 0.35}  # fmt: skip
        if change == "groups of the wrong count":
            groups["multipliers"] = [1.0]
        elif change == "groups with a negative multiplier":
            groups["multipliers"][2] = -1.5
        elif change == "groups with a weight above 1":
            groups["leave_out_weight"] = 1.5
        card["targets"][0]["calibration"] = {"a": 0.03, "b": 1.0, "k95": 3.0, "groups": groups}


CASES = {
    "unknown key": "colour",
    "missing architecture": "architecture: Field required",
    "members not a list": "members",
    "string width": "architecture.atom_fea_len",
    "unit GPa": "targets.0.unit",
    "zero std": "targets.1.std",
    "unknown target": "targets.0.name",
    "swapped targets": "targets swapped",
    "training ids outside": "not a plain file name",
    "member outside": "members.0.file",
    "groups of the wrong count": "4 groups need 4 multipliers",
    "groups with a negative multiplier": "must be positive",
    "groups with a weight above 1": "leave_out_weight",
}


@pytest.mark.parametrize(("change", "named"), CASES.items())
def test_a_bad_model_card_is_refused_naming_the_key(tmp_path, change, named):
    make_own(tmp_path / "model")
    card_path = tmp_path / "model" / "model.json"
    card = json.loads(card_path.read_text())
    edit(card, change)
    card_path.write_text(json.dumps(card))
    with pytest.raises(CheckpointError, match=r"model\.json") as caught:
        load_checkpoint(tmp_path / "model")
    assert named in str(caught.value)
    result = CliRunner().invoke(
        main,
        ["predict", "--checkpoint", str(tmp_path / "model"), str(CIF), "-o",
         str(tmp_path / "p.csv"), "--workers", "0", "--quiet"],
    )  # fmt: skip
    assert result.exit_code == 2 and named in result.output
    assert "Traceback" not in result.output and not (tmp_path / "p.csv").exists()


def test_the_committed_checkpoint_passes_its_contract():
    from elastic_atlas.inputs.recipe import default_checkpoint
    from elastic_atlas.model.card_schema import validated_card

    card = json.loads((default_checkpoint() / "model.json").read_text())
    assert validated_card(card, "model.json").targets[0].name == "log10_k_vrh"
