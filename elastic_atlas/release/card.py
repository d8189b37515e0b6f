"""The dataset card: releases/<v>/README.md, also the README inside each upload record.

Generated from the schema, the build summaries and the model cards, with Hugging Face
dataset-card YAML front matter (licence, tags, one config per table pointing at its Parquet
file), so the release folder can be pushed to the Hub as it is. The loading snippets are run
by the tests against the sample release.
"""

from __future__ import annotations

from typing import Any

import yaml

from elastic_atlas.contract.schema import load_table_schema
from elastic_atlas.release.context import TABLE_TITLES, Release
from elastic_atlas.release.datacite import citation_file
from elastic_atlas.release.notes import accuracy_text, how_to_check
from elastic_atlas.release.trust import trust_section

TAGS = ["materials-science", "elastic-moduli", "cgcnn", "crystal-structures", "tabular"]


def front_matter(release: Release) -> str:
    licences = sorted({s["licence"].lower() for s in release.summaries.values()})
    meta = {
        "license": licences[0] if len(licences) == 1 else licences,
        "pretty_name": release.config.title,
        "tags": TAGS,
        "size_categories": [_size_category(sum(s["accepted"] for s in release.summaries.values()))],
        "configs": [
            {"config_name": table, "data_files": [{"split": "train", "path": f"{table}.parquet"}]}
            for table in release.built
        ],
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
    s = release.summaries[table]
    reasons = {**s["screened_out"], **s["rejected"]}
    lines = [
        f"### {TABLE_TITLES[table]}: `{table}.parquet` (authoritative), `{table}.csv`",
        "",
        f"{s['accepted']} rows from {s['inputs']} inputs; licence {s['licence']}. Inputs that "
        f"are not rows are in `{table}-rejects.csv`, each with its reason:",
        "",
        "| reason | inputs |",
        "|---|---:|",
        *[f"| `{reason}` | {count} |" for reason, count in sorted(reasons.items())],
        "",
        "Checkpoints (copied to `models/`):",
        "",
    ]
    for c in s["checkpoints"]:
        lines.append(f"- `{c['path']}`: {c['members']} member(s), {c['targets']}{accuracy_text(c)}")
    recipe = release.recipes[table]
    dft_source = recipe.dft.source if recipe.dft else ""
    return [*lines, "", *trust_section(release.built[table].frame, s, dft_source)]


def loading_snippets(table: str) -> list[str]:
    return [
        "## Loading",
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
        "```",
        "",
    ]


def citation_section() -> list[str]:
    cff = citation_file()
    paper, data = cff["preferred-citation"], cff["references"][0]
    authors = " and ".join(f"{a['family-names']}, {a['given-names']}" for a in paper["authors"])
    title = " ".join(paper["title"].split())
    return [
        "## How to cite",
        "",
        "```bibtex",
        "@article{liu2025elasticity,",
        f"  author = {{{authors}}},",
        f"  title = {{{title}}},",
        f"  journal = {{{paper['journal']}}},",
        f"  volume = {{{paper['volume']}}},",
        f"  pages = {{{paper['start']}}},",
        f"  year = {{{paper['year']}}},",
        f"  doi = {{{paper['doi']}}}",
        "}",
        "@misc{liu2025elasticitydata,",
        f"  author = {{{authors}}},",
        f"  title = {{{' '.join(data['title'].split())}}},",
        f"  publisher = {{{data['publisher']['name']}}},",
        f"  year = {{{data['year']}}},",
        f"  doi = {{{data['doi']}}}",
        "}",
        "```",
        "",
    ]


ABOUT = [
    "## What these data are, and are not",
    "",
    "- **Predictions, not measurements.** Bulk (B) and shear (G) moduli are predicted by crystal",
    "  graph convolutional networks trained on DFT (PBE) elastic constants of the Materials",
    "  Project (Matbench). Sound velocities, Poisson's ratio and the Debye temperature are derived",
    "  from B, G and the structure (PHYSICS.md of the project); they inherit the models' errors.",
    "- PBE tends to underestimate measured moduli; soft and low-density materials carry larger",
    "  errors (`risk_soft`, `risk_low_density`, `risk_high_uncertainty` mark them).",
    "- `k_vrh_uncertainty` / `g_vrh_uncertainty` are calibrated standard uncertainties in log10",
    "  GPa: about 68 % of held-out errors lie within u. The errors have heavier tails than a",
    "  normal distribution, so 2u holds fewer than 95 %; the model card's `k95` gives the 95 %",
    "  interval (±k95·u).",
    "- `k_vrh_dft` / `g_vrh_dft` are DFT values where the build's DFT table has the material;",
    "  `in_training` says when a row's material was among the checkpoint's training entries.",
    "- Screening follows the study: PBE band gap 0.1-3.0 eV and no radioactive element.",
    "",
]


def dataset_card(release: Release) -> str:
    tables = list(release.built)
    lines = [
        f"# {release.config.title}",
        "",
        f"Version {release.version}, {release.created[:10]}. {release.config.description}",
        "",
        *(["**This is the embedded sample, not the study's dataset.**", ""]
          if release.config.sample else []),
        *ABOUT,
        "## Tables",
        "",
    ]  # fmt: skip
    for table in tables:
        lines += table_section(release, table)
    lines += ["## Columns", "", *column_dictionary(load_table_schema(tables[0])), ""]
    lines += loading_snippets(tables[0]) + how_to_check(tables) + citation_section()
    return front_matter(release) + "\n" + "\n".join(lines)
