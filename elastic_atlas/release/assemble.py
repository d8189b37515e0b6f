"""`elastic-atlas release`: build, validate and package a versioned release, atomically.

Everything is written into a temporary folder next to `releases/` and renamed into place at the
end, so an interrupted build leaves no partial release. An existing version is never
overwritten: building it again rebuilds aside and checks the result is byte-identical.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from elastic_atlas import __version__
from elastic_atlas.contract.checklist import checklist_text
from elastic_atlas.contract.schema import load_table_schema
from elastic_atlas.digest import file_digest
from elastic_atlas.inputs.recipe import Recipe, RecipeError, Strict, load_recipe, validated
from elastic_atlas.paths import contract_root, display_path
from elastic_atlas.pipeline.run import build_table, literature_comparison
from elastic_atlas.release.descriptor import (
    PACKAGE_PROFILE,
    SOURCES,
    contributors,
    rebase,
    rejects_schema,
    resource,
    write_checksums,
    write_json,
)
from elastic_atlas.release.figures import table_figures
from elastic_atlas.validation.package import validate_table_file
from elastic_atlas.validation.rules import ValidationSettings

SEMVER = re.compile(r"^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$")
TABLE_TITLES = {"mped": "MPED (Materials Project)", "ned": "NED (GNoME)"}


class ReleaseError(Exception):
    """The release cannot be made (bad version, validation errors, existing version differs)."""


class ReleaseSetupError(RecipeError):
    """The environment of a release is unusable (an invalid SOURCE_DATE_EPOCH): exit 2."""


class ReleaseConfig(Strict):
    name: str
    title: str
    description: str
    keywords: list[str]
    sample: bool = False
    tables: dict[str, Path]


def load_config(path: Path) -> tuple[ReleaseConfig, dict[str, Recipe]]:
    config = validated(ReleaseConfig, path)
    recipes = {t: load_recipe((path.parent / p).resolve()) for t, p in config.tables.items()}
    return config, recipes


def check_version(version: str, config: ReleaseConfig) -> None:
    if not SEMVER.match(version):
        raise ReleaseError(f"version {version!r} is not X.Y.Z[-pre][+build]")
    if config.sample and "sample" not in version.partition("+")[2]:
        raise ReleaseError(f"a sample release needs '+sample' build metadata: {version}+sample")
    if not config.sample and "sample" in version:
        raise ReleaseError("only a release of the embedded sample may be labelled 'sample'")


def created_timestamp() -> str:
    """SOURCE_DATE_EPOCH when set (reproducible builds), else today at 00:00 UTC."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if not epoch:
        return datetime.now(UTC).strftime("%Y-%m-%dT00:00:00Z")
    try:
        seconds = int(epoch)
        if seconds < 0:
            raise ValueError(epoch)
        moment = datetime.fromtimestamp(seconds, UTC)
    except (ValueError, OverflowError, OSError):
        raise ReleaseSetupError(
            f"SOURCE_DATE_EPOCH={epoch!r} is not a count of seconds since 1970; unset it or "
            "give e.g. $(git log -1 --format=%ct)"
        ) from None
    return moment.strftime("%Y-%m-%dT00:00:00Z")


def input_hashes(recipe: Recipe) -> list[dict[str, str]]:
    """sha256 of every input file (a folder: of its sorted 'name digest' lines)."""
    paths = [s.path for s in recipe.structures if s.kind == "cif"]
    paths += [recipe.summary.path] if recipe.summary else []
    out = []
    for path in paths:
        if path.is_dir():
            lines = "".join(
                f"{p.name} {file_digest(p)}\n" for p in sorted(path.iterdir()) if p.is_file()
            )
            digest = hashlib.sha256(lines.encode()).hexdigest()
        else:
            digest = file_digest(path) if path.exists() else "missing"
        out.append({"path": display_path(path), "sha256": digest})
    return out


def build_release(
    config_path: Path,
    version: str,
    releases: Path,
    *,
    force: bool = False,
    workers: int = 2,
    quiet: bool = False,
    root_descriptor: bool = True,
) -> Path:
    """Build `releases/<version>/`. With `root_descriptor` (the repository's own releases/)
    the folder above gets datapackage.json pointing at it and CHANGES.md; otherwise both go
    inside `releases`, so nothing is written outside the folder a user named."""
    config, recipes = load_config(config_path)
    check_version(version, config)
    created = created_timestamp()
    target = releases / version
    releases.mkdir(parents=True, exist_ok=True)
    remove_abandoned_scratch(releases)
    scratch = releases / f".{version}.building-{os.getpid()}"
    if target.exists() and not force:  # rebuild aside and compare, with the same timestamp
        created = json.loads((target / "datapackage.json").read_text())["created"]
    elif target.exists() and "-" not in version.partition("+")[0]:
        raise ReleaseError(f"{target} exists; --force is only for draft (pre-release) versions")
    try:
        _assemble(config, recipes, version, created, scratch, workers, quiet)
        if target.exists() and not force:
            _compare(scratch, target)
            shutil.rmtree(scratch)
            print(f"{target} exists; the rebuild is byte-identical", file=sys.stderr)
            return target
        if target.exists():
            shutil.rmtree(target)
        os.replace(scratch, target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    # The folder holding releases/ gets the root descriptor of the current release and the log
    # of changes (the repository root by default).
    descriptor = json.loads((target / "datapackage.json").read_text())
    home = releases.parent if root_descriptor else releases
    prefix = f"{releases.name}/{version}" if root_descriptor else version
    write_json(home / "datapackage.json", rebase(descriptor, prefix))
    if not config.sample:  # the sample is rebuilt on every clone; only real releases are logged
        _append_changes(target, home / "CHANGES.md")
    return target


def remove_abandoned_scratch(releases: Path) -> None:
    """Hidden scratch folders of release runs that were killed (their process is gone)."""
    for scratch in releases.glob(".*.building-*"):
        pid = scratch.name.rpartition("-")[2]
        if scratch.is_dir() and not (pid.isdigit() and _alive(int(pid))):
            shutil.rmtree(scratch, ignore_errors=True)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # a leftover of an earlier process that had this pid
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _digests(folder: Path) -> set[str]:
    return {
        f"{file_digest(p)}  {p.relative_to(folder).as_posix()}"
        for p in folder.rglob("*")
        if p.is_file()
    }


def _compare(new: Path, old: Path) -> None:
    """The files as they are on disk now, not as the old checksum file says they were."""
    a, b = _digests(new), _digests(old)
    if a != b:
        differing = sorted({line.split("  ", 1)[1] for line in a ^ b})[:6]
        raise ReleaseError(f"{old} exists and the rebuild differs (never overwritten): {differing}")


def _assemble(
    config: ReleaseConfig,
    recipes: dict[str, Recipe],
    version: str,
    created: str,
    out: Path,
    workers: int,
    quiet: bool,
) -> None:
    out.mkdir(parents=True)
    summaries, validation = {}, {}
    for table, recipe in recipes.items():
        work = out / f".build-{table}"
        summaries[table] = build_table(recipe, work, workers=workers, quiet=quiet)
        if summaries[table]["accepted"] == 0:
            raise ReleaseError(
                f"table {table} has 0 rows ({summaries[table]['inputs']} inputs, none accepted); "
                "a release needs rows: check the recipe's sources and screen"
            )
        for suffix in (".csv", ".parquet"):
            os.replace(work / f"{table}{suffix}", out / f"{table}{suffix}")
        os.replace(work / "rejects.csv", out / f"{table}-rejects.csv")  # licensed per table
        shutil.rmtree(work)
        validation[table] = _validate(out, table)
    for table in recipes:
        title = f"{config.title.split(':')[0]} — {TABLE_TITLES[table]}"
        table_figures(out / f"{table}.parquet", title, out / "figures" / table)
    descriptor = _descriptor(config, recipes, version, created, out, summaries)
    write_json(out / "datapackage.json", descriptor)
    (out / "checklist.json").write_text(checklist_text(), encoding="utf-8")
    (out / "RELEASE.md").write_text(
        release_notes(config, recipes, version, created, summaries, validation, out),
        encoding="utf-8",
    )
    from elastic_atlas.release.sciencedb import write_bundle

    write_bundle(out, descriptor, config)
    write_checksums(out)


def _validate(out: Path, table: str) -> dict[str, Any]:
    """Strict validation of both files of a table; any error aborts the release."""
    settings = ValidationSettings.load()
    counts: dict[str, Any] = {}
    for suffix in (".csv", ".parquet"):
        findings = validate_table_file(
            out / f"{table}{suffix}",
            schema=load_table_schema(table),
            tolerance=settings.strict_tolerance.value,
            settings=settings,
        )
        errors = [f for f in findings if f.severity == "error"]
        if errors:
            raise ReleaseError(
                f"{table}{suffix}: {len(errors)} validation errors, first: {errors[0].message}"
            )
        counts[suffix[1:]] = dict(sorted(Counter(f.check for f in findings).items()))
    return counts


def _descriptor(
    config: ReleaseConfig,
    recipes: dict[str, Recipe],
    version: str,
    created: str,
    out: Path,
    summaries: dict[str, Any],
) -> dict[str, Any]:
    resources = []
    for table in recipes:
        licence = summaries[table]["licence"]
        extra = {
            "title": TABLE_TITLES[table],
            "elastic_atlas:table": table,
            "elastic_atlas:checkpoints": summaries[table]["checkpoints"],
        }
        for suffix in ("csv", "parquet"):
            resources.append(
                resource(out / f"{table}.{suffix}", out, f"{table}-{suffix}", licence, table, extra)
            )
        rejects = resource(
            out / f"{table}-rejects.csv",
            out,
            f"{table}-rejects",
            licence,
            None,
            {"title": f"{TABLE_TITLES[table]}: inputs screened out or rejected, with the reason"},
        )
        rejects["schema"] = rejects_schema()
        resources.append(rejects)
    return {
        "$schema": PACKAGE_PROFILE,
        "name": config.name,
        "title": config.title,
        "version": version,
        "created": created,
        "description": config.description,
        "keywords": config.keywords,
        "contributors": contributors(contract_root() / "CITATION.cff"),
        "sources": SOURCES,
        "elastic_atlas:code_version": __version__,
        "resources": resources,
    }


def release_notes(
    config: ReleaseConfig,
    recipes: dict[str, Recipe],
    version: str,
    created: str,
    summaries: dict[str, Any],
    validation: dict[str, Any],
    out: Path,
) -> str:
    lines = [f"# {config.title}", "", f"Version {version}, {created[:10]}.", ""]
    if config.sample:
        lines += ["**This is the embedded sample, not the study's dataset.**", ""]
    lines += [config.description, ""]
    for table, summary in summaries.items():
        recipe = recipes[table]
        lines += [
            f"## {TABLE_TITLES[table]}",
            "",
            f"- rows: {summary['accepted']} of {summary['inputs']} inputs",
            f"- screened out: {summary['screened_out'] or 'none'}",
            f"- rejected: {summary['rejected'] or 'none'}",
            f"- gap policy: {summary['gap_policy']}"
            + (
                f" ({summary['band_gap_null_rows']} rows without band gap)"
                if summary["gap_policy"] == "include"
                else ""
            ),
            f"- validation (strict, 1e-9): no errors; warnings {validation[table]['csv']}",
            "- inputs:",
        ]
        lines += [f"  - `{i['path']}` sha256 `{i['sha256']}`" for i in input_hashes(recipe)]
        lines += ["- checkpoints:"]
        for c in summary["checkpoints"]:
            lines += [
                f"  - `{c['path']}` ({c['kind']}, {c['members']} member(s), targets "
                f"{c['targets']})" + _metrics(c)
            ]
            lines += [f"    - `{name}` sha256 `{digest}`" for name, digest in c["sha256"].items()]
        lines.append("")
        if recipe.literature and recipe.literature.is_file():
            frame = pd.read_csv(out / f"{table}.csv")
            literature = pd.read_csv(recipe.literature)
            comparison = literature_comparison(frame, literature)
            lines += literature_section(comparison, len(literature))
    lines += how_to_check(list(summaries))
    lines += ["## Changes since the previous version", "", *changes(out, version), ""]
    return "\n".join(lines)


def how_to_check(tables: list[str]) -> list[str]:
    """Commands with which anyone can verify a copy of this release folder."""
    checklist = [
        f"frictionless validate --checklist checklist.json --resource-name {table}-{suffix} "
        "datapackage.json"
        for table in tables
        for suffix in ("csv", "parquet")
    ]
    return [
        "## How to check this release",
        "",
        "```bash",
        "sha256sum -c CHECKSUMS.sha256        # every file as published",
        "frictionless validate datapackage.json   # schemas, hashes, row counts (CSV)",
        "# the physics consistency rules, per table resource:",
        *checklist,
        "elastic-atlas validate datapackage.json  # all of the above, plus Parquet hashes, NaN",
        "```",
        "",
    ]


def literature_section(comparison: pd.DataFrame, n_literature: int) -> list[str]:
    """Predicted vs measured moduli as a Markdown table, with the errors in log10 GPa."""
    if comparison.empty:
        return []
    log_error = {
        name: np.log10(comparison[name]) - np.log10(comparison[f"{name}_literature"])
        for name in ("k_vrh", "g_vrh")
    }
    lines = [
        "### Predicted vs literature (GPa)",
        "",
        "| material_id | formula | B predicted | B literature | G predicted | G literature |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for row in comparison.sort_values("material_id").itertuples():
        lines.append(
            f"| {row.material_id} | {row.formula} | {row.k_vrh:.1f} | {row.k_vrh_literature:.1f} "
            f"| {row.g_vrh:.1f} | {row.g_vrh_literature:.1f} |"
        )
    lines += [
        "",
        f"{len(comparison)} of the {n_literature} materials with literature moduli are in the "
        "table (the others are screened out); mean absolute (signed) error in log10 GPa: "
        f"B {np.abs(log_error['k_vrh']).mean():.3f} ({log_error['k_vrh'].mean():+.3f}), "
        f"G {np.abs(log_error['g_vrh']).mean():.3f} ({log_error['g_vrh'].mean():+.3f}). "
        "The checkpoints learned PBE elastic constants (Materials Project), which tend to "
        "underestimate measured moduli, so a negative signed error is expected. Literature: "
        f"{'; '.join(sorted(set(comparison['source'])))}.",
        "",
    ]
    return lines


def _metrics(checkpoint: dict[str, Any]) -> str:
    card = contract_root() / checkpoint["path"] / "model.json"
    if not card.is_file():
        return ""
    test = json.loads(card.read_text()).get("metrics", {}).get("test")
    return f"; test MAE {test['mae']:.4f} log10 GPa, R² {test['r2']:.3f}" if test else ""


def previous_version(releases: Path, version: str) -> Path | None:
    def key(p: Path) -> tuple[int, ...]:
        return tuple(int(x) for x in p.name.partition("+")[0].partition("-")[0].split("."))

    others = [
        p
        for p in releases.iterdir()
        if p.is_dir()
        and SEMVER.match(p.name)
        and p.name != version
        and (p / "datapackage.json").exists()
    ]
    return max(others, key=key) if others else None


def changes(out: Path, version: str) -> list[str]:
    previous = previous_version(out.parent, version)
    if previous is None:
        return ["First release."]
    lines = [f"Compared with {previous.name}:"]
    for table_file in sorted(out.glob("*.parquet")):
        old_file = previous / table_file.name
        new = pd.read_parquet(table_file).set_index("material_id")
        if not old_file.exists():
            lines.append(f"- {table_file.stem}: new table, {len(new)} rows")
            continue
        old = pd.read_parquet(old_file).set_index("material_id")
        common = new.index.intersection(old.index)
        shift = (new.loc[common, "k_vrh"] / old.loc[common, "k_vrh"] - 1).abs()
        lines.append(
            f"- {table_file.stem}: {len(new)} rows ({len(new.index.difference(old.index))}"
            f" added, {len(old.index.difference(new.index))} removed); largest relative "
            f"change of B on common rows {shift.max() if len(shift) else 0:.3g}"
        )
    return lines


def _append_changes(target: Path, changes_file: Path) -> None:
    notes = (target / "RELEASE.md").read_text().split("## Changes since the previous version")
    text = changes_file.read_text() if changes_file.exists() else "# Changes\n"
    heading = f"## {target.name}"
    if heading not in text:
        text += f"\n{heading}\n{notes[-1].strip()}\n"
        changes_file.write_text(text)
