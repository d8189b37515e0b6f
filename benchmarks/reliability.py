"""Replay the hostile-input corpus against build, predict, validate and release.

Every case runs the real command in this process (click's runner) and is judged on what a
careful user needs; the script prints one line per category and the totals:

- crashes: an uncaught exception (a traceback) or an exit status outside 0/1/2;
- silent drops: a build or prediction whose inputs do not all reappear as a row or a reject;
- wrong verdicts: a hostile input that ends in an unexpected status (e.g. VALID, or exit 0);
- files read outside the package: files `validate` opened outside the package folder (beyond
  Python, its libraries and the project's own schema files), seen through an audit hook;
- code executed: files written by the malicious checkpoints' payloads.

The corpus is generated small and fresh each run (tests/hostile.py, tests/structures.py), the
same inputs the tests assert on. Usage:
    python benchmarks/reliability.py [--quiet] [--json benchmarks/results/reliability.json]
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import pandas as pd  # noqa: E402
from checkpoint_factory import make_own  # noqa: E402
from click.testing import CliRunner  # noqa: E402
from common import machine, today  # noqa: E402
from fake_mp import FakeMP, page  # noqa: E402
from hostile import (  # noqa: E402
    bad_crc_zip,
    encrypted_zip,
    malicious_checkpoint,
    rehash,
    stored_zip,
    unsupported_compression_zip,
    zip_bomb,
)
from structures import BAD_CIFS, cif_text, diamond, hydrogen_grid, p1_cif, rock_salt  # noqa: E402

from elastic_atlas.cli import main  # noqa: E402

OPENED: list[str] = []
TRACKING = False


def audit(event: str, args: tuple) -> None:
    if TRACKING and event == "open" and isinstance(args[0], str | bytes | os.PathLike):
        OPENED.append(os.fsdecode(args[0]))


@dataclass
class Outcome:
    category: str
    name: str
    crashed: bool = False
    dropped: int = 0
    wrong: bool = False
    outside: int = 0
    detail: str = ""


def run(*args: object, env: dict | None = None):
    return CliRunner().invoke(main, [str(a) for a in args], env=env)


def crashed(result) -> bool:
    return (result.exception is not None and not isinstance(result.exception, SystemExit)) or (
        result.exit_code not in (0, 1, 2)
    )


# ------------------------------------------------------------------ the corpus
def hostile_cifs() -> dict[str, str | bytes]:
    """One CIF per hostile structure: the tests' bad CIFs plus more malformed cells and text."""
    nacl = cif_text(rock_salt())
    cifs: dict[str, str | bytes] = {name: text for name, (text, _) in BAD_CIFS.items()}
    cifs |= {
        "upper-symbols": nacl.replace(" Na ", " NA ").replace(" Cl ", " CL "),
        "lower-symbols": nacl.replace(" Na ", " na ").replace(" Cl ", " cl "),
        "budget": hydrogen_grid(),
        "binary": os.urandom(2000),
        "bom-crlf": "\ufeff" + nacl.replace("\n", "\r\n"),
        "nan-cell": nacl.replace("_cell_length_a", "_cell_length_a nan\n_x", 1),
        "huge-cell": p1_cif(1e300, [("Na", 0, 0, 0, 1), ("Cl", 0.5, 0.5, 0.5, 1)]),
        "negative-cell": p1_cif(-5.0, [("Na", 0, 0, 0, 1), ("Cl", 0.5, 0.5, 0.5, 1)]),
        "nan-coordinate": p1_cif(5.0, [("Na", "nan", 0, 0, 1), ("Cl", 0.5, 0.5, 0.5, 1)]),
        "unknown-coordinate": p1_cif(5.0, [("Na", "?", 0, 0, 1), ("Cl", 0.5, 0.5, 0.5, 1)]),
        "huge-coordinate": p1_cif(5.0, [("Na", 1e20, 0, 0, 1), ("Cl", 0.5, 0.5, 0.5, 1)]),
        "occupancy-2": p1_cif(5.0, [("Na", 0, 0, 0, 2), ("Cl", 0.5, 0.5, 0.5, 1)]),
        "occupancy-negative": p1_cif(5.0, [("Na", 0, 0, 0, -1), ("Cl", 0.5, 0.5, 0.5, 1)]),
        "occupancy-text": p1_cif(5.0, [("Na", 0, 0, 0, "x"), ("Cl", 0.5, 0.5, 0.5, 1)]),
        "many-on-one-site": p1_cif(5.0, [("Na", 0, 0, 0, 1)] * 50),
        "no-atoms": nacl.split("loop_\n _atom_site_type_symbol")[0],
        "no-data-block": "# just a comment\n",
        "two-blocks": nacl + "\n" + cif_text(diamond()).replace("data_", "data_second"),
        "flat-angles": nacl.replace("_cell_angle_alpha   90.0", "_cell_angle_alpha   179.99"),
        "symops-shifted": nacl.replace("'x, y, z'", "'x, y, z+1/2'"),
        "hydrogen-only-close": p1_cif(5.0, [("H", 0, 0, 0, 1), ("H", 0.02, 0, 0, 1)]),
        "radioactive": p1_cif(5.0, [("Po", 0, 0, 0, 1), ("O", 0.5, 0.5, 0.5, 1)]),
        "deuterium": p1_cif(5.0, [("D", 0, 0, 0, 1), ("Cl", 0.5, 0.5, 0.5, 1)]),
        "noble-gas": p1_cif(5.0, [("Xe", 0, 0, 0, 1), ("F", 0.5, 0.5, 0.5, 1)]),
        "long-symbol": p1_cif(5.0, [("Nax", 0, 0, 0, 1), ("Cl", 0.5, 0.5, 0.5, 1)]),
        "semicolon-text": "data_x\n_cell_length_a\n;\n5.0\n;\n",
        "deep-nesting": "data_x\n" + "loop_\n_a\n" * 2000,
    }
    return cifs


# Hostile in form, sound in substance: these must become rows, read as pymatgen reads them.
VALID_ROWS = {
    "good-1",
    "good-2",
    "upper-symbols",
    "lower-symbols",
    "bom-crlf",
    "deuterium",
    "noble-gas",
}  # "long-symbol" (Nax) is refused since issue 19: pymatgen would read it as Na, a guess


def recipe(folder: Path, structures: str, *, extra: str = "", policy: str = "include") -> Path:
    path = folder / "recipe.toml"
    path.write_text(
        f'table = "mped"\n[[structures]]\npath = "{structures}"\nsource = "s"\n'
        f'licence = "CC-BY-4.0"\n{extra}[screen]\ngap_policy = "{policy}"\n'
        '[models]\nbulk = "model"\nshear = "model"\n'
    )
    return path


def build_cases(work: Path, model: Path) -> list[Outcome]:
    """All hostile CIFs in one folder with two good ones: every one must be accounted for."""
    out = []
    folder = work / "cif-corpus"
    (folder / "cifs").mkdir(parents=True)
    (folder / "model").symlink_to(model)
    files = {"good-1": cif_text(rock_salt()), "good-2": cif_text(diamond()), **hostile_cifs()}
    for name, text in files.items():
        path = folder / "cifs" / f"{name}.cif"
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
    result = run("build", recipe(folder, "cifs"), "-o", folder / "out", "--quiet", "--workers", 0)
    if crashed(result) or result.exit_code != 0:
        return [Outcome("structures", n, crashed=crashed(result), wrong=True) for n in files]
    table = pd.read_csv(folder / "out" / "mped.csv")
    rejects = pd.read_csv(folder / "out" / "rejects.csv")
    seen = Counter(list(table.material_id) + list(rejects.material_id))
    for name in files:
        if name in VALID_ROWS and name not in set(table.material_id):
            out.append(Outcome("structures", name, wrong=True, detail="a sound CIF was refused"))
            continue
        accepted_bad = name in set(table.material_id) and name not in VALID_ROWS
        reason = dict(zip(rejects.material_id, rejects.reason, strict=False)).get(name, "row")
        out.append(
            Outcome(
                "structures", name, dropped=int(seen[name] != 1), wrong=accepted_bad, detail=reason
            )
        )
    return out


def source_cases(work: Path, model: Path) -> list[Outcome]:
    nacl = cif_text(rock_salt())
    makers: dict[str, Callable[[Path], Path]] = {
        "missing-path": lambda d: d / "missing.zip",
        "truncated-zip": lambda d: _cut(d),
        "bad-crc": lambda d: bad_crc_zip(d / "a.zip", nacl),
        "unsupported-compression": lambda d: unsupported_compression_zip(d / "a.zip", nacl),
        "encrypted-entry": lambda d: encrypted_zip(d / "a.zip", nacl),
        "zip-without-cifs": lambda d: stored_zip(d / "a.zip", {"x.txt": "x"}),
        "empty-folder": lambda d: _mkdir(d / "empty"),
        "not-a-zip": lambda d: _write(d / "a.zip", b"PK not really"),
    }
    out = []
    for name, make in makers.items():
        folder = work / f"source-{name}"
        folder.mkdir()
        (folder / "model").symlink_to(model)
        source = make(folder)
        result = run("build", recipe(folder, source.name), "-o", folder / "out", "--quiet")
        out.append(Outcome("sources", name, crashed(result), wrong=result.exit_code != 2))
    folder = work / "source-bomb"
    folder.mkdir()
    (folder / "model").symlink_to(model)
    bomb = zip_bomb(folder / "bomb.zip")
    result = run("build", recipe(folder, bomb.name), "-o", folder / "out", "--quiet")
    ok = result.exit_code == 0 and "file_too_large" in (folder / "out" / "rejects.csv").read_text()
    out.append(Outcome("sources", "zip-bomb", crashed(result), wrong=not ok))
    return out


def _cut(folder: Path) -> Path:
    whole = stored_zip(folder / "whole.bin", {"mp-1.cif": cif_text(rock_salt())})
    return _write(folder / "cut.zip", whole.read_bytes()[:60])


def _mkdir(path: Path) -> Path:
    path.mkdir()
    return path


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


SUMMARIES = {
    "no-band-gap-column": "material_id,formula\nmp-1,NaCl\n",
    "comma-decimal": 'material_id,band_gap\nmp-1,"1,5"\n',
    "text-gap": "material_id,band_gap\nmp-1,large\n",
    "negative-gap": "material_id,band_gap\nmp-1,-1\n",
    "infinite-gap": "material_id,band_gap\nmp-1,inf\n",
    "empty-crystal-system": "material_id,band_gap,crystal_system\nmp-1,1.0,\n",
    "unknown-crystal-system": "material_id,band_gap,crystal_system\nmp-1,1.0,cubicc\n",
    "space-group-symbol": "material_id,band_gap,spacegroup_number\nmp-1,1.0,Fm-3m\n",
    "space-group-fraction": "material_id,band_gap,spacegroup_number\nmp-1,1.0,225.5\n",
    "space-group-out-of-range": "material_id,band_gap,spacegroup_number\nmp-1,1.0,231\n",
    "duplicate-ids": "material_id,band_gap\nmp-1,1.0\nmp-1,2.0\n",
    "empty-id": "material_id,band_gap\n,1.0\n",
    "no-id-column": "id,band_gap\nmp-1,1.0\n",
    "binary": "\x00\x01\x02garbage",
    "empty-file": "",
}


def summary_cases(work: Path, model: Path) -> list[Outcome]:
    out = []
    for name, text in SUMMARIES.items():
        folder = work / f"summary-{name}"
        (folder / "cifs").mkdir(parents=True)
        (folder / "model").symlink_to(model)
        (folder / "cifs" / "mp-1.cif").write_text(cif_text(rock_salt()))
        (folder / "summary.csv").write_text(text)
        extra = '[summary]\npath = "summary.csv"\nlayout = "mp"\n'
        if name == "no-id-column":
            extra = extra.replace('layout = "mp"\n', "")
        path = recipe(folder, "cifs", extra=extra, policy="exclude")
        result = run("build", path, "-o", folder / "out", "--quiet", "--workers", 0)
        out.append(Outcome("summaries", name, crashed(result), wrong=result.exit_code != 2))
    return out


def recipe_cases(work: Path, model: Path) -> list[Outcome]:
    sentinel = work / "pwned-recipe"
    evil = malicious_checkpoint(work / "evil.pth.tar", sentinel)
    (work / "atom_init.json").write_text(json.dumps({"1": [0.0]}))
    tampered = work / "tampered-model"
    shutil.copytree(model, tampered)
    member = next(tampered.glob("member-*.safetensors"))
    member.write_bytes(member.read_bytes()[:-8] + b"\x00" * 8)
    edits: dict[str, Callable[[str], str]] = {
        "unknown-key": lambda t: t.replace('gap_policy = "include"', "band_gap_mx = 1.0"),
        "misspelt-section": lambda t: t.replace("[models]", "[model]"),
        "wrong-type": lambda t: t.replace('gap_policy = "include"', "gap_policy = 3"),
        "toml-syntax": lambda t: t + "\n[[[",
        "missing-model": lambda t: t.replace('bulk = "model"', 'bulk = "nowhere"'),
        "model-is-a-cif": lambda t: t.replace('bulk = "model"', 'bulk = "cifs/mp-1.cif"'),
        "tampered-weights": lambda t: t.replace('bulk = "model"', f'bulk = "{tampered}"'),
        "malicious-reference": lambda t: (
            t.replace('bulk = "model"', f'bulk = "{evil}"')
            + f'atom_init = "{work / "atom_init.json"}"\n'
        ),
        "unknown-licence": lambda t: t.replace("CC-BY-4.0", "GPL-3.0"),
        "unknown-table": lambda t: t.replace('table = "mped"', 'table = "other"'),
        "bulk-without-shear": lambda t: t.replace('shear = "model"\n', ""),
        "checkpoint-and-pair": lambda t: t + 'checkpoint = "model"\n',
        "dft-missing": lambda t: t + '[dft]\npath = "nowhere.csv"\nsource = "d"\n',
        "dft-no-g-column": lambda t: t + '[dft]\npath = "dft-no-g.csv"\nsource = "d"\n',
        "dft-repeated-id": lambda t: t + '[dft]\npath = "dft-twice.csv"\nsource = "d"\n',
        "dft-binary": lambda t: t + '[dft]\npath = "dft-binary.csv"\nsource = "d"\n',
        "dft-unknown-key": lambda t: t + '[dft]\npath = "dft-twice.csv"\nsorce = "d"\n',
    }
    out = []
    for name, edit in edits.items():
        folder = work / f"recipe-{name}"
        (folder / "cifs").mkdir(parents=True)
        (folder / "model").symlink_to(model)
        (folder / "cifs" / "mp-1.cif").write_text(cif_text(rock_salt()))
        (folder / "dft-no-g.csv").write_text("material_id,k_vrh\nmp-1,24.0\n")
        (folder / "dft-twice.csv").write_text("material_id,k_vrh,g_vrh\nmp-1,24,14\nmp-1,25,15\n")
        (folder / "dft-binary.csv").write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe" * 64)
        path = recipe(folder, "cifs")
        path.write_text(edit(path.read_text()))
        result = run("build", path, "-o", folder / "out", "--quiet", "--workers", 0)
        out.append(Outcome("recipes", name, crashed(result), wrong=result.exit_code != 2))
    return out


def predict_cases(work: Path, model: Path) -> list[Outcome]:
    folder = work / "predict"
    folder.mkdir()
    source = folder / "one.cif"
    source.write_text(cif_text(rock_salt()))
    sentinel = work / "pwned-predict"
    evil = malicious_checkpoint(folder / "evil.pth.tar", sentinel)
    (folder / "atom_init.json").write_text(json.dumps({"1": [0.0]}))
    cases = {
        "output-is-input": ["--checkpoint", model, source, "-o", source],
        "output-is-folder": ["--checkpoint", model, source, "-o", folder],
        "malicious-checkpoint": [
            "--checkpoint",
            evil,
            "--atom-init",
            folder / "atom_init.json",
            source,
            "-o",
            folder / "p.csv",
        ],
        "bad-atom-init": ["--checkpoint", evil, "--atom-init", source, source, "-o", folder / "q"],
        "missing-source": ["--checkpoint", model, folder / "none", "-o", folder / "r.csv"],
    }
    out = []
    for name, args in cases.items():
        result = run("predict", *args, "--quiet", "--workers", 0)
        out.append(Outcome("predict", name, crashed(result), wrong=result.exit_code != 2))
    corpus = work / "cif-corpus" / "cifs"
    result = run(
        "predict",
        "--checkpoint",
        model,
        corpus,
        "-o",
        folder / "all.csv",
        "--quiet",
        "--workers",
        0,
    )
    ids = set(pd.read_csv(folder / "all.csv").material_id)
    ids |= set(pd.read_csv(folder / "all.rejects.csv").material_id)
    missing = {p.stem for p in corpus.iterdir()} - ids
    out.append(Outcome("predict", "whole-corpus", crashed(result), dropped=len(missing)))
    return out


def validate_cases(work: Path, release: Path) -> list[Outcome]:
    """Tampered copies of a real (sample) release; reads outside the copy are counted."""
    global TRACKING
    outside = work / "outside.csv"
    outside.write_text("material_id\nmp-1\n")
    cases = _package_tampering(outside)
    out = []
    for name, (change, expected) in cases.items():
        folder = work / f"validate-{name}"
        shutil.copytree(release, folder)
        path = folder / "datapackage.json"
        descriptor = json.loads(path.read_text())
        text = change(descriptor, folder)
        path.write_text(text if isinstance(text, str) else json.dumps(descriptor))
        OPENED.clear()
        TRACKING = True
        try:
            result = run("validate", path)
        finally:
            TRACKING = False
        reads = [p for p in OPENED if not _allowed(p, folder)]
        out.append(
            Outcome(
                "validate",
                name,
                crashed(result),
                wrong=result.exit_code != expected,
                outside=len(set(reads)),
                detail=", ".join(sorted(set(reads))[:3]),
            )
        )
    package = release / "datapackage.json"
    for bad in ("nan", "inf", "-1", "0"):
        result = run("validate", package, "--tolerance", bad)
        out.append(
            Outcome("validate", f"tolerance-{bad}", crashed(result), wrong=result.exit_code != 2)
        )
    result = run("validate", package, "--json", work / "nowhere" / "r.json")
    out.append(
        Outcome("validate", "json-missing-folder", crashed(result), wrong=result.exit_code != 2)
    )
    return out


def _allowed(path: str, package: Path) -> bool:
    real = Path(path).resolve() if not path.startswith("/proc") else Path(path)
    roots = [
        package.resolve(), Path(sys.prefix), Path(sys.base_prefix), Path("/proc"), Path("/sys"),
        Path("/dev/null"), ROOT / "schema", ROOT / "validate", ROOT / "elastic_atlas",
        Path(tempfile.gettempdir()) / "matplotlib",
    ]  # fmt: skip
    return any(real == r or r in real.parents for r in roots) or path.endswith((".py", ".pyc"))


def _package_tampering(outside: Path) -> dict[str, tuple[Callable, int]]:
    def first(key: str, value):
        return lambda d, f: d["resources"][0].__setitem__(key, value)

    def link(target: str):
        def change(d, f):
            (f / "link.csv").symlink_to(target)
            d["resources"][0]["path"] = "link.csv"

        return change

    def weaken(d, f):
        for field in d["resources"][0]["schema"]["fields"]:
            field.pop("constraints", None)

    def schema_outside(d, f):
        d["resources"][0]["schema"] = str(outside)

    def parquet_as_text(d, f):
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pq.read_table(f / "mped.parquet")
        i = table.column_names.index("k_vrh")
        pq.write_table(
            table.set_column(i, "k_vrh", table.column(i).cast(pa.string())), f / "mped.parquet"
        )

    return {
        "absolute-path": (first("path", "/etc/passwd"), 1),
        "parent-path": (first("path", f"../{outside.name}"), 1),
        "url-path": (first("path", "https://example.org/mped.csv"), 1),
        "file-url": (first("path", "file:///etc/passwd"), 1),
        "symlink-out": (link(str(outside)), 1),
        "device": (link("/dev/zero"), 1),
        "fifo-like-urandom": (link("/dev/urandom"), 1),
        "schema-outside": (schema_outside, 1),
        "schema-url": (first("schema", "https://example.org/s.json"), 1),
        "unknown-hash": (first("hash", "sha3-999:abc"), 2),
        "hash-not-text": (first("hash", 12), 2),
        "multipart": (first("path", ["a.csv", "b.csv"]), 2),
        "path-not-text": (first("path", 7), 2),
        "inline-data": (first("data", [{"a": 1}]), 2),
        "resources-object": (lambda d, f: d.update(resources={"a": {}}), 2),
        "resources-strings": (lambda d, f: d.update(resources=["mped.csv"]), 2),
        "resources-empty": (lambda d, f: d.update(resources=[]), 1),
        "not-json": (lambda d, f: "{not json", 2),
        "json-array": (lambda d, f: "[1, 2]", 2),
        "weakened-schema": (weaken, 1),
        "format-upper": (first("format", "CSV"), 1),
        "format-xlsx": (first("format", "xlsx"), 1),
        "parquet-k-as-text": (parquet_as_text, 1),
        "rows-lie": (first("rows", 99999), 1),
    }


def release_cases(work: Path, model: Path) -> list[Outcome]:
    out = []
    for name, env in {
        "epoch-text": {"SOURCE_DATE_EPOCH": "yesterday"},
        "epoch-negative": {"SOURCE_DATE_EPOCH": "-5"},
        "epoch-huge": {"SOURCE_DATE_EPOCH": "1e99"},
    }.items():
        result = run(
            "release", "--releases", work / f"r-{name}", "--quiet", "--workers", 0, env=env
        )
        out.append(Outcome("release", name, crashed(result), wrong=result.exit_code != 2))
    blocker = work / "blocker"
    blocker.write_text("a file")
    result = run("release", "--releases", blocker / "r", "--quiet", "--workers", 0)
    out.append(Outcome("release", "unwritable", crashed(result), wrong=result.exit_code != 2))
    for version in ("1.0", "../../evil", "1.0.0/../x", "1.0.0+sample/.."):
        result = run("release", "--version", version, "--releases", work / "rv", "--quiet")
        wrong = result.exit_code == 0 or any((work / "rv").glob("**/datapackage.json"))
        out.append(Outcome("release", f"version-{version}", crashed(result), wrong=wrong))
    folder = work / "release-mistyped"
    folder.mkdir()
    (folder / "model").symlink_to(model)
    recipe(folder, "misspelt.zip")
    config = folder / "release.toml"
    config.write_text(
        'name = "x"\ntitle = "t"\ndescription = "d"\nkeywords = []\n'
        '[[creators]]\nname = "test"\n[tables]\nmped = "recipe.toml"\n'
    )
    result = run(
        "release",
        "--config",
        config,
        "--version",
        "1.0.0",
        "--releases",
        folder / "releases",
        "--quiet",
        "--workers",
        0,
    )
    made = list((folder / "releases").glob("*")) if (folder / "releases").exists() else []
    out.append(Outcome("release", "mistyped-path", crashed(result), wrong=bool(made)))
    return out


def mp_api_cases(work: Path, model: Path) -> list[Outcome]:
    full = page(0)
    full["data"] = [{**full["data"][i % 2], "material_id": f"mp-{i}"} for i in range(500)]
    full["meta"]["total_doc"] = 1000
    scripts = {
        "http-401": [(401, b"bad key secret-key")],
        "http-403": [(403, b'{"detail": "forbidden secret-key"}')],
        "html-200": [(200, b"<html>maintenance</html>", {"Content-Type": "text/html"})],
        "malformed-json": [(200, b'{"data": [')],
        "data-null": [(200, {"data": None})],
        "data-strings": [(200, {"data": ["mp-1"]})],
        "fails-after-first-page": [(200, full)] + [(503, b"down")] * 8,
        "ignores-skip": [(200, full)] * 3,
        "retry-after-date": [(429, b"", {"Retry-After": "Wed, 21 Oct 2099 07:28:00 GMT"})] * 8,
    }
    out = []
    for name, script in scripts.items():
        folder = work / f"mp-{name}"
        folder.mkdir()
        (folder / "model").symlink_to(model)
        path = recipe(folder, ".")
        path.write_text(path.read_text().replace('path = "."', 'kind = "mp_api"'))
        with FakeMP(script) as server:
            env = {
                "MP_API_KEY": "secret-key",
                "MP_API_ENDPOINT": server.url,
                "ELASTIC_ATLAS_CACHE": str(folder / "cache"),
            }
            result = run("build", path, "-o", folder / "out", "--quiet", "--workers", 0, env=env)
        leaked = "secret-key" in result.output
        out.append(Outcome("mp_api", name, crashed(result), wrong=result.exit_code != 2 or leaked))
    return out


# ------------------------------------------------------------------ issue 19's classes
def _unchanged(path: Path, before: bytes | None) -> bool:
    return (path.read_bytes() if path.is_file() else None) == before


def output_cases(work: Path, model: Path, release: Path) -> list[Outcome]:
    """Outputs that would destroy something: each refused (exit 2), the target unchanged."""
    folder = _mkdir(work / "outputs")
    cif = folder / "one.cif"
    cif.write_text(cif_text(rock_salt()))
    fifo = folder / "fifo"
    os.mkfifo(fifo)
    precious = folder / "precious.csv"
    precious.write_text("keep me\n")
    link = folder / "link.csv"
    link.symlink_to(precious)
    own = folder / "own-model"
    shutil.copytree(model, own)
    published = folder / "published"
    shutil.copytree(release.parent, published)
    version = published / release.name
    build_out = _mkdir(folder / "build-out")
    (build_out / "summary.json").symlink_to(precious)  # a build writes summary.json there
    cases = {
        "fifo": (["predict", "--checkpoint", own, cif, "-o", fifo], None),
        "symlink": (["predict", "--checkpoint", own, cif, "-o", link], precious),
        "checkpoint-card": (["predict", "--checkpoint", own, cif, "-o", own / "model.json"],
                            own / "model.json"),
        "release-file": (["predict", "--checkpoint", own, cif, "-o", version / "mped.csv"],
                         version / "mped.csv"),
        "releases-in-version": (["release", "--releases", version], version / "datapackage.json"),
        "build-summary-link": (["build", "-o", build_out], precious),
    }  # fmt: skip
    out = []
    for name, (args, guarded) in cases.items():
        before = guarded.read_bytes() if guarded is not None else None
        result = run(*args, "--quiet", "--workers", 0)
        clobbered = guarded is not None and not _unchanged(guarded, before)
        wrong = result.exit_code != 2 or clobbered or (name == "fifo" and not fifo.is_fifo())
        out.append(Outcome("outputs", name, crashed(result), wrong=wrong))
    return out + held_output_cases(folder, own, precious)


def held_output_cases(folder: Path, own: Path, precious: Path) -> list[Outcome]:
    """A build into a folder another run is writing, and a re-calibration onto an existing
    model folder: both refused (exit 2) before anything is written."""
    from elastic_atlas.pipeline.outputs import folder_lock

    busy = _mkdir(folder / "busy")
    with folder_lock(busy):  # another run holds it
        result = run("build", "-o", busy, "--quiet", "--workers", 0)
    wrote = (busy / "mped.csv").exists()
    out = [Outcome("outputs", "build-folder-in-use", crashed(result),
                   wrong=result.exit_code != 2 or wrote)]  # fmt: skip
    before = (own / "model.json").read_bytes()
    result = run("calibrate", own, "--leave-out", precious, "-o", own)
    clobbered = not _unchanged(own / "model.json", before)
    out.append(Outcome("outputs", "calibrate-onto-a-model", crashed(result),
                       wrong=result.exit_code != 2 or clobbered))  # fmt: skip
    return out


CONFIG = (
    'name = "x"\ntitle = "t"\ndescription = "d"\nkeywords = []\n'
    '[[creators]]\nname = "test"\n[tables]\nmped = "recipe.toml"\n'
)


def config_cases(work: Path, model: Path) -> list[Outcome]:
    """Release config values checked before any work: exit 2, nothing written."""
    bad = {
        "name-traversal": CONFIG.replace('name = "x"', 'name = "../../../x"'),
        "name-slash": CONFIG.replace('name = "x"', 'name = "a/b"'),
        "doi-url": 'doi = "https://doi.org/10.1/x"\n' + CONFIG,
        "doi-words": 'doi = "see website"\n' + CONFIG,
        "record-doi-key": 'record_dois = {nxd = "10.5555/x"}\n' + CONFIG,
        "homepage-ftp": 'homepage = "ftp://example.org"\n' + CONFIG,
        "unknown-key": 'colour = "red"\n' + CONFIG,
        "no-creators": CONFIG.replace('[[creators]]\nname = "test"\n', ""),
        "empty-tables": CONFIG.replace('mped = "recipe.toml"\n', ""),
    }
    out = []
    for name, text in bad.items():
        folder = _mkdir(work / f"config-{name}")
        (folder / "model").symlink_to(model)
        recipe(folder, str(work / "cif-corpus" / "cifs"))
        (folder / "release.toml").write_text(text)
        result = run("release", "--config", folder / "release.toml", "--version", "1.0.0",
                     "--releases", folder / "releases", "--quiet", "--workers", 0)  # fmt: skip
        written = (folder / "releases").exists() or any(work.glob("x-*"))
        out.append(Outcome("config", name, crashed(result), wrong=result.exit_code != 2 or written))
    for version in ("1.0.0\n", "\uff11.0.0", "01.0.0"):
        result = run("release", "--version", version, "--releases", work / "rv2", "--quiet")
        out.append(Outcome("config", f"version-{version!r}", crashed(result),
                           wrong=result.exit_code == 0 or (work / "rv2").exists()))  # fmt: skip
    return out


def card_cases(work: Path, model: Path) -> list[Outcome]:
    """model.json as a contract: each bad card refused (exit 2) before any prediction."""
    edits: dict[str, Callable[[dict], None]] = {
        "unknown-key": lambda c: c.__setitem__("colour", "red"),
        "no-architecture": lambda c: c.pop("architecture"),
        "members-text": lambda c: c.__setitem__("members", "member-0.safetensors"),
        "unit-gpa": lambda c: c["targets"][0].__setitem__("unit", "GPa"),
        "std-zero": lambda c: c["targets"][1].__setitem__("std", 0.0),
        "swapped": lambda c: [
            t.__setitem__("name", n)
            for t, n in zip(c["targets"], ["log10_g_vrh", "log10_k_vrh"], strict=True)
        ],
        "ids-outside": lambda c: c.setdefault("training", {}).__setitem__(
            "ids", {"file": "../../etc/hostname"}
        ),
    }
    cif = work / "outputs" / "one.cif"
    out = []
    for name, edit in edits.items():
        folder = work / f"card-{name}"
        shutil.copytree(model, folder)
        card = json.loads((folder / "model.json").read_text())
        edit(card)
        (folder / "model.json").write_text(json.dumps(card))
        result = run("predict", "--checkpoint", folder, cif, "-o", work / f"card-{name}.csv",
                     "--quiet", "--workers", 0)  # fmt: skip
        written = (work / f"card-{name}.csv").exists()
        out.append(Outcome("cards", name, crashed(result), wrong=result.exit_code != 2 or written))
    return out


def _forge_csv(change: Callable[[pd.DataFrame], None]) -> Callable[[Path], None]:
    def forge(folder: Path) -> None:
        frame = pd.read_csv(folder / "mped.csv", dtype={"dft_status": str})
        change(frame)
        frame.to_csv(folder / "mped.csv", index=False, lineterminator="\n")

    return forge


def _forge_parquet(key: bytes, value: bytes, column: str | None = None) -> Callable[[Path], None]:
    import pyarrow.parquet as pq

    def forge(folder: Path) -> None:
        table = pq.read_table(folder / "mped.parquet")
        schema = table.schema
        if column is None:
            schema = schema.with_metadata({**schema.metadata, key: value})
        else:
            index = schema.get_field_index(column)
            field = schema.field(index)
            schema = schema.set(index, field.with_metadata({**field.metadata, key: value}))
        pq.write_table(table.cast(schema), folder / "mped.parquet")

    return forge


def _edit_descriptor(change: Callable[[list[dict]], None]) -> Callable[[Path], None]:
    def forge(folder: Path) -> None:
        path = folder / "datapackage.json"
        descriptor = json.loads(path.read_text())
        change(descriptor["resources"])
        path.write_text(json.dumps(descriptor))

    return forge


def _swap_weights(folder: Path) -> None:
    model = next((folder / "models").iterdir())
    (model / "member-0.safetensors").write_bytes((model / "member-1.safetensors").read_bytes())


def _narrow_intervals(folder: Path) -> None:
    """Both files' 95 % intervals re-scaled to ±2u: well formed, only the card's k95 differs."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    def narrowed(frame: pd.DataFrame) -> None:
        for symbol in ("k_vrh", "g_vrh"):
            half = 2.0 * frame[f"{symbol}_uncertainty"].to_numpy(dtype=float)
            frame[f"{symbol}_lower"] = frame[symbol] * 10.0**-half
            frame[f"{symbol}_upper"] = frame[symbol] * 10.0**half

    _forge_csv(narrowed)(folder)
    table = pq.read_table(folder / "mped.parquet")
    frame = table.to_pandas()
    narrowed(frame)
    for name in ("k_vrh_lower", "k_vrh_upper", "g_vrh_lower", "g_vrh_upper"):
        index = table.schema.get_field_index(name)
        column = pa.array(frame[name].to_numpy(), type=table.schema.field(index).type)
        table = table.set_column(index, table.schema.field(index), column)
    pq.write_table(table, folder / "mped.parquet")


def _as_file(resources: list[dict]) -> None:
    resources[0].update(type="file", name="notes-csv")
    resources[0].pop("elastic_atlas:table", None)


def forgery_cases(work: Path, release: Path) -> list[Outcome]:
    """Forged releases whose hashes were all updated: `validate` must still say INVALID."""

    def flip(frame: pd.DataFrame) -> None:
        frame.loc[0, "in_training"] = not bool(frame.loc[0, "in_training"])

    forgeries: dict[str, Callable[[Path], None]] = {
        "csv-in-training": _forge_csv(flip),
        "csv-dft-99999": _forge_csv(lambda f: f.__setitem__("k_vrh_dft", 99999.0)),
        "csv-k-doubled": _forge_csv(lambda f: f.__setitem__("k_vrh", f["k_vrh"] * 2)),
        "parquet-unit-mpa": _forge_parquet(b"unit", b"MPa", "k_vrh"),
        "parquet-version": _forge_parquet(b"elastic_atlas.version", b"9.9.9"),
        "parquet-licence": _forge_parquet(b"elastic_atlas.licence", b"CC0-1.0"),
        "weights-swapped": _swap_weights,
        "table-as-file": _edit_descriptor(_as_file),
        "duplicate-name": _edit_descriptor(lambda r: r[-1].__setitem__("name", r[-2]["name"])),
        "intervals-at-2u": _narrow_intervals,
    }
    out = []
    for name, forge in forgeries.items():
        folder = work / f"forged-{name}"
        shutil.copytree(release, folder)
        forge(folder)
        rehash(folder)
        result = run("validate", folder / "datapackage.json")
        out.append(Outcome("forgeries", name, crashed(result), wrong=result.exit_code != 1))
    return out


def crash_cases(work: Path, release: Path) -> list[Outcome]:
    """Inputs that once raised a traceback: now a verdict (1) or one line (2), never 3."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = _mkdir(work / "crashes")
    nul = folder / "nul"
    shutil.copytree(release, nul)
    _edit_descriptor(lambda r: r[0].__setitem__("path", "mped\u0000.csv"))(nul)
    pq.write_table(pa.table({"material_id": ["mp-1"], "k_vrh": pa.array([[1.0, 2.0]])}),
                   folder / "list.parquet")  # fmt: skip
    (folder / "fields5.json").write_text(
        '{"resources": [{"name": "a", "path": "a.csv", "schema": {"fields": 5}}]}'
    )
    (folder / "a.csv").write_text("material_id\nmp-1\n")
    (folder / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    (folder / "dup.csv").write_text("material_id,k_vrh,k_vrh\nmp-1,1,2\n")
    broken = _mkdir(folder / "broken-releases")
    shutil.copytree(release, broken / release.name)
    (broken / release.name / "datapackage.json").write_text("{not json")
    cases = {
        "nul-path": (["validate", nul / "datapackage.json"], 1),
        "list-column": (["validate", folder / "list.parquet"], 1),
        "list-column-schema": (["validate", folder / "list.parquet", "--schema", "mped"], 1),
        "schema-fields-5": (["validate", folder / "fields5.json"], 2),
        "deep-json": (["validate", folder / "deep.json"], 2),
        "duplicate-header": (["validate", folder / "dup.csv", "--schema", "mped"], 2),
        "broken-version": (["release", "--releases", broken, "--quiet", "--workers", 0], 2),
    }
    out = []
    for name, (args, expected) in cases.items():
        result = run(*args)
        out.append(Outcome("crashes", name, crashed(result), wrong=result.exit_code != expected))
    for name, content in {"literature-no-id": b"id,k_vrh,g_vrh,source\nmp-1,1,1,x\n",
                          "literature-binary": b"\x89PNG\r\n\x1a\n\x00\xff"}.items():  # fmt: skip
        case = _mkdir(folder / name)
        (case / "model").symlink_to(work / "model")
        (case / "lit.csv").write_bytes(content)
        path = recipe(case, str(work / "cif-corpus" / "cifs"), extra="")
        path.write_text('literature = "lit.csv"\n' + path.read_text())
        result = run("build", path, "-o", case / "out", "--quiet", "--workers", 0)
        wrong = result.exit_code != 2 or (case / "out" / "mped.csv").exists()
        out.append(Outcome("crashes", name, crashed(result), wrong=wrong))
    return out


def member_cases(work: Path, model: Path) -> list[Outcome]:
    """Zip members a source used to skip silently: each counted as a row or a reject."""
    import gzip
    import zipfile

    folder = _mkdir(work / "members")
    (folder / "model").symlink_to(model)
    text = cif_text(rock_salt()).encode()
    members = {"mp-1.cif": text, ".mp-107.cif": text, "mp-108.cif.gz": gzip.compress(text),
               "mp-109.cif ": text, "notes.txt": b"x"}  # fmt: skip
    with zipfile.ZipFile(folder / "s.zip", "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    result = run("build", recipe(folder, "s.zip"), "-o", folder / "out", "--quiet", "--workers", 0)
    if result.exit_code != 0:
        return [Outcome("members", "zip", crashed(result), wrong=True)]
    seen = list(pd.read_csv(folder / "out" / "mped.csv").material_id)
    seen += list(pd.read_csv(folder / "out" / "rejects.csv").material_id)
    expected = {"mp-1", ".mp-107.cif", "mp-108", "mp-109.cif ", "notes.txt"}
    out = [Outcome("members", "zip", dropped=len(expected - set(seen)))]
    bomb = _mkdir(folder / "gzip-bomb")  # a .cif.gz that inflates past the size limit
    (bomb / "model").symlink_to(model)
    (bomb / "mp-1.cif.gz").write_bytes(gzip.compress(b" " * (9 * 2**20), mtime=0))
    (bomb / "mp-2.cif").write_text(cif_text(rock_salt()))
    result = run("build", recipe(bomb, "."), "-o", bomb / "out", "--quiet", "--workers", 0)
    reasons = (dict(pd.read_csv(bomb / "out" / "rejects.csv")[["material_id", "reason"]].values)
               if result.exit_code == 0 else {})  # fmt: skip
    out.append(Outcome("members", "gzip-bomb", crashed(result),
                       wrong=reasons.get("mp-1") != "file_too_large"))  # fmt: skip
    return out


def dft_cases(work: Path, model: Path) -> list[Outcome]:
    """DFT tables read as meant: shifted, repeated, MPa tables refused; BOM read; no match
    warned."""
    tables = {
        "extra-cells": ("material_id,k_vrh,g_vrh\ngood-1,24.5,14.1,99\n", 2),
        "repeated-column": ("material_id,k_vrh,k_vrh,g_vrh\ngood-1,24.5,25,14.1\n", 2),
        "mpa": ("material_id,k_vrh,g_vrh\ngood-1,24500,14100\ngood-2,443000,535000\n", 2),
        "bom": ("\ufeffmaterial_id,k_vrh,g_vrh\ngood-1,24.5,14.1\n", 0),
        "no-match": ("material_id,k_vrh,g_vrh\nmp-1,24.5,14.1\n", 0),
    }
    out = []
    for name, (text, expected) in tables.items():
        folder = _mkdir(work / f"dft-{name}")
        (folder / "model").symlink_to(model)
        (folder / "elastic.csv").write_text(text, encoding="utf-8")
        extra = '[dft]\npath = "elastic.csv"\nsource = "t"\n'
        path = recipe(folder, str(work / "cif-corpus" / "cifs"))
        path.write_text(path.read_text() + extra)
        result = run("build", path, "-o", folder / "out", "--quiet", "--workers", 0)
        wrong = result.exit_code != expected
        if name == "bom" and not wrong:
            table = pd.read_csv(folder / "out" / "mped.csv").set_index("material_id")
            wrong = table.loc["good-1", "dft_status"] != "ok"
        if name == "no-match":
            wrong |= "matches none of the" not in result.output
        out.append(Outcome("dft", name, crashed(result), wrong=wrong))
    return out


def element_cases(work: Path, model: Path) -> list[Outcome]:
    """Element-like tokens pymatgen would read as an element: rejected, never guessed."""
    folder = _mkdir(work / "elements")
    (folder / "model").symlink_to(model)
    _mkdir(folder / "cifs")
    tokens = ("Cax", "Sx", "Wat", "Uue")
    for token in tokens:
        text = cif_text(rock_salt()).replace(" Na ", f" {token} ").replace("Na1", f"{token}1")
        (folder / "cifs" / f"{token}.cif").write_text(text)
    (folder / "cifs" / "good.cif").write_text(cif_text(diamond()))
    result = run("build", recipe(folder, "cifs"), "-o", folder / "out", "--quiet", "--workers", 0)
    if result.exit_code != 0:
        return [Outcome("elements", t, crashed(result), wrong=True) for t in tokens]
    reasons = dict(pd.read_csv(folder / "out" / "rejects.csv")[["material_id", "reason"]].values)
    return [Outcome("elements", t, wrong=reasons.get(t) != "unknown_element") for t in tokens]


def checkpoint_copy_cases(work: Path, model: Path) -> list[Outcome]:
    """Checkpoints copied into a release: two of one name both survive; a link in a model
    folder is refused, never followed; a linked releases descriptor is not written through."""
    out = []
    cifs = _mkdir(work / "mp-cifs")  # material ids a release's MPED schema accepts
    for name, structure in {"mp-1": rock_salt(), "mp-2": diamond()}.items():
        (cifs / f"{name}.cif").write_text(cif_text(structure))
    folder = _mkdir(work / "same-name")
    for part in ("a", "b"):
        shutil.copytree(model, folder / part / "model")
    (folder / "b" / "model" / "README.md").write_text("another card\n")
    path = recipe(folder, str(cifs))
    path.write_text(path.read_text().replace('bulk = "model"', 'bulk = "a/model"')
                    .replace('shear = "model"', 'shear = "b/model"'))  # fmt: skip
    (folder / "release.toml").write_text(CONFIG)
    result = run("release", "--config", folder / "release.toml", "--version", "1.0.0",
                 "--releases", folder / "releases", "--quiet", "--workers", 0)  # fmt: skip
    copies = list((folder / "releases" / "1.0.0" / "models").glob("model-*"))
    valid = run("validate", folder / "releases" / "1.0.0").exit_code == 0
    out.append(Outcome("models", "same-name", crashed(result),
                       wrong=result.exit_code != 0 or len(copies) != 2 or not valid))  # fmt: skip
    linked = _mkdir(work / "linked-model")
    shutil.copytree(model, linked / "model")
    (work / "outside.md").write_text("not part of any checkpoint\n")
    (linked / "model" / "NOTES.md").symlink_to(work / "outside.md")
    recipe(linked, str(cifs))
    (linked / "release.toml").write_text(CONFIG)
    result = run("release", "--config", linked / "release.toml", "--version", "1.0.0",
                 "--releases", linked / "releases", "--quiet", "--workers", 0)  # fmt: skip
    published = list((linked / "releases").glob("1.0.0"))
    out.append(Outcome("models", "symlink-in-folder", crashed(result),
                       wrong=result.exit_code != 2 or bool(published)))  # fmt: skip
    descriptor = _mkdir(work / "linked-descriptor")
    (descriptor / "datapackage.json").symlink_to(work / "outside.md")
    result = run("release", "--releases", descriptor, "--quiet", "--workers", 0)
    wrong = (
        result.exit_code != 2 or (work / "outside.md").read_text() != "not part of any checkpoint\n"
    )
    out.append(Outcome("models", "linked-releases-descriptor", crashed(result), wrong=wrong))
    return out


def whole_release_cases(work: Path, release: Path) -> list[Outcome]:
    """A run stopped after the version folder was in place: the rerun completes it."""
    root = work / "whole"
    shutil.copytree(release.parent, root)
    (root / "datapackage.json").unlink()
    result = run("release", "--releases", root, "--quiet", "--workers", 0)
    wrong = result.exit_code != 0 or not (root / "datapackage.json").is_file()
    return [Outcome("whole", "root-descriptor", crashed(result), wrong=wrong)]


# ------------------------------------------------------------------ report
def sample_release(work: Path) -> Path:
    result = run("release", "--releases", work / "releases", "--quiet", "--workers", 0)
    assert result.exit_code == 0, result.output
    return work / "releases" / "0.1.0+sample"


def main_run(quiet: bool = False, json_path: Path | None = None) -> int:
    warnings.simplefilter("ignore")
    sys.addaudithook(audit)
    with tempfile.TemporaryDirectory(prefix="reliability-") as tmp:
        work = Path(tmp)
        model = work / "model"
        make_own(model)
        outcomes = build_cases(work, model) + source_cases(work, model)
        outcomes += summary_cases(work, model) + recipe_cases(work, model)
        outcomes += predict_cases(work, model) + validate_cases(work, sample_release(work))
        outcomes += release_cases(work, model) + mp_api_cases(work, model)
        release = sample_release(work / "second")
        outcomes += output_cases(work, model, release) + config_cases(work, model)
        outcomes += card_cases(work, model) + forgery_cases(work, release)
        outcomes += crash_cases(work, release) + member_cases(work, model)
        outcomes += dft_cases(work, model) + element_cases(work, model)
        outcomes += whole_release_cases(work, release) + checkpoint_copy_cases(work, model)
        executed = sum(p.exists() for p in work.glob("pwned*"))
        executed += sum(p.exists() for p in (work / "predict").glob("pwned*"))
    return report(outcomes, executed, quiet, json_path)


def report(
    outcomes: list[Outcome], executed: int, quiet: bool, json_path: Path | None = None
) -> int:
    if not quiet:
        for o in outcomes:
            flags = [k for k in ("crashed", "wrong") if getattr(o, k)]
            flags += [f"dropped {o.dropped}"] * bool(o.dropped)
            flags += [f"read outside {o.outside}: {o.detail}"] * bool(o.outside)
            print(f"  {o.category:<10} {o.name:<28} {', '.join(flags) or 'ok'}")
    totals = {
        "inputs tried": len(outcomes),
        "crashes": sum(o.crashed for o in outcomes),
        "silent drops": sum(o.dropped for o in outcomes),
        "wrong verdicts": sum(o.wrong for o in outcomes),
        "files read outside the package": sum(o.outside for o in outcomes),
        "code executed": executed,
    }
    print(f"reliability replay, {today()}, {machine()}")
    per_category = Counter(o.category for o in outcomes)
    print("  by category: " + ", ".join(f"{k} {v}" for k, v in per_category.items()))
    for name, value in totals.items():
        print(f"  {name:<32} {value}")
    if json_path is not None:  # BENCHMARKS.md's replay block is rendered from it
        results = {"date": today(), "machine": machine(), "by_category": dict(per_category),
                   "totals": totals}  # fmt: skip
        json_path.write_text(json.dumps(results, indent=2) + "\n")
    failures = sum(v for k, v in totals.items() if k != "inputs tried")
    return 1 if failures else 0


if __name__ == "__main__":
    target = sys.argv[sys.argv.index("--json") + 1] if "--json" in sys.argv else None
    sys.exit(main_run(quiet="--quiet" in sys.argv, json_path=Path(target) if target else None))
