"""`elastic-atlas calibrate`: the shipped checkpoint's grouped calibration is what the command
makes of the committed leave-out predictions, and bad calls are refused before any work."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from elastic_atlas.cli import main
from elastic_atlas.inputs.recipe import default_checkpoint
from elastic_atlas.paths import repo_root

LEAVE_OUT = repo_root() / "benchmarks" / "results" / "loco_heldout.csv"


def base_of(shipped: Path, folder: Path) -> Path:
    """The shipped checkpoint as it was before re-calibration: its base calibration only."""
    shutil.copytree(shipped, folder)
    card = json.loads((folder / "model.json").read_text())
    for target in card["targets"]:
        target["calibration"].pop("groups")
    (folder / "model.json").write_text(json.dumps(card))
    return folder


@pytest.mark.slow
def test_calibrate_reproduces_the_shipped_calibration(shared, tmp_path):
    shipped = default_checkpoint()
    base = base_of(shipped, tmp_path / "base")
    out = tmp_path / "again"
    result = CliRunner().invoke(
        main, ["calibrate", str(base), "--leave-out", str(LEAVE_OUT), "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    made = json.loads((out / "model.json").read_text())
    committed = json.loads((shipped / "model.json").read_text())
    for mine, theirs in zip(made["targets"], committed["targets"], strict=True):
        groups, expected = mine["calibration"]["groups"], theirs["calibration"]["groups"]
        assert groups["multipliers"] == pytest.approx(expected["multipliers"], rel=1e-6)
        assert groups["coverage_factors"] == pytest.approx(expected["coverage_factors"], rel=1e-6)
    test = made["metrics"]["targets"]["log10_k_vrh"]["uncertainty_coverage"]["test"]
    assert test == pytest.approx(
        committed["metrics"]["targets"]["log10_k_vrh"]["uncertainty_coverage"]["test"]
    )


def test_calibrate_refuses_an_existing_output(tmp_path):
    (tmp_path / "taken").mkdir()
    result = CliRunner().invoke(main, ["calibrate", str(default_checkpoint()), "--leave-out",
                                       str(LEAVE_OUT), "-o", str(tmp_path / "taken")])  # fmt: skip
    assert result.exit_code == 2 and "exists" in result.output
    assert "Traceback" not in result.output


@pytest.mark.slow
def test_calibrate_refuses_leave_out_predictions_that_miss_entries(shared, tmp_path):
    partial = tmp_path / "partial.csv"
    pd.read_csv(LEAVE_OUT).iloc[:100].to_csv(partial, index=False)
    base = base_of(default_checkpoint(), tmp_path / "base")
    result = CliRunner().invoke(
        main, ["calibrate", str(base), "--leave-out", str(partial), "-o", str(tmp_path / "o")]
    )
    assert result.exit_code == 2 and "no leave-out prediction" in result.output
    assert not (tmp_path / "o").exists()
