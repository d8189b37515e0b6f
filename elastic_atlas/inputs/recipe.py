"""Build recipes (TOML in build/): what goes into a table and with which checkpoints.

Relative paths in a recipe are relative to the recipe file, so a recipe works from any folder.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from elastic_atlas.contract.references import Reference
from elastic_atlas.contract.tables import Table
from elastic_atlas.errors import RecipeError
from elastic_atlas.paths import contract_root

# Tc (43), Pm (61) and every element from Po (84) upward: no stable isotope. Spelled out so that
# reading a recipe (and training) does not import pymatgen; tests/inputs check it against
# pymatgen's elements 84-118.
RADIOACTIVE = (
    "Tc", "Pm", "Po", "At", "Rn", "Fr", "Ra", "Ac", "Th", "Pa", "U", "Np", "Pu", "Am", "Cm", "Bk",
    "Cf", "Es", "Fm", "Md", "No", "Lr", "Rf", "Db", "Sg", "Bh", "Hs", "Mt", "Ds", "Rg", "Cn", "Nh",
    "Fl", "Mc", "Lv", "Ts", "Og",
)  # fmt: skip


class ScreenSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")  # `band_gap_mx = 1.0` is an error, not ignored

    band_gap_min: float = Field(0.1, description="lowest band gap kept (eV, inclusive)")
    band_gap_max: float = Field(3.0, description="highest band gap kept (eV, inclusive)")
    gap_policy: Literal["exclude", "include"] = "exclude"
    radioactive: list[str] = Field(default_factory=lambda: list(RADIOACTIVE))


class Strict(BaseModel):
    """A config model that refuses unknown keys: a typo must not be silently ignored."""

    model_config = ConfigDict(extra="forbid")


def validated(model: type[Strict], path: Path) -> Any:
    """`model` from a TOML file, or RecipeError naming the file and every offending key."""
    try:
        with Path(path).open("rb") as handle:
            return model.model_validate(tomllib.load(handle))
    except tomllib.TOMLDecodeError as error:
        raise RecipeError(f"{path}: not valid TOML ({error})") from error
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}"
            for e in error.errors()
        )
        raise RecipeError(f"{path}: {problems}") from None


class StructureSource(Strict):
    kind: Literal["cif", "mp_api"] = "cif"  # CIF file/folder/zip, or the Materials Project API
    path: Path = Path(".")  # for kind "cif"
    criteria: dict[str, Any] = Field(default_factory=dict)  # for kind "mp_api", e.g. band_gap_min
    source: str = Field(description="human-readable origin, e.g. 'Materials Project (2018)'")
    licence: str = Field(description="SPDX identifier of the structures' licence")
    snapshot: str = Field("", description="when the data were taken (date or release name)")
    cite: list[Reference] = Field(default_factory=list, description="works the data come from")


class SummarySource(Strict):
    path: Path
    layout: Literal["mp", "gnome"] | None = None  # detected from the columns when absent
    # Space groups from the summary are checked against the structure on 1 row in N (1: all).
    symmetry_check_every: int = Field(16, ge=0)


class DftSource(Strict):
    """A DFT elastic table to set beside the predictions (`material_id, k_vrh, g_vrh` in GPa)."""

    path: Path
    source: str = Field(description="human-readable origin, e.g. 'Materials Project (2023)'")
    snapshot: str = Field("", description="when the data were taken (date or release name)")
    cite: list[Reference] = Field(default_factory=list, description="works the data come from")


# The project's own frozen checkpoint (one network for K and G), shipped with the package.
DEFAULT_MODEL = "cgcnn3x64-matbench-2026-12-02-kg-loco"


def default_checkpoint() -> Path:
    return contract_root() / "models" / DEFAULT_MODEL


class Models(Strict):
    """Checkpoints of a table: one `checkpoint` predicting both moduli, or a `bulk` and a
    `shear` checkpoint (the reference CGCNN's); a recipe without [models] uses the default."""

    checkpoint: Path | None = None
    bulk: Path | None = None
    shear: Path | None = None
    atom_init: Path | None = None  # only for reference CGCNN checkpoints

    @model_validator(mode="after")
    def _one_network_or_a_pair(self) -> Models:
        if (self.bulk is None) != (self.shear is None):
            raise ValueError("name both bulk and shear, or neither (then `checkpoint`)")
        if self.checkpoint is not None and self.bulk is not None:
            raise ValueError("name `checkpoint` or `bulk` + `shear`, not both")
        if self.checkpoint is None and self.bulk is None:
            self.checkpoint = default_checkpoint()
        return self

    def paths(self) -> list[Path]:
        """The checkpoint files or folders, in the order they are loaded."""
        return [p for p in (self.checkpoint, self.bulk, self.shear) if p is not None]


class Recipe(Strict):
    table: Table
    title: str = ""
    structures: list[StructureSource]
    summary: SummarySource | None = None
    literature: Path | None = None  # optional CSV: material_id, k_vrh, g_vrh, source
    dft: DftSource | None = None  # optional DFT elastic table for the cross-check columns
    screen: ScreenSettings = ScreenSettings()
    models: Models = Field(default_factory=Models)
    path: Path | None = None  # the recipe file itself


def _resolve(base: Path, path: Path | None) -> Path | None:
    if path is None:
        return None
    path = path.expanduser()
    return path if path.is_absolute() else (base / path).resolve()


def load_recipe(path: Path) -> Recipe:
    recipe = validated(Recipe, path)
    base = Path(path).resolve().parent
    for item in recipe.structures:
        item.path = _resolve(base, item.path)  # type: ignore[assignment]
    if recipe.summary is not None:
        recipe.summary.path = _resolve(base, recipe.summary.path)  # type: ignore[assignment]
    recipe.literature = _resolve(base, recipe.literature)
    if recipe.dft is not None:
        recipe.dft.path = _resolve(base, recipe.dft.path)  # type: ignore[assignment]
    recipe.models.checkpoint = _resolve(base, recipe.models.checkpoint)
    recipe.models.bulk = _resolve(base, recipe.models.bulk)
    recipe.models.shear = _resolve(base, recipe.models.shear)
    recipe.models.atom_init = _resolve(base, recipe.models.atom_init)
    recipe.path = Path(path).resolve()
    return recipe
