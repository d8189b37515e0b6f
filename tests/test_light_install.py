"""The core install: reading, looking up and validating a release need none of the extras.

A subprocess makes torch, the MP client, scikit-learn, xgboost, matplotlib, mlcroissant and
pybtex unimportable (as in a venv with only `pip install elastic-atlas`), then uses the API
and the CLI. (benchmarks/bench_install.py measures the real core and full installs.)
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

EXTRAS_ONLY = ("torch", "safetensors", "requests", "urllib3", "sklearn", "xgboost",
               "matplotlib", "mlcroissant", "pybtex")  # fmt: skip
BLOCK = f"import sys\nfor name in {EXTRAS_ONLY!r}:\n    sys.modules[name] = None\n"


def run_without_extras(code: str, cwd) -> subprocess.CompletedProcess:
    script = BLOCK + textwrap.dedent(code)
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=cwd, check=False)  # fmt: skip


@pytest.mark.slow
def test_the_api_and_validate_work_without_the_extras(released, tmp_path):
    release = released / "releases" / "0.1.0+sample"
    done = run_without_extras(
        f"""
        import elastic_atlas as ea
        release = {str(release)!r}
        frame = ea.load("mped", release=release)
        row = ea.lookup("mped", release=release, formula="GaAs")
        crystal = ea.structures("mped", list(row.material_id), release=release)
        findings = ea.validate(release)
        assert not [f for f in findings if f.severity == "error"], findings
        formula = next(iter(crystal.values())).composition.reduced_formula
        print(len(frame), row.formula.item(), formula)
        for name in {EXTRAS_ONLY!r}:
            assert sys.modules.get(name) is None, name
        """,
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[1:] == ["GaAs", "GaAs"]
    cli = run_without_extras(
        f"""
        from elastic_atlas.cli import main
        sys.argv = ["elastic-atlas", "validate", {str(release)!r}]
        main()
        """,
        tmp_path,
    )
    assert cli.returncode == 0 and "VALID" in cli.stdout, cli.stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    ("command", "extra"),
    [(["predict", "x.cif", "-o", "p.csv"], "build"), (["release"], "build"),
     (["baselines"], "build")],
)  # fmt: skip
def test_a_command_that_needs_an_extra_names_it(tmp_path, command, extra):
    (tmp_path / "x.cif").write_text("data_x\n")
    done = run_without_extras(
        f"""
        from elastic_atlas.cli import main
        sys.argv = ["elastic-atlas", *{command!r}]
        main()
        """,
        tmp_path,
    )
    assert done.returncode == 2, done.stderr
    assert f"pip install 'elastic-atlas[{extra}]'" in done.stderr
    assert "Traceback" not in done.stderr
