"""The dataset card: releases/<v>/README.md, also the README inside each upload record.

Generated from the schema, the build statistics and the model cards, with Hugging Face
dataset-card YAML front matter (licence, tags, one config per table pointing at its Parquet
file), so the release folder can be pushed to the Hub as it is. The loading snippets are run
by the tests against the sample release.
"""

from __future__ import annotations

from typing import Any

import yaml

from elastic_atlas.contract.references import Relation
from elastic_atlas.contract.schema import load_table_schema
from elastic_atlas.release.citations import bibtex, release_entry, release_key
from elastic_atlas.release.context import TABLE_TITLES, Release
from elastic_atlas.release.facts import differences, table_description
from elastic_atlas.release.notes import how_to_check
from elastic_atlas.release.trust import (
    TRUST_COLUMNS,
    accuracy_text,
    k95_of,
    model_card,
    trust_section,
)

TAGS = ["materials-science", "elastic-moduli", "cgcnn", "crystal-structures", "tabular"]


def front_matter(release: Release, tables: list[str]) -> str:
    licences = sorted({release.statistics[t].licence.lower() for t in tables})
    configs = []
    for index, table in enumerate(tables):
        config: dict[str, Any] = {
            "config_name": table,
            "data_files": [{"split": "train", "path": f"{table}.parquet"}],
        }
        if index == 0:
            config["default"] = True
        configs.append(config)
    meta = {
        "license": licences[0] if len(licences) == 1 else licences,
        "pretty_name": release.config.title,
        "tags": TAGS,
        "size_categories": [_size_category(sum(release.statistics[t].accepted for t in tables))],
        "configs": configs,
    }
    return "---\n" + yaml.safe_dump(meta, sort_keys=False, allow_unicode=True) + "---\n"


def _size_category(rows: int) -> str:
    for limit, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K")):
        if rows < limit:
            return label
    return "100K<n<1M"


def column_dictionary(schema: dict[str, Any]) -> list[str]:
    lines = ["| column | symbol | unit | description |", "|---|---|---|---|"]
    for f in schema["fields"]:
        lines.append(
            f"| `{f['name']}` | {f.get('title', '')} | {f.get('unit', '1')} | "
            f"{f.get('description', '')} |"
        )
    return lines


def table_section(release: Release, table: str) -> list[str]:
    s = release.statistics[table]
    reasons = {**s.screened_out, **s.rejected}
    lines = [
        f"### {TABLE_TITLES[table]}: `{table}.parquet` (authoritative), `{table}.csv`",
        "",
        table_description(release, table),
        "",
        f"Inputs that are not rows, per reason (`{table}-rejects.csv` lists each):",
        "",
        "| reason | inputs |",
        "|---|---:|",
        *[f"| `{reason}` | {count} |" for reason, count in sorted(reasons.items())],
        "",
        "Checkpoints (copied to `models/`):",
        "",
    ]
    for c in s.checkpoints:
        where = c.get("release_path", c["path"])
        accuracy = accuracy_text(model_card(s, c))
        lines.append(f"- `{where}`: {c['members']} member(s), {c['targets']}{accuracy}")
    recipe = release.recipes[table]
    dft_source = recipe.dft.source if recipe.dft else ""
    return [*lines, "", *trust_section(release.built[table].columns(TRUST_COLUMNS), s, dft_source)]


def loading_snippets(table: str) -> list[str]:
    return [
        f"### Loading {table}",
        "",
        "```python",
        "import pandas as pd",
        f'frame = pd.read_parquet("{table}.parquet")',
        "",
        "import polars as pl",
        f'frame = pl.read_parquet("{table}.parquet")',
        "",
        "import duckdb",
        f"query = \"SELECT material_id, k_vrh, g_vrh FROM '{table}.parquet'\"",
        "rows = duckdb.sql(query).fetchall()",
        "",
        "from datasets import load_dataset  # the configs of this card's front matter",
        f'rows = load_dataset("parquet", data_files="{table}.parquet")["train"]',
        "",
        "import elastic_atlas as ea  # pip install elastic-atlas: units in frame.attrs",
        f'frame = ea.load("{table}", release=".")',
        f'first = ea.lookup("{table}", release=".", formula=frame.formula[0])',
        f'structure = ea.structures("{table}", [frame.material_id[0]], release=".")',
        "```",
        "",
        f"`{table}-structures.parquet` holds each row's structure (`material_id`, `cif`: the CIF "
        "text the row was predicted from); `ea.lookup` also takes `material_id=`, `elements=` "
        'and `chemsys=`; `ea.validate(".")` returns the findings of this folder as objects.',
        "",
    ]


def citation_section(release: Release, tables: list[str], doi: str | None) -> list[str]:
    """BibTeX of this release (or record) and of every work its tables rely on."""
    references = release.references(tables)
    table = tables[0] if len(tables) == 1 and len(release.built) > 1 else None
    own = release_entry(
        release.config, release.version, release.year, table, doi or release.config.doi
    )
    derived = [r.short for r, rel in references.items() if rel is Relation.DERIVED_FROM]
    return [
        "## How to cite",
        "",
        "Cite this release (first entry) and the works its rows come from: "
        + ", ".join(derived)
        + "; the study (Liu et al. 2025) and CGCNN supply the method. Their licences ask for "
        "this attribution.",
        "",
        "```bibtex",
        bibtex(references, own, release_key(release.config, release.year)).strip(),
        "```",
        "",
    ]


def about(release: Release, tables: list[str]) -> list[str]:
    """What the data are and are not; the uncertainty bullet says what the checkpoints carry."""
    calibrated = all(len(k95_of(release.statistics[t])) == 2 for t in tables)
    uncertainty = (
        [
            "- `k_vrh_uncertainty` / `g_vrh_uncertainty` are calibrated standard uncertainties",
            "  in log10 GPa: about 68 % of held-out errors lie within u. The errors have heavier",
            "  tails than a normal distribution, so 2u holds fewer than 95 %; the 95 % interval,",
            "  ±k·u in log10 with k from the model card (per group of rows where the card's",
            "  calibration has groups), is published in GPa as `k_vrh_lower` … `k_vrh_upper`",
            "  and `g_vrh_lower` … `g_vrh_upper`.",
        ]
        if calibrated
        else [
            "- `k_vrh_uncertainty` / `g_vrh_uncertainty` and the 95 % interval columns are",
            "  null where a table's checkpoints carry no calibration (the reference CGCNN's do",
            "  not); see each table's checkpoints.",
        ]
    )
    return [
        "## What these data are, and are not",
        "",
        "- **Predictions, not measurements.** Bulk (B) and shear (G) moduli are predicted by",
        "  crystal graph convolutional networks trained on DFT (PBE) elastic constants of the",
        "  Materials Project. Sound velocities, Poisson's ratio and the Debye temperature are",
        "  derived from B, G and the structure (`PHYSICS.md` in this folder); they inherit the",
        "  models' errors.",
        "- PBE tends to underestimate measured moduli; soft and low-density materials carry larger",
        "  errors (`risk_soft`, `risk_low_density`, `risk_high_uncertainty` mark them).",
        *uncertainty,
        "- `k_vrh_dft` / `g_vrh_dft` are DFT values where the build's DFT table has a sane entry;",
        "  `dft_status` says why the others are null. `in_training` says when a row's material was",
        "  among the checkpoint's training entries (null when a checkpoint does not list them).",
        "- Each table's screening, inputs and checkpoint are stated in its own section below.",
        "",
    ]


def dataset_card(release: Release, tables: list[str] | None = None, doi: str | None = None) -> str:
    """The card of the release, or of some of its tables (an upload record's own card)."""
    tables = tables or list(release.built)
    lines = [
        f"# {release.config.title}" + (f" — {tables[0].upper()}" if len(tables) == 1 and
                                        len(release.built) > 1 else ""),
        "",
        f"Version {release.version}, {release.created[:10]}. {release.config.description}",
        "",
        *(["**This is the embedded sample, not the study's dataset.**", ""]
          if release.config.sample else []),
        *about(release, tables),
        "## Tables",
        "",
    ]  # fmt: skip
    for table in tables:
        lines += table_section(release, table)
    lines += differences(release, tables)
    lines += ["## Columns", ""]
    for table in tables:
        lines += [f"### Columns of {table}", "", *column_dictionary(load_table_schema(table)), ""]
    lines += ["## Loading", ""]
    for table in tables:
        lines += loading_snippets(table)
    lines += how_to_check(tables) + citation_section(release, tables, doi)
    return front_matter(release, tables) + "\n" + "\n".join(lines)
