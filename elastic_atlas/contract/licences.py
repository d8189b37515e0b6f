"""Licences of the tables: the identifiers the project knows and how they combine."""

from __future__ import annotations

from elastic_atlas.errors import InputError

LICENCES = {
    "CC0-1.0": {
        "name": "CC0-1.0",
        "path": "https://creativecommons.org/publicdomain/zero/1.0/",
        "title": "Creative Commons Zero 1.0",
    },
    "CC-BY-SA-4.0": {
        "name": "CC-BY-SA-4.0",
        "path": "https://creativecommons.org/licenses/by-sa/4.0/",
        "title": "Creative Commons Attribution-ShareAlike 4.0",
    },
    "CC-BY-NC-SA-4.0": {
        "name": "CC-BY-NC-SA-4.0",
        "path": "https://creativecommons.org/licenses/by-nc-sa/4.0/",
        "title": "Creative Commons Attribution-NonCommercial-ShareAlike 4.0",
    },
    "CC-BY-4.0": {
        "name": "CC-BY-4.0",
        "path": "https://creativecommons.org/licenses/by/4.0/",
        "title": "Creative Commons Attribution 4.0",
    },
    "CC-BY-NC-4.0": {
        "name": "CC-BY-NC-4.0",
        "path": "https://creativecommons.org/licenses/by-nc/4.0/",
        "title": "Creative Commons Attribution-NonCommercial 4.0",
    },
}
# From least to most restrictive for a user of the data. A table built from sources under
# several of these carries the most restrictive one; an unknown identifier, or a mix that no
# single licence satisfies (share-alike with non-commercial terms), refuses the build.
LICENCE_ORDER = ("CC0-1.0", "CC-BY-4.0", "CC-BY-SA-4.0", "CC-BY-NC-4.0", "CC-BY-NC-SA-4.0")
_INCOMPATIBLE = {frozenset({"CC-BY-SA-4.0", "CC-BY-NC-4.0"})}


class LicenceError(InputError, ValueError):
    """Sources whose licences cannot be combined into one table licence."""


def table_licence(licences: list[str]) -> str:
    """The licence of a table made from sources under `licences` (explicit order, not by name)."""
    unknown = sorted(set(licences) - set(LICENCE_ORDER))
    if unknown or not licences:
        raise LicenceError(
            f"unknown licence {unknown or licences}; use one of {', '.join(LICENCE_ORDER)}"
        )
    distinct = set(licences)
    if any(pair <= distinct for pair in _INCOMPATIBLE):
        raise LicenceError(f"licences {sorted(distinct)} cannot be combined in one table")
    return max(distinct, key=LICENCE_ORDER.index)
