"""A string enum whose members carry named facts beside their value (a title, a DOI...)."""

from __future__ import annotations

import inspect
from enum import StrEnum
from typing import Any


class FactEnum(StrEnum):
    """Members are written `NAME = "value", fact1, fact2`; the class's annotations name the
    facts in order, and each becomes an attribute of the member (`Table.MPED.title`)."""

    def __new__(cls, value: str, *facts: Any):
        member = str.__new__(cls, value)
        member._value_ = value
        names = [n for n in inspect.get_annotations(cls) if not n.startswith("_")]
        for name, fact in zip(names, facts, strict=True):
            setattr(member, name, fact)
        return member
