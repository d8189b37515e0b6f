"""Materials Project API source: summary documents (id, structure, band gap, symmetry).

Real HTTP code (requests) with the key from $MP_API_KEY, pagination with _skip/_limit, retries
with exponential backoff on 429 and 5xx (honouring Retry-After), and an on-disk cache keyed by
the query, so a rebuild never asks twice. Tests run it against recorded responses only.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import requests

from elastic_atlas.sources import RawStructure, SourceError

BASE_URL = "https://api.materialsproject.org"
SUMMARY_PATH = "/materials/summary/"
FIELDS = ("material_id", "structure", "band_gap", "symmetry")
RETRY_STATUS = {429, 500, 502, 503, 504}


class MPAPIError(SourceError):
    """The API cannot be used: no key, or a request failed after every retry."""


class MPClient:
    def __init__(
        self,
        api_key: str | None = None,
        cache_dir: Path | None = Path("build/cache/mp_api"),
        session: requests.Session | None = None,
        max_retries: int = 5,
        backoff: float = 1.0,
        page_size: int = 500,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.api_key = api_key or os.environ.get("MP_API_KEY")
        if not self.api_key:
            raise MPAPIError("no Materials Project API key: set MP_API_KEY in the environment")
        self.cache_dir = cache_dir
        self.session = session or requests.Session()
        self.max_retries, self.backoff, self.page_size = max_retries, backoff, page_size
        self.sleep = sleep

    def _cache_path(self, path: str, params: dict[str, Any]) -> Path | None:
        if self.cache_dir is None:
            return None
        key = json.dumps([path, sorted(params.items())], default=str)
        return self.cache_dir / f"{hashlib.sha256(key.encode()).hexdigest()}.json"

    def get(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        """One GET, from the cache when it was asked before; retried on 429/5xx."""
        cached = self._cache_path(path, params)
        if cached is not None and cached.exists():
            return json.loads(cached.read_text(encoding="utf-8"))
        headers = {"X-API-KEY": self.api_key, "accept": "application/json"}
        for attempt in range(self.max_retries + 1):
            try:
                response = self.session.get(
                    BASE_URL + path, params=params, headers=headers, timeout=60
                )
            except requests.ConnectionError as error:
                status, reason, retry_after = None, str(error), None
            else:
                if response.status_code == 200:
                    payload = response.json()
                    if cached is not None:
                        cached.parent.mkdir(parents=True, exist_ok=True)
                        cached.write_text(json.dumps(payload), encoding="utf-8")
                    return payload
                status, reason = response.status_code, response.text[:200]
                retry_after = response.headers.get("Retry-After")
                if status not in RETRY_STATUS:
                    raise MPAPIError(f"GET {path} failed with HTTP {status}: {reason}")
            if attempt < self.max_retries:
                delay = float(retry_after) if retry_after else self.backoff * 2**attempt
                self.sleep(delay)
        raise MPAPIError(
            f"GET {path} failed after {self.max_retries + 1} attempts "
            f"(last: HTTP {status}, {reason})"
        )

    def iter_summary(self, **criteria: Any) -> Iterator[dict[str, Any]]:
        """Every summary document matching `criteria` (e.g. band_gap_min=0.1), page by page."""
        skip = 0
        while True:
            params = {
                **criteria,
                "_fields": ",".join(FIELDS),
                "_limit": self.page_size,
                "_skip": skip,
            }
            payload = self.get(SUMMARY_PATH, params)
            documents = payload.get("data", [])
            yield from documents
            total = payload.get("meta", {}).get("total_doc")
            skip += len(documents)
            if not documents or len(documents) < self.page_size or (total and skip >= total):
                return


def raw_from_document(document: dict[str, Any]) -> RawStructure:
    """A summary document as a candidate: the structure as CIF text plus its metadata."""
    from pymatgen.core import Structure
    from pymatgen.io.cif import CifWriter

    material_id = str(document["material_id"])
    symmetry = document.get("symmetry") or {}
    metadata = {
        "band_gap": document.get("band_gap"),
        "crystal_system": (symmetry.get("crystal_system") or "").lower() or None,
        "space_group_number": symmetry.get("number"),
    }
    try:
        text = str(CifWriter(Structure.from_dict(document["structure"])))
    except Exception as error:  # a malformed document must not stop the stream
        return RawStructure(
            material_id,
            None,
            "Materials Project API",
            "unreadable_structure",
            f"{type(error).__name__}: {error}",
            metadata,
            "CC-BY-4.0",
        )
    return RawStructure(
        material_id, text, "Materials Project API", metadata=metadata, licence="CC-BY-4.0"
    )


def iter_mp_api(client: MPClient, **criteria: Any) -> Iterator[RawStructure]:
    for document in client.iter_summary(**criteria):
        yield raw_from_document(document)
