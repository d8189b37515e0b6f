"""Materials Project API source: summary documents (id, structure, band gap, symmetry).

Real HTTP code: requests with the key from $MP_API_KEY, pagination with _skip/_limit, and an
on-disk cache keyed by the query, so a rebuild never asks twice. A sharded build (issue 23) asks
twice, differently: the client lists the ids (`list_ids`: `_fields=material_id`, pages of 1,000),
and each shard fetches its own documents by id (`fetch_documents`: `material_ids=`), so a shard's
inputs are fixed by its ids, not by a `_skip` that shifts when the database changes.

Transport failures, read time-outs, 429 and 5xx are retried by urllib3's `Retry` on the
session's adapter (Retry-After in seconds or as an HTTP date, capped; exponential backoff
otherwise). What urllib3 cannot judge — a 200 whose body is not the JSON page we asked for, a
server that ignores `_skip`, a damaged cache file — is handled here. Every failure is one
`MPAPIError` whose message never repeats the server's body (an error page may echo the key).
Tests run it against a local server only.
"""

from __future__ import annotations

import hashlib
import http
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import InvalidHeader
from urllib3.util.retry import Retry

from elastic_atlas.contract.reasons import Reason
from elastic_atlas.inputs.sources import RawStructure, SourceError
from elastic_atlas.paths import cache_dir

BASE_URL = "https://api.materialsproject.org"
SUMMARY_PATH = "/materials/summary/"
FIELDS = ("material_id", "structure", "band_gap", "symmetry")
ID_PAGE = 1_000  # ids per page of a listing (the API's largest _limit)
IDS_PER_REQUEST = 100  # ids per `material_ids=` request: ~1.2 KB of query string, a few MB back
RETRY_STATUS = (429, 500, 502, 503, 504)
MAX_WAIT = 120.0  # seconds: the longest Retry-After honoured; a larger one is cut to this


class MPAPIError(SourceError):
    """The API cannot be used: no key, a refused key, a failed request after every retry, or
    an answer that is not the page asked for."""


class CappedRetry(Retry):
    """urllib3's Retry with a bounded wait: a Retry-After that is negative, unparsable or huge
    becomes 0 (then the exponential backoff applies) or `max_wait`."""

    def __init__(self, *args: Any, max_wait: float = MAX_WAIT, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_wait = max_wait

    def new(self, **kwargs: Any) -> CappedRetry:
        retry = super().new(**kwargs)
        retry.max_wait = self.max_wait
        return retry

    def parse_retry_after(self, retry_after: str) -> float:
        try:
            seconds = super().parse_retry_after(retry_after)
        except InvalidHeader:
            return 0.0
        return min(max(seconds, 0.0), self.max_wait)


def default_cache_dir() -> Path:
    """$ELASTIC_ATLAS_CACHE/mp_api, else the per-user cache folder (never the current one)."""
    return cache_dir("mp_api")


def retrying_session(retries: int, backoff: float, max_wait: float) -> requests.Session:
    retry = CappedRetry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        other=0,
        backoff_factor=backoff,
        status_forcelist=RETRY_STATUS,
        allowed_methods=frozenset({"GET"}),
        respect_retry_after_header=True,
        raise_on_status=False,  # the last answer comes back and is reported below
        max_wait=max_wait,
    )
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


class MPClient:
    def __init__(
        self,
        api_key: str | None = None,
        cache_dir: Path | None = None,
        session: requests.Session | None = None,
        *,
        base_url: str | None = None,
        retries: int = 5,
        backoff: float = 1.0,
        max_wait: float = MAX_WAIT,
        page_size: int = 500,
        timeout: tuple[float, float] = (10.0, 60.0),
    ) -> None:
        self.api_key = api_key or os.environ.get("MP_API_KEY")
        if not self.api_key:
            raise MPAPIError("no Materials Project API key: set MP_API_KEY in the environment")
        self.cache_dir = cache_dir if cache_dir is not None else default_cache_dir()
        self.session = session or retrying_session(retries, backoff, max_wait)
        # MP_API_ENDPOINT: the same variable as the official mp-api client (a mirror, a test server)
        base_url = base_url or os.environ.get("MP_API_ENDPOINT") or BASE_URL
        self.base_url, self.page_size, self.timeout = base_url.rstrip("/"), page_size, timeout

    def _cache_path(self, path: str, params: dict[str, Any]) -> Path:
        key = json.dumps([self.base_url, path, sorted(params.items())], default=str)
        return self.cache_dir / f"{hashlib.sha256(key.encode()).hexdigest()}.json"

    def get(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        """One page, from the cache when it was asked before (a damaged cache file is fetched
        again); raises MPAPIError."""
        cached = self._cache_path(path, params)
        payload = _read_cache(cached)
        if payload is not None:
            return payload
        payload = self._fetch(path, params)
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(json.dumps(payload), encoding="utf-8")
        partial.replace(cached)  # a killed run never leaves a truncated page behind
        return payload

    def _fetch(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        headers = {"X-API-KEY": self.api_key, "accept": "application/json"}
        try:
            response = self.session.get(
                self.base_url + path, params=params, headers=headers, timeout=self.timeout
            )
        except requests.RequestException as error:
            raise MPAPIError(
                f"GET {path} failed after every retry ({type(error).__name__}); check the "
                "network and try again later"
            ) from None
        if response.status_code != 200:
            raise MPAPIError(f"GET {path}: {_explain(response.status_code)}")
        return _page(path, response)

    def iter_summary(
        self, fields: tuple[str, ...] = FIELDS, page_size: int | None = None, **criteria: Any
    ) -> Iterator[dict[str, Any]]:
        """Every summary document matching `criteria` (e.g. band_gap_min=0.1), page by page,
        with `fields`. The database must not change under the pages: a `total_doc` that
        differs from one page to the next (an update between them, or cached pages of another
        day beside new ones) is an error, never a listing that skips or repeats documents."""
        skip, seen, first_total = 0, set(), None
        size = page_size or self.page_size
        while True:
            params = {**criteria, "_fields": ",".join(fields), "_limit": size}
            payload = self.get(SUMMARY_PATH, {**params, "_skip": skip})
            documents = payload["data"]
            ids = {str(d.get("material_id")) for d in documents if isinstance(d, dict)}
            if documents and ids <= seen:
                raise MPAPIError(
                    f"GET {SUMMARY_PATH}: the page at _skip={skip} repeats earlier documents "
                    "(the server ignores pagination); stopped instead of looping"
                )
            total = (payload.get("meta") or {}).get("total_doc")
            first_total = total if skip == 0 else first_total
            if total != first_total:
                raise MPAPIError(
                    f"GET {SUMMARY_PATH}: the database changed between pages (total_doc "
                    f"{first_total} at _skip=0, {total} at _skip={skip}); empty the cache "
                    f"folder {self.cache_dir} and run again"
                )
            seen |= ids
            yield from documents
            skip += len(documents)
            # the end: as far as the server counts, or a short page when it does not count (a
            # server may cap _limit below what was asked: its total says more pages follow)
            if not documents or (skip >= total if total else len(documents) < size):
                return

    def list_ids(self, **criteria: Any) -> Iterator[str]:
        """The ids of every document matching `criteria`, in the server's order (the plan of a
        sharded build: a few bytes per material instead of its structure)."""
        for document in self.iter_summary(("material_id",), ID_PAGE, **criteria):
            material_id = document.get("material_id")
            if not isinstance(material_id, str) or not material_id:
                raise MPAPIError(f"GET {SUMMARY_PATH}: a listed document has no material_id")
            yield material_id

    def fetch_documents(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        """The summary documents of `ids` by id, `IDS_PER_REQUEST` ids per request; an id the
        server no longer has is simply absent (the caller says what became of it). An answer
        holding a document not asked for, or one twice, is an error: the server ignored the
        filter."""
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(ids), IDS_PER_REQUEST):
            chunk = ids[start : start + IDS_PER_REQUEST]
            asked = set(chunk)
            criteria = {"material_ids": ",".join(chunk)}
            for document in self.iter_summary(FIELDS, len(chunk), **criteria):
                material_id = document.get("material_id")
                if material_id not in asked or material_id in found:
                    raise MPAPIError(
                        f"GET {SUMMARY_PATH}: asked for {len(chunk)} material_ids, the answer "
                        f"holds {material_id!r} {'twice' if material_id in found else 'too'} "
                        "(the server ignores the filter)"
                    )
                found[material_id] = document
        return found


def _explain(status: int) -> str:
    """A failed status in words; the server's body is never repeated (it may echo the key)."""
    try:
        phrase = http.HTTPStatus(status).phrase
    except ValueError:
        phrase = "unknown status"
    if status in (401, 403):
        return f"HTTP {status} {phrase}: the API key was refused; check MP_API_KEY"
    if status in RETRY_STATUS:
        return f"HTTP {status} {phrase} after every retry; try again later"
    return f"HTTP {status} {phrase}"


def _page(path: str, response: requests.Response) -> dict[str, Any]:
    """The JSON page of a 200 answer, or MPAPIError (an HTML error page, `data: null`, ...)."""
    try:
        payload = response.json()
    except ValueError:
        kind = response.headers.get("content-type", "no content type")
        raise MPAPIError(f"GET {path}: the answer is not JSON ({kind})") from None
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
        raise MPAPIError(f"GET {path}: the answer has no list of documents under 'data'")
    return payload


def _read_cache(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        payload = None
    if isinstance(payload, dict) and isinstance(payload.get("data"), list):
        return payload
    path.unlink(missing_ok=True)  # truncated or foreign: ask the server again
    return None


def document_metadata(document: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """A summary document's band gap and symmetry, and why they cannot be used (None: they
    can): a text band gap must not reach the screen."""
    symmetry = document.get("symmetry") or {}
    metadata = {
        "band_gap": document.get("band_gap"),
        "crystal_system": str(symmetry.get("crystal_system") or "").lower() or None,
        "space_group_number": symmetry.get("number"),
    }
    gap, number = metadata["band_gap"], metadata["space_group_number"]
    if gap is not None and (isinstance(gap, bool) or not isinstance(gap, int | float)):
        return metadata, f"ValueError: band_gap {gap!r} is not a number"
    if number is not None and (not isinstance(number, int) or not 1 <= number <= 230):
        return metadata, f"ValueError: symmetry.number {number!r} is not a space-group number"
    return metadata, None


def raw_from_document(document: dict[str, Any]) -> RawStructure:
    """A summary document as a candidate: the structure as CIF text plus its metadata."""
    from pymatgen.core import Structure
    from pymatgen.io.cif import CifWriter

    material_id = str(document.get("material_id"))
    metadata, problem = document_metadata(document)
    try:
        if problem is not None:
            raise ValueError(problem.removeprefix("ValueError: "))
        text = str(CifWriter(Structure.from_dict(document["structure"])))
    except Exception as error:  # a malformed document must not stop the stream
        return RawStructure(
            material_id,
            None,
            "Materials Project API",
            Reason.UNREADABLE_STRUCTURE,
            f"{type(error).__name__}: {error}"[:300],
            metadata,
            "CC-BY-4.0",
        )
    return RawStructure(
        material_id, text, "Materials Project API", metadata=metadata, licence="CC-BY-4.0"
    )


def iter_mp_api(client: MPClient, **criteria: Any) -> Iterator[RawStructure]:
    for document in client.iter_summary(**criteria):
        yield raw_from_document(document)
