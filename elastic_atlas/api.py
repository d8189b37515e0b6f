"""The Python API of a release: load its tables, look materials up, get their structures,
validate it. Nothing here needs torch; `structures` needs pymatgen (ASE optional).

    import elastic_atlas as ea
    frame = ea.load("mped", release="releases/1.0.0")          # pandas, units in frame.attrs
    rows = ea.lookup("mped", release="releases/1.0.0", formula="O2Si")
    crystal = ea.structures("mped", ["mp-149"], release="releases/1.0.0")["mp-149"]
    findings = ea.validate("releases/1.0.0")                   # [] when the release is valid

A release is a folder holding `datapackage.json` (or the path of that file); `release`
defaults to the current folder. Units, titles and descriptions come from the release's own
table schema, so a frame describes itself (`frame.attrs["units"]["k_vrh"] == "GPa"`).
"""

from __future__ import annotations

import json
import math
import re
from functools import reduce
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from elastic_atlas.errors import InputError

if TYPE_CHECKING:
    from pymatgen.core import Structure

    from elastic_atlas.validation.findings import Finding

PathLike = str | Path
Filters = list[tuple[str, str, Any]] | None


class ReleaseNotFound(InputError, FileNotFoundError):
    """No release (a folder with datapackage.json) at the given path, or no such table."""


def release_folder(release: PathLike = ".") -> Path:
    """The release folder of a path: the folder itself, or the folder of its datapackage.json."""
    path = Path(release)
    folder = path.parent if path.name == "datapackage.json" else path
    if not (folder / "datapackage.json").is_file():
        raise ReleaseNotFound(f"{folder} holds no datapackage.json (not a release folder)")
    return folder


def _descriptor(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "datapackage.json").read_text(encoding="utf-8"))


def tables(release: PathLike = ".") -> list[str]:
    """The tables a release holds (e.g. ['mped', 'ned'])."""
    resources = _descriptor(release_folder(release))["resources"]
    return sorted({r["elastic_atlas:table"] for r in resources if "elastic_atlas:table" in r})


def _table_resource(descriptor: dict[str, Any], folder: Path, table: str) -> dict[str, Any]:
    for resource in descriptor["resources"]:
        if resource.get("elastic_atlas:table") == table and resource.get("format") == "parquet":
            return resource
    raise ReleaseNotFound(f"{folder} has no table {table!r}; it has {tables(folder)}")


def load_arrow(
    table: str = "mped",
    release: PathLike = ".",
    columns: list[str] | None = None,
    filters: Filters = None,
) -> pa.Table:
    """A table of the release as Arrow (its authoritative Parquet file). `filters` are
    pyarrow's: [("k_vrh", ">", 100), ("crystal_system", "==", "cubic")]."""
    folder = release_folder(release)
    resource = _table_resource(_descriptor(folder), folder, table)
    return pq.read_table(folder / resource["path"], columns=columns, filters=filters)


def load(
    table: str = "mped",
    release: PathLike = ".",
    columns: list[str] | None = None,
    filters: Filters = None,
) -> pd.DataFrame:
    """A table of the release as pandas, with `attrs` from its schema: units, titles (the
    study's symbols), descriptions, and the release's version, licence and citation."""
    folder = release_folder(release)
    descriptor = _descriptor(folder)  # read once: the table's schema and the release's facts
    resource = _table_resource(descriptor, folder, table)
    path = folder / resource["path"]
    frame = pq.read_table(path, columns=columns, filters=filters).to_pandas()
    fields = {f["name"]: f for f in resource["schema"]["fields"] if f["name"] in frame.columns}
    frame.attrs = {
        "table": table,
        "units": {n: f.get("unit", "1") for n, f in fields.items()},
        "titles": {n: f.get("title", n) for n, f in fields.items()},
        "descriptions": {n: f.get("description", "") for n, f in fields.items()},
        "version": descriptor.get("version"),
        "licence": resource["licenses"][0]["name"],
        "citation": descriptor.get("citation"),
    }
    return frame


# ------------------------------------------------------------------ formulas
_TOKEN = re.compile(r"([A-Z][a-z]?)(\d*\.?\d*)|(\()|(\))(\d*\.?\d*)")


def parse_formula(formula: str) -> dict[str, float]:
    """{element: amount} of a formula, with parentheses: 'Ce(P3Ru)4' -> Ce 1, P 12, Ru 4."""
    stack: list[dict[str, float]] = [{}]
    position = 0
    text = formula.replace(" ", "")
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise ValueError(f"{formula!r} is not a chemical formula")
        element, amount, opening, closing, multiplier = match.groups()
        if element:
            stack[-1][element] = stack[-1].get(element, 0.0) + float(amount or 1)
        elif opening:
            stack.append({})
        elif closing:
            if len(stack) == 1:
                raise ValueError(f"{formula!r} closes a parenthesis it never opened")
            group = stack.pop()
            for name, value in group.items():
                stack[-1][name] = stack[-1].get(name, 0.0) + value * float(multiplier or 1)
        position = match.end()
    if len(stack) != 1 or not stack[0]:
        raise ValueError(f"{formula!r} is not a chemical formula")
    return stack[0]


def reduced_composition(formula: str) -> tuple[tuple[str, float], ...]:
    """The composition in lowest whole ratios, order-free: 'Si2O4' == 'O2Si' == 'SiO2'."""
    amounts = parse_formula(formula)
    if all(float(v).is_integer() for v in amounts.values()):
        divisor = reduce(math.gcd, (int(v) for v in amounts.values()))
    else:
        divisor = min(amounts.values())
    return tuple(sorted((e, round(v / divisor, 6)) for e, v in amounts.items()))


def lookup(
    table: str = "mped",
    release: PathLike = ".",
    *,
    material_id: str | list[str] | None = None,
    formula: str | None = None,
    elements: list[str] | None = None,
    chemsys: str | None = None,
    columns: list[str] | None = None,
) -> pd.DataFrame:
    """Rows of a table by material id(s), by formula (any element order, reduced or not), by
    elements contained (all of them, others allowed) or by chemical system (exactly those
    elements, any order: 'O-Si' == 'Si-O'). Several criteria must all hold."""
    filters: list[tuple[str, str, Any]] = []
    if material_id is not None:
        ids = [material_id] if isinstance(material_id, str) else list(material_id)
        filters.append(("material_id", "in", ids))
    if chemsys is not None:
        filters.append(("chemsys", "==", "-".join(sorted(chemsys.split("-")))))
    frame = load(table, release, filters=filters or None)
    if formula is not None:
        wanted = reduced_composition(formula)
        frame = frame[[reduced_composition(f) == wanted for f in frame["formula"]]]
    if elements is not None:
        needed = set(elements)
        frame = frame[[needed <= set(e.split()) for e in frame["elements"]]]
    frame = frame.reset_index(drop=True)
    return frame[columns] if columns is not None else frame


# ------------------------------------------------------------------ structures
def structures(
    table: str = "mped",
    material_ids: list[str] | None = None,
    release: PathLike = ".",
    *,
    ase: bool = False,
) -> dict[str, Structure | Any]:
    """{material_id: pymatgen Structure} (or ASE Atoms with `ase=True`) of the rows, exactly
    as each was predicted from; all rows when `material_ids` is None."""
    folder = release_folder(release)
    listed = [r["path"] for r in _descriptor(folder)["resources"]
              if r.get("name") == f"{table}-structures"]  # fmt: skip
    path = folder / (listed[0] if listed else f"{table}-structures.parquet")
    if not path.is_file():
        raise ReleaseNotFound(f"{folder} has no structures of {table!r} ({path.name})")
    dataset = pads.dataset(path, format="parquet")
    expression = None if material_ids is None else pads.field("material_id").isin(material_ids)
    texts = dataset.to_table(filter=expression)
    from elastic_atlas.inputs.cif import parse_cif  # pymatgen: only when structures are asked

    out: dict[str, Any] = {}
    for material_id, cif in zip(
        texts.column("material_id").to_pylist(), texts.column("cif").to_pylist(), strict=True
    ):
        structure = parse_cif(cif)
        out[material_id] = _to_ase(structure) if ase else structure
    missing = sorted(set(material_ids or []) - set(out))
    if missing:
        raise KeyError(f"no structure in {path.name} for {missing[:5]}")
    return out


def _to_ase(structure: Structure) -> Any:
    try:
        from pymatgen.io.ase import AseAtomsAdaptor
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError("ASE Atoms need ASE: pip install ase") from error
    return AseAtomsAdaptor.get_atoms(structure)


# ------------------------------------------------------------------ validation
def validate(path: PathLike, *, strict: bool = False, keep_rows: int = 1_000) -> list[Finding]:
    """The findings of `elastic-atlas validate` for a release (folder or datapackage.json) or
    one table file, as objects (check, severity, row, material_id, columns, message); an empty
    list when there is nothing to report. Errors have severity 'error'. At most `keep_rows`
    failing rows are listed per check of a table (0: all); one more finding per check stands
    for the rest (`more` says how many)."""
    from elastic_atlas.contract.settings import ValidationSettings
    from elastic_atlas.validation.package import validate_package, validate_table_file

    settings = ValidationSettings.load()
    tolerance = settings.strict_tolerance.value if strict else settings.tolerance.value
    target = Path(path)
    if target.is_dir():
        target = target / "datapackage.json"
    if target.suffix.lower() == ".json":
        return validate_package(target, tolerance=tolerance, settings=settings,
                                keep_rows=keep_rows)  # fmt: skip
    return validate_table_file(target, tolerance=tolerance, settings=settings,
                               keep_rows=keep_rows)  # fmt: skip
