"""`elastic-atlas release`: build, validate and package a versioned release, atomically.

Everything is written into a temporary folder next to `releases/` and renamed into place at the
end, so an interrupted build leaves no partial release. An existing version is never
overwritten: building it again rebuilds aside and checks the result is byte-identical.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from elastic_atlas import __version__
from elastic_atlas.clock import created_timestamp
from elastic_atlas.contract.checklist import checklist_text
from elastic_atlas.contract.licences import table_licence
from elastic_atlas.contract.reasons import rejects_schema
from elastic_atlas.contract.schema import load_table_schema
from elastic_atlas.contract.settings import ValidationSettings
from elastic_atlas.digest import file_digest, source_digest
from elastic_atlas.inputs.recipe import Recipe
from elastic_atlas.paths import contract_root
from elastic_atlas.pipeline.engines import shard_runner
from elastic_atlas.pipeline.outputs import OutputError, check_writable, release_holding
from elastic_atlas.pipeline.run import (
    BuildResult,
    RunOptions,
    run_sharded,
    table_files,
)
from elastic_atlas.pipeline.structures import structures_name, structures_schema
from elastic_atlas.release.changes import changes_schema, previous_version, write_changes
from elastic_atlas.release.checkpoint_files import (
    copy_models,
    model_files,
    model_resources,
    model_sources,
)
from elastic_atlas.release.citations import citation_text
from elastic_atlas.release.context import (
    TABLE_TITLES,
    Release,
    ReleaseError,
    ReleaseSetupError,
    check_version,
    load_config,
)
from elastic_atlas.release.croissant import write_croissant
from elastic_atlas.release.dataset_card import dataset_card
from elastic_atlas.release.descriptor import (
    PACKAGE_PROFILE,
    contributors,
    rebase,
    resource,
    sources,
    write_checksums,
    write_json,
)
from elastic_atlas.release.facts import table_description
from elastic_atlas.release.figures import table_figures
from elastic_atlas.release.notes import append_changes, release_notes
from elastic_atlas.release.page import page_licence, page_resource, write_index
from elastic_atlas.validation.findings import finding_counts
from elastic_atlas.validation.package import validate_table_file


def build_release(
    config_path: Path,
    version: str,
    releases: Path,
    *,
    force: bool = False,
    workers: int = 2,
    quiet: bool = False,
    options: RunOptions | None = None,
    root_descriptor: bool = True,
    report: Callable[[dict[str, dict[str, Any]]], None] | None = None,
) -> Path:
    """Build `releases/<version>/`. With `root_descriptor` (the repository's own releases/)
    the folder above gets datapackage.json pointing at it and CHANGES.md; otherwise both go
    inside `releases`, so nothing is written outside the folder a user named. `report` gets
    the per-table build statistics once the release stands."""
    config, recipes = load_config(config_path)
    check_version(version, config)
    inside = release_holding(releases)
    if inside is not None:  # e.g. --releases releases/1.0.0: would rewrite a published version
        raise OutputError(f"{releases} is inside the release {inside}; give the releases folder")
    home = releases.parent if root_descriptor else releases
    for name in ("datapackage.json", "CHANGES.md"):  # written at the end: checked before work
        check_writable(home / name)
    for source in model_sources(recipes):  # a link in a model folder: refused before any build
        model_files(source)
    created = created_timestamp()
    target = releases / version
    releases.mkdir(parents=True, exist_ok=True)
    remove_abandoned_scratch(releases)
    scratch = releases / f".{version}.building-{os.getpid()}"
    if target.exists() and not force:  # rebuild aside and compare, with the same timestamp
        created = existing_created(target)
    elif target.exists() and "-" not in version.partition("+")[0]:
        raise ReleaseError(f"{target} exists; --force is only for draft (pre-release) versions")
    options = options or RunOptions(workers, None, quiet)
    release = Release(config, recipes, version, created, scratch, options)
    _assemble_in_place(release, target, force)
    # Also after a byte-identical rebuild: a run stopped after the version folder was in place
    # but before the lines below left the releases-folder descriptor or CHANGES.md missing.
    # The folder holding releases/ gets the root descriptor of the current release and the log
    # of changes (the repository root by default).
    descriptor = json.loads((target / "datapackage.json").read_text())
    prefix = f"{releases.name}/{version}" if root_descriptor else version
    if previous_version(releases, "") == target:  # it points at the newest version only
        write_json(home / "datapackage.json", rebase(descriptor, prefix))
    if not config.sample:  # the sample is rebuilt on every clone; only real releases are logged
        append_changes(target, home / "CHANGES.md")
    if report is not None:
        report(release.statistics)
    return target


def _assemble_in_place(release: Release, target: Path, force: bool) -> None:
    """The release assembled aside, then moved to `target` (or compared with it). Its shards
    stay in the parts folder when the build stopped half-way (running again resumes), and
    go once the release stands, or when there is nothing to resume."""
    scratch, parts = release.out, parts_folder(release.out.parent, release.version)
    try:
        _assemble(release)
        if target.exists() and not force:
            _compare(scratch, target)
            shutil.rmtree(scratch)
            print(f"{target} exists; the rebuild is byte-identical", file=sys.stderr)
        else:
            if target.exists():
                shutil.rmtree(target)
            os.replace(scratch, target)
    except BaseException as error:
        if isinstance(error, ReleaseError) or not any(parts.glob("*/s*/manifest.json")):
            shutil.rmtree(parts, ignore_errors=True)  # a finding, or nothing was finished
        raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    shutil.rmtree(parts, ignore_errors=True)  # the release stands


def existing_created(target: Path) -> str:
    """The `created` of an existing version, which a rebuild must reuse to compare bytes."""
    try:
        created = json.loads((target / "datapackage.json").read_text(encoding="utf-8"))["created"]
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        created = None
    if not isinstance(created, str):
        raise ReleaseSetupError(
            f"{target} exists but its datapackage.json is unreadable or has no 'created'; "
            "it is left as it is: move it away or choose another version"
        )
    return created


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


def _assemble(release: Release) -> None:
    out = release.out
    out.mkdir(parents=True)
    # one engine for every table: a Dask cluster starts once, while the first table plans
    with shard_runner(release.options, tables=len(release.recipes)) as run:
        for table, recipe in release.recipes.items():
            result = _build(release, table, recipe, run)
            if result.book.accepted == 0:
                raise ReleaseError(
                    f"table {table} has 0 rows ({result.book.inputs} inputs, none accepted); "
                    "a release needs rows: check the recipe's sources and screen"
                )
            release.built[table] = result
            release.validation[table] = _validate(out, table)
    release.changes = write_changes(out, release.version, list(release.recipes))
    release.model_files, folders = copy_models(release.recipes, out)
    for table, recipe in release.recipes.items():
        sources = [p.resolve() for p in recipe.models.paths()]
        for entry, source in zip(release.statistics[table].checkpoints, sources, strict=True):
            entry["release_path"] = f"models/{folders[source]}"  # where the release holds it
        extra = [recipe.models.atom_init.resolve()] if recipe.models.atom_init else []
        release.model_folders[table] = [folders[p] for p in (*sources, *extra)]
    for table in release.recipes:  # the table's name once; the figure says what it shows
        title = table.upper() + (" (embedded sample)" if release.config.sample else "")
        table_figures(out / f"{table}.parquet", title, out / "figures" / table)
    write_index(release)  # before the descriptor, which lists it
    descriptor = _descriptor(release)
    write_json(out / "datapackage.json", descriptor)
    write_croissant(release, descriptor)
    (out / "checklist.json").write_text(checklist_text(), encoding="utf-8")
    shutil.copyfile(contract_root() / "docs" / "PHYSICS.md", out / "PHYSICS.md")
    (out / "RELEASE.md").write_text(release_notes(release), encoding="utf-8")
    (out / "README.md").write_text(dataset_card(release), encoding="utf-8")
    from elastic_atlas.release.sciencedb import write_bundle

    write_bundle(release, descriptor)
    write_checksums(out)


def parts_folder(releases: Path, version: str) -> Path:
    """Where a release's shards wait until the release stands (a stopped run resumes)."""
    return releases / f".parts-{version}"


def _build(
    release: Release, table: str, recipe: Recipe, runner: Callable[..., None]
) -> BuildResult:
    """A table's files in the release folder, through shards on the release's engine."""
    about = parquet_about(release, table_licence([o.licence for o in recipe.structures]))
    parts = parts_folder(release.out.parent, release.version) / table
    files = table_files(release.out, table, f"{table}-rejects.csv")  # rejects per table
    return run_sharded(recipe, release.options, files, parts, about, runner)


def parquet_about(release: Release, licence: str) -> dict[str, str]:
    """What a Parquet file of the release says of itself, read alone."""
    return {
        "dataset": release.config.name,
        "title": release.config.title,
        "version": release.version,
        "licence": licence,
        "citation": citation_text(
            release.config, release.version, release.year, release.config.doi
        ),
    }


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
            count = sum(f.more or 1 for f in errors)
            raise ReleaseError(
                f"{table}{suffix}: {count} validation errors, first: {errors[0].message}"
            )
        per_check: Counter[str] = Counter()
        for (_, check), count in finding_counts(findings).items():  # listed or only counted
            per_check[check] += count
        counts[suffix[1:]] = dict(sorted(per_check.items()))
    return counts


def _table_resources(release: Release, table: str) -> list[dict[str, Any]]:
    """A table's files as resources: CSV and Parquet (with the schema and the checkpoints),
    its rejects, its structures and, beside a previous version, its per-row changes."""
    out, stats = release.out, release.statistics[table]
    licence, title = stats.licence, TABLE_TITLES[table]
    extra = {
        "title": title,
        "description": table_description(release, table),
        "elastic_atlas:table": table,
        "elastic_atlas:checkpoints": stats.checkpoints,
    }
    resources = [
        resource(out / f"{table}.{suffix}", out, f"{table}-{suffix}", licence, table, extra)
        for suffix in ("csv", "parquet")
    ]
    files = [
        (f"{table}-rejects.csv", "rejects", "inputs screened out or rejected, with the reason",
         rejects_schema()),
        (structures_name(table), "structures", "the structure of every row (CIF text)",
         structures_schema()),
    ]  # fmt: skip
    change = release.changes.get(table)
    if change is not None and not change.new_table:
        since = f"rows added, removed or changed since {change.previous}"
        files.append((change.file_name, "changes", since, changes_schema()))
    for name, kind, what, schema in files:
        entry = resource(
            out / name, out, f"{table}-{kind}", licence, None, {"title": f"{title}: {what}"}
        )
        entry["schema"] = schema
        resources.append(entry)
    return resources


def _descriptor(release: Release) -> dict[str, Any]:
    config, out = release.config, release.out
    resources = [r for table in release.recipes for r in _table_resources(release, table)]
    resources += model_resources(release.model_files, out)
    page_licence_id = page_licence(release, list(release.recipes))
    resources.append(page_resource(out / "index.html", out, page_licence_id))
    # The release's own DOI, never the study's: none until one is minted for this dataset.
    identity = {"id": f"https://doi.org/{config.doi}"} if config.doi else {}
    homepage = {"homepage": config.homepage} if config.homepage else {}
    return {
        "$schema": PACKAGE_PROFILE,
        **identity,
        "name": config.name,
        "title": config.title,
        "version": release.version,
        "created": release.created,
        "description": config.description,
        "keywords": config.keywords,
        **homepage,
        "citation": citation_text(release.config, release.version, release.year, config.doi),
        "contributors": contributors(config),
        "sources": sources(release.references()),
        "elastic_atlas:code_version": __version__,
        "elastic_atlas:code_sha256": source_digest(),
        "resources": resources,
    }
