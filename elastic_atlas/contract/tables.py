"""The tables of the project, named once: their ids (the value), titles and what their rows
are. Schema files, recipes, releases and the validators all take the ids from here."""

from __future__ import annotations

from enum import StrEnum


class Table(StrEnum):
    """A table of the study: its id, its title, and the source of its structures."""

    title: str
    source: str

    def __new__(cls, value: str, title: str, source: str):
        member = str.__new__(cls, value)
        member._value_ = value
        member.title, member.source = title, source
        return member

    MPED = "mped", "MPED (Materials Project)", "Materials Project"
    NED = "ned", "NED (GNoME)", "GNoME"


TABLE_IDS = tuple(t.value for t in Table)
