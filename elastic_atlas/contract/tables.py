"""The tables of the project, named once: their ids (the value), titles and what their rows
are. Schema files, recipes, releases and the validators all take the ids from here."""

from __future__ import annotations

from elastic_atlas.contract.enums import FactEnum


class Table(FactEnum):
    """A table of the study: its id, its title, and the source of its structures."""

    title: str
    source: str

    MPED = "mped", "MPED (Materials Project)", "Materials Project"
    NED = "ned", "NED (GNoME)", "GNoME"


TABLE_IDS = tuple(t.value for t in Table)
