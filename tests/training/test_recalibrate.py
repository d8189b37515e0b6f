"""`elastic-atlas calibrate`: the shipped checkpoint's grouped calibration is what the command
makes of the committed leave-out predictions, and bad calls are refused before any work."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from elastic_atlas.cli import main
from elastic_atlas.inputs.recipe import default_checkpoint
from elastic_atlas.paths import repo_root
from elastic_atlas.training.recalibrate import ensemble_error_ratio

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
    scale = made["training"]["calibration"]["leave_out_error_scale"]
    assert scale == pytest.approx(committed["training"]["calibration"]["leave_out_error_scale"])
    assert all(0.5 < value < 1 for value in scale.values())  # five members beat one
    test = made["metrics"]["targets"]["log10_k_vrh"]["uncertainty_coverage"]["test"]
    shipped = committed["metrics"]["targets"]["log10_k_vrh"]["uncertainty_coverage"]["test"]
    assert test.keys() == shipped.keys()
    for key, value in test.items():
        assert value == pytest.approx(shipped[key]), key


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


@dataclass
class _Ensemble:
    """A stand-in checkpoint whose members are fixed predictions of the validation entries."""

    members: list[np.ndarray]

    def predict_graphs(self, graphs: list[int]) -> tuple[np.ndarray, np.ndarray]:
        stacked = np.stack([m[graphs] for m in self.members])
        return stacked.mean(axis=0), stacked.std(axis=0)


@dataclass
class _Entries:
    observed: dict[str, np.ndarray]
    split: dict[str, list[str]]
    graphs: dict[str, int]

    def predict(self, name: str, checkpoint: _Ensemble) -> tuple[np.ndarray, np.ndarray]:
        return checkpoint.predict_graphs([self.graphs[m] for m in self.split[name]])


def test_the_leave_out_errors_are_scaled_by_the_ensembles_gain_over_one_member():
    """By hand: two members err by +1 and +3 (K) on half the entries and +3 and +1 on the
    other half; their mean errs by 2 everywhere. Each member's 68th-percentile |error| is 3
    (half the |errors| are 3, so every quantile above the median is 3), the mean's 2: ratio
    2/3. For G the members agree exactly: ratio 1."""
    n = 100
    observed = np.zeros((n, 2))
    first = np.column_stack([np.where(np.arange(n) < n // 2, 1.0, 3.0), np.full(n, 0.5)])
    second = np.column_stack([np.where(np.arange(n) < n // 2, 3.0, 1.0), np.full(n, 0.5)])
    ids = [f"mb-{i}" for i in range(n)]
    entries = _Entries({"validation": observed}, {"validation": ids},
                       {m: i for i, m in enumerate(ids)})  # fmt: skip
    ratio = ensemble_error_ratio(_Ensemble([first, second]), entries)
    assert ratio == pytest.approx([2 / 3, 1.0])
    assert ensemble_error_ratio(_Ensemble([first]), entries) == pytest.approx([1.0, 1.0])


def test_the_card_says_how_sigma_holds_per_tercile_and_how_it_ranks_the_errors():
    """By hand: σ of 1, 2 and 3 on three rows each (the terciles); |errors| 0.5, 1.5, 0.5 in
    the lowest (2 of 3 within), 1, 1, 1 in the middle (all within), 4, 4, 1 in the highest
    (1 of 3). Spearman's ρ of σ with |error| (Pearson's r of their average ranks) is 23/36."""
    from elastic_atlas.training.evaluate import conditional_coverage

    sigma = np.array([1.0, 1, 1, 2, 2, 2, 3, 3, 3])
    errors = np.array([0.5, -1.5, 0.5, 1, -1, 1, 4, -4, 1])
    said = conditional_coverage(errors, sigma)
    assert said["within_1_sigma_per_tercile"] == pytest.approx([2 / 3, 1.0, 1 / 3])
    assert said["spearman_sigma_abs_error"] == pytest.approx(23 / 36)
    constant = conditional_coverage(errors, np.ones(9))  # one σ for all: nothing to rank
    assert constant["spearman_sigma_abs_error"] is None
    assert None in constant["within_1_sigma_per_tercile"]
