"""Hatchling build hook: an editable install gets no copies of the declarative folders.

The wheel carries schema/, validate/, build/, models/ and CITATION.cff inside the package
(`force-include` in pyproject.toml). An editable install reads them from the clone; copies in
site-packages would be stale, and any `elastic_atlas/` folder there would be taken for a
namespace package ahead of the editable redirect. Hatchling needs a non-empty map to replace
`force-include`, so the licence goes beside the package, outside any import path.
"""

from __future__ import annotations

from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class CustomBuildHook(BuildHookInterface):
    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if version == "editable":
            build_data["force_include_editable"] = {"LICENSE": "elastic_atlas-LICENSE.txt"}
