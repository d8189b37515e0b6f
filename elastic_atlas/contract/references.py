"""The works a release may have to cite, by key: the key a recipe names (`cite = [...]`), the
DOI that finds the full reference in CITATION.cff (the one place references are written), and
how a table's rows relate to the work in DataCite terms.

Relation types (DataCite 4.x) and why:
- IsDerivedFrom: the rows contain or are computed from the work's data — the structures'
  sources, the DFT table published beside the predictions, and the training data of the
  checkpoint (every prediction is a function of it).
- References: the work supplies the method, not data — the study (whose method the release
  re-implements; its dataset is compared with, not copied) and CGCNN (the network).
"""

from __future__ import annotations

from enum import StrEnum

from elastic_atlas.contract.enums import FactEnum


class Relation(StrEnum):
    DERIVED_FROM = "IsDerivedFrom"
    REFERENCES = "References"


class Reference(FactEnum):
    """A citable work: key (the value), DOI, and short name for prose."""

    doi: str
    short: str

    STUDY = "study", "10.7498/aps.74.20250127", "Liu et al. 2025 (the study)"
    STUDY_DATASET = (
        "study-dataset", "10.57760/sciencedb.j00213.00104", "the study's dataset (ScienceDB)",
    )  # fmt: skip
    CGCNN = "cgcnn", "10.1103/PhysRevLett.120.145301", "CGCNN (Xie & Grossman 2018)"
    MATERIALS_PROJECT = "materials-project", "10.1063/1.4812323", "Materials Project (Jain 2013)"
    MP_ELASTIC = "mp-elastic", "10.1038/sdata.2015.9", "MP elastic tensors (de Jong 2015)"
    MATBENCH = "matbench", "10.1038/s41524-020-00406-3", "Matbench (Dunn et al. 2020)"
    GNOME = "gnome", "10.1038/s41586-023-06735-9", "GNoME (Merchant et al. 2023)"


# Every release re-implements the study's method with CGCNN.
METHOD = (Reference.STUDY, Reference.STUDY_DATASET, Reference.CGCNN)
# What a checkpoint's predictions are computed from, by checkpoint kind: the project's own are
# fitted on Matbench's MP elastic entries; the reference CGCNN on MP elastic data.
TRAINING_DATA = {
    "own": (Reference.MATBENCH, Reference.MP_ELASTIC, Reference.MATERIALS_PROJECT),
    "reference": (Reference.MP_ELASTIC, Reference.MATERIALS_PROJECT),
}
