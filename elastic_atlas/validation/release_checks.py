"""A release checked against itself: each file against every other statement of it.

Row rules and per-file hashes catch a broken file; they do not catch a forged one whose hash
was updated. These checks do: the CSV and Parquet copies of a table agree row by row (within
the CSV's stated precision), CHECKSUMS.sha256 agrees with the files and with datapackage.json,
every checkpoint file agrees with its model.json and the checkpoint loads, croissant.json's
hashes, units and licences agree with the descriptor, every Parquet field and file carries the
contract's metadata, no contract table hides under another name or as a plain file, and no two
resources share a name.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from elastic_atlas.contract.schema import SIGNIFICANT_DIGITS, load_table_schema
from elastic_atlas.digest import file_digest
from elastic_atlas.validation.contract_checks import CONTRACT_TABLES, contract_table
from elastic_atlas.validation.findings import Finding, table_finding
from elastic_atlas.validation.tableio import TableReadError, iter_arrow


def release_findings(descriptor: dict[str, Any], base: Path) -> list[Finding]:
    """Every cross-check of a release folder (the folder of its datapackage.json)."""
    resources = descriptor.get("resources", [])
    found = duplicate_names(resources) + escaped_tables(resources)
    for table in CONTRACT_TABLES:
        found += csv_matches_parquet(base, table, resources)
        found += parquet_metadata(base, table, descriptor)
        found += structures_match(base, table, resources)
        found += intervals_use_the_cards(base, table, resources)
    found += checksums(base, resources)
    found += checkpoints(base, resources)
    found += croissant(base, descriptor)
    return found


def _finding(check: str, what: str, message: str) -> Finding:
    return table_finding(f"release.{check}", [what], message)


def duplicate_names(resources: list[dict[str, Any]]) -> list[Finding]:
    counts = Counter(str(r.get("name")) for r in resources)
    return [
        _finding("duplicate_name", name, f"{n} resources are named {name!r}")
        for name, n in sorted(counts.items())
        if n > 1
    ]


def escaped_tables(resources: list[dict[str, Any]]) -> list[Finding]:
    """A file named like a contract table (mped.csv, ned.parquet) must be declared as that
    table: renamed or declared `type: file`, it would skip every row check."""
    found = []
    for resource in resources:
        path = PurePosixPath(str(resource.get("path", "")))
        stem, suffix = path.stem, path.suffix.lstrip(".")
        if len(path.parts) == 1 and stem in CONTRACT_TABLES and suffix in ("csv", "parquet"):
            declared = contract_table(resource, None)
            if declared != stem or resource.get("type", "table") != "table":
                found.append(
                    _finding(
                        "escaped_table",
                        str(resource.get("name")),
                        f"{path} is the {stem} table but is declared as "
                        f"{resource.get('name')!r} of type {resource.get('type', 'table')!r}",
                    )
                )
    return found


def _table_paths(base: Path, table: str, resources: list[dict[str, Any]]) -> dict[str, Path]:
    out = {}
    for resource in resources:
        if contract_table(resource, None) == table and resource.get("format") in ("csv", "parquet"):
            path = base / str(resource["path"])
            if path.is_file() and path.resolve().is_relative_to(base.resolve()):
                out[resource["format"]] = path
    return out


def csv_matches_parquet(base: Path, table: str, resources: list[dict[str, Any]]) -> list[Finding]:
    """Same ids in the same order, every cell equal (numbers within the CSV's stated
    significant digits): a CSV edited alone, hash updated, no longer matches its Parquet."""
    paths = _table_paths(base, table, resources)
    if set(paths) != {"csv", "parquet"}:
        return []
    schema = load_table_schema(table)
    first: dict[str, tuple[int, Any, Any]] = {}  # field -> (row, CSV cell, Parquet cell)
    differing: dict[str, int] = {}
    rows = {"csv": 0, "parquet": 0}
    try:
        for offset, text, exact in _paired(iter_arrow(paths["csv"]),
                                           iter_arrow(paths["parquet"]), rows):  # fmt: skip
            for field in schema["fields"]:
                name = field["name"]
                if name not in text.column_names or name not in exact.column_names:
                    continue
                found = _differing_rows(text.column(name), exact.column(name), field)
                if found.size and name not in first:
                    at = int(found[0])
                    first[name] = (offset + at, text.column(name)[at].as_py(),
                                   exact.column(name)[at].as_py())  # fmt: skip
                differing[name] = differing.get(name, 0) + int(found.size)
    except TableReadError:
        return []  # the table checks report the unreadable file
    where = f"{table}.csv/{table}.parquet"
    if rows["csv"] != rows["parquet"]:
        message = f"{rows['csv']} CSV rows, {rows['parquet']} Parquet rows"
        return [_finding("csv_parquet", where, message)]
    return [
        _finding(
            "csv_parquet",
            name,
            f"{name} differs between {table}.csv and {table}.parquet in {differing[name]} "
            f"row(s), first data row {row + 1}: {a!r} vs {b!r}",
        )
        for name, (row, a, b) in first.items()
    ]


def _paired(
    left: Iterator[pa.Table], right: Iterator[pa.Table], rows: dict[str, int]
) -> Iterator[tuple[int, pa.Table, pa.Table]]:
    """(offset, left rows, right rows): the two files' chunks cut to equal lengths, in step;
    `rows` ends with each file's row count (the longer one is read to its end)."""
    a = b = None
    offset = 0
    while True:
        while a is None or a.num_rows == 0:
            a = next(left, None)
            if a is None:
                break
            rows["csv"] += a.num_rows
        while b is None or b.num_rows == 0:
            b = next(right, None)
            if b is None:
                break
            rows["parquet"] += b.num_rows
        if a is None or b is None:
            for rest, key in ((left, "csv"), (right, "parquet")):
                rows[key] += sum(t.num_rows for t in rest)
            return
        n = min(a.num_rows, b.num_rows)
        yield offset, a.slice(0, n), b.slice(0, n)
        offset += n
        a, b = a.slice(n), b.slice(n)


def _differing_rows(text: pa.ChunkedArray, exact: pa.ChunkedArray, field: dict) -> np.ndarray:
    a, b = text.to_pylist(), exact.to_pylist()
    digits = field.get(SIGNIFICANT_DIGITS)
    rows = []
    for i, (x, y) in enumerate(zip(a, b, strict=True)):
        if x is None or y is None or (isinstance(y, float) and math.isnan(y)):
            same = (x is None or (isinstance(x, float) and math.isnan(x))) and (
                y is None or (isinstance(y, float) and math.isnan(y))
            )
        elif field["type"] == "number":
            try:  # either file may hold text where a number belongs: then they differ
                x, y = float(x), float(y)
            except (TypeError, ValueError):
                same = False
            else:
                slack = 0.5 * 10.0 ** (1 - digits) if digits else 1e-15
                same = abs(x - y) <= slack * abs(y) + 1e-300
        elif field["type"] == "boolean":
            same = str(x).lower() == str(y).lower()
        else:
            same = str(x) == str(y)
        if not same:
            rows.append(i)
    return np.array(rows, dtype=int)


def parquet_metadata(base: Path, table: str, descriptor: dict[str, Any]) -> list[Finding]:
    """Each Parquet field carries the schema's unit, title and description; the file carries
    the release's version and the table's licence."""
    resources = descriptor.get("resources", [])
    path = _table_paths(base, table, resources).get("parquet")
    if path is None:
        return []
    try:
        arrow = pq.read_schema(path)
    except (OSError, pa.ArrowException):
        return []
    found = []
    for field in load_table_schema(table)["fields"]:
        if field["name"] not in arrow.names:
            continue
        stored = {
            k.decode(): v.decode() for k, v in (arrow.field(field["name"]).metadata or {}).items()
        }
        for key in ("unit", "title", "description"):
            if key in field and stored.get(key) != str(field[key]):
                found.append(
                    _finding(
                        "parquet_metadata",
                        field["name"],
                        f"{table}.parquet: {field['name']} {key} is "
                        f"{stored.get(key)!r}, the contract says {field[key]!r}",
                    )
                )
    meta = {k.decode(): v.decode() for k, v in (arrow.metadata or {}).items()}
    resource = next(
        r for r in resources if contract_table(r, None) == table and r.get("format") == "parquet"
    )
    expected = {
        "elastic_atlas.version": descriptor.get("version"),
        "elastic_atlas.licence": (resource.get("licenses") or [{}])[0].get("name"),
    }
    for key, want in expected.items():
        if want is not None and meta.get(key) != want:
            found.append(
                _finding(
                    "parquet_metadata",
                    key,
                    f"{table}.parquet says {key} = {meta.get(key)!r}, the descriptor {want!r}",
                )
            )
    return found


def checksums(base: Path, resources: list[dict[str, Any]]) -> list[Finding]:
    """CHECKSUMS.sha256 (when the folder has one) lists every file with its true digest, and
    agrees with each resource's declared sha256."""
    listing = base / "CHECKSUMS.sha256"
    if not listing.is_file():
        return []
    found = []
    listed: dict[str, str] = {}
    for number, line in enumerate(listing.read_text(encoding="utf-8").splitlines(), 1):
        digest, _, name = line.partition("  ")
        if len(digest) != 64 or not name:
            found.append(
                _finding("checksums", listing.name, f"line {number} is not 'sha256  path'")
            )
            continue
        listed[name] = digest
    files = {p.relative_to(base).as_posix() for p in base.rglob("*") if p.is_file()}
    files.discard("CHECKSUMS.sha256")
    for name in sorted(files - set(listed)):
        found.append(_finding("checksums", name, f"{name} is not in CHECKSUMS.sha256"))
    for name, digest in sorted(listed.items()):
        path = base / name
        if name not in files:
            found.append(_finding("checksums", name, f"{name} is listed but missing"))
        elif file_digest(path) != digest:
            found.append(_finding("checksums", name, f"{name} does not match CHECKSUMS.sha256"))
    for resource in resources:
        declared = str(resource.get("hash", ""))
        name = str(resource.get("path", ""))
        if declared.startswith("sha256:") and name in listed and listed[name] != declared[7:]:
            found.append(
                _finding(
                    "checksums", name, f"datapackage.json and CHECKSUMS.sha256 disagree on {name}"
                )
            )
    return found


def checkpoints(base: Path, resources: list[dict[str, Any]]) -> list[Finding]:
    """Each checkpoint folder of the release: its model.json is a valid card, every file it
    lists has the sha256 it states (a swapped weight file is caught even when the descriptor's
    hash was updated), and — where torch is installed — the checkpoint loads."""
    folders = sorted(
        {PurePosixPath(str(r.get("path"))).parts[1] for r in resources
         if str(r.get("path", "")).startswith("models/")
         and len(PurePosixPath(str(r.get("path"))).parts) == 3}
    )  # fmt: skip
    found = []
    for name in folders:
        folder = base / "models" / name
        if (folder / "model.json").is_file():
            problem = _checkpoint_problem(folder)
            if problem:
                found.append(_finding("checkpoint", name, " ".join(problem.split())))
    return found


def _checkpoint_problem(folder: Path) -> str | None:
    from elastic_atlas.model.card_schema import validated_card

    try:
        card = validated_card(json.loads((folder / "model.json").read_text()), "model.json")
    except (ValueError, RecursionError) as error:
        return str(error)
    for entry in [*card.members, card.atom_features]:
        path = folder / entry.file
        if not path.is_file() or file_digest(path) != entry.sha256:
            return f"{entry.file} does not match the sha256 its model.json states"
    try:
        from elastic_atlas.model.checkpoint import CheckpointError
        from elastic_atlas.model.loading import load_checkpoint
    except ImportError:  # a light install: the hashes above are the check
        return None
    try:
        load_checkpoint(folder)
    except CheckpointError as error:
        return str(error)
    return None


def intervals_use_the_cards(
    base: Path, table: str, resources: list[dict[str, Any]]
) -> list[Finding]:
    """Each row's 95 % interval is ±k95·u with the k95 of the model card of the checkpoint
    the table's resource names (a forged or re-scaled interval is caught even where the
    descriptor's hashes were updated)."""
    from elastic_atlas.contract.schema import field_map, load_table_schema
    from elastic_atlas.validation.interval_rules import check_intervals
    from elastic_atlas.validation.tableio import type_table

    rows = _table_paths(base, table, resources).get("parquet")
    factors = _card_calibrations(base, table, resources)
    if rows is None or not factors:
        return []
    schema = load_table_schema(table)
    fields, first, count = field_map(schema), None, 0  # one finding says them all
    try:
        for chunk in iter_arrow(rows):
            found = check_intervals(type_table(rows, chunk, fields), schema, factors)
            first, count = first or (found[0] if found else None), count + len(found)
    except (TableReadError, OSError, pa.ArrowException):
        return []  # the table checks report an unreadable table
    if first is None:
        return []
    message = (
        f"{count} row(s) whose 95 % interval is not ±k·u with the model card's k, e.g. "
        f"{first.material_id}: {first.message}"
    )
    return [_finding("intervals", rows.name, message)]


def _card_calibrations(base: Path, table: str, resources: list[dict[str, Any]]) -> dict[str, Any]:
    """Target -> calibration from the model cards of the checkpoints a table's resources name."""
    from elastic_atlas.model.calibration import Calibration

    factors: dict[str, Any] = {}
    for resource in resources:
        if resource.get("elastic_atlas:table") != table:
            continue
        for checkpoint in _listed_checkpoints(resource.get("elastic_atlas:checkpoints")):
            card = (base / str(checkpoint.get("path", "")) / "model.json").resolve()
            if not card.is_relative_to(base.resolve()) or not card.is_file():
                continue
            try:
                targets = json.loads(card.read_text()).get("targets", [])
                for target in targets:
                    if isinstance(target, dict) and isinstance(target.get("calibration"), dict):
                        calibration = Calibration.from_dict(target["calibration"])
                        factors[str(target["name"])] = calibration
            except (ValueError, KeyError, TypeError, RecursionError, AttributeError):
                continue  # `checkpoints` reports a card that is not valid
    return factors


def _listed_checkpoints(listed: Any) -> list[dict[str, Any]]:
    """The checkpoints a resource names (anything else there is ignored)."""
    return [c for c in listed if isinstance(c, dict)] if isinstance(listed, list) else []


def structures_match(base: Path, table: str, resources: list[dict[str, Any]]) -> list[Finding]:
    """The structures file holds exactly one structure per row of its table."""
    rows = _table_paths(base, table, resources).get("parquet")
    path = base / f"{table}-structures.parquet"
    listed = any(str(r.get("path")) == path.name for r in resources)
    if rows is None or not listed or not path.is_file():
        return []
    try:
        ids = pq.read_table(rows, columns=["material_id"]).column(0).to_pylist()
        shipped = pq.read_table(path, columns=["material_id"]).column(0).to_pylist()
    except (OSError, pa.ArrowException, KeyError):
        return [_finding("structures", path.name, f"{path.name} has no readable material_id")]
    if sorted(ids) != sorted(shipped):
        missing = sorted(set(ids) - set(shipped))[:3]
        extra = sorted(set(shipped) - set(ids))[:3]
        message = (
            f"{path.name} and {table}.parquet hold other ids (missing {missing}, extra {extra})"
        )
        return [_finding("structures", path.name, message)]
    return []


def croissant(base: Path, descriptor: dict[str, Any]) -> list[Finding]:
    """croissant.json's file hashes, licences and units agree with the descriptor."""
    path = base / "croissant.json"
    if not path.is_file():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as error:
        return [_finding("croissant", path.name, f"not JSON: {error}")]
    found = []
    by_path = {str(r.get("path")): r for r in descriptor.get("resources", [])}
    for entry in data.get("distribution", []):
        name = str(entry.get("contentUrl"))
        file = base / name
        declared = str(by_path.get(name, {}).get("hash", "")).removeprefix("sha256:")
        if not file.is_file() or entry.get("sha256") not in (file_digest(file), None):
            found.append(_finding("croissant", name, f"croissant.json's sha256 of {name} is wrong"))
        elif declared and entry.get("sha256") != declared:
            found.append(
                _finding(
                    "croissant", name, f"croissant.json and datapackage.json disagree on {name}"
                )
            )
    tables = [
        r
        for r in descriptor.get("resources", [])
        if r.get("format") == "parquet" and contract_table(r, None)
    ]
    licences = sorted({r["licenses"][0]["path"] for r in tables if r.get("licenses")})
    stated = data.get("license")
    stated = sorted(stated if isinstance(stated, list) else [stated])
    if licences and stated != licences:
        found.append(
            _finding("croissant", "license", f"croissant.json says {stated}, the tables {licences}")
        )
    for record in data.get("recordSet", []):
        table = str(record.get("@id"))
        if table not in CONTRACT_TABLES:
            continue
        units = {f["name"]: f.get("unit", "1") for f in load_table_schema(table)["fields"]}
        for field in record.get("field", []):
            name = str(field.get("name"))
            if name in units and not str(field.get("description", "")).endswith(
                f"Unit: {units[name]}."
            ):
                found.append(
                    _finding(
                        "croissant",
                        f"{table}/{name}",
                        f"croissant.json's unit of {table}/{name} is not {units[name]}",
                    )
                )
    return found
