"""The Materials Project client against recorded responses (no network)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from elastic_atlas.cif import parse_cif
from elastic_atlas.mp_api import MPAPIError, MPClient, iter_mp_api

RECORDED = Path(__file__).parent / "fixtures" / "mp_api"


class Recorded:
    """A stand-in for requests.Session that replays responses and records the calls."""

    def __init__(self, responses: list[tuple[int, dict | str, dict]]):
        self.responses = list(responses)
        self.calls: list[tuple[str, dict, dict]] = []

    def get(self, url, params=None, headers=None, timeout=None):
        self.calls.append((url, dict(params or {}), dict(headers or {})))
        status, body, response_headers = self.responses.pop(0)
        response = requests.Response()
        response.status_code = status
        response._content = (json.dumps(body) if isinstance(body, dict) else body).encode()
        response.headers.update(response_headers)
        return response


def page(i: int) -> dict:
    return json.loads((RECORDED / f"summary-page-{i}.json").read_text())


def client(tmp_path, session, **kw) -> MPClient:
    return MPClient(
        api_key="test-key",
        cache_dir=tmp_path / "cache",
        session=session,
        page_size=2,
        sleep=kw.pop("sleep", lambda s: None),
        **kw,
    )


def test_pagination_metadata_and_structures(tmp_path):
    session = Recorded([(200, page(0), {}), (200, page(1), {})])
    raws = list(iter_mp_api(client(tmp_path, session), band_gap_min=0.1))
    assert [r.material_id for r in raws] == ["mp-22862", "mp-66", "mp-1"]
    assert [c[1]["_skip"] for c in session.calls] == [0, 2]
    assert session.calls[0][1]["band_gap_min"] == 0.1
    assert session.calls[0][2]["X-API-KEY"] == "test-key"
    assert session.calls[0][1]["_fields"] == "material_id,structure,band_gap,symmetry"
    nacl = raws[0]
    assert nacl.metadata == {"band_gap": 5.0, "crystal_system": "cubic", "space_group_number": 225}
    assert parse_cif(nacl.text).composition.reduced_formula == "NaCl"
    assert raws[2].text is None and raws[2].reason == "unreadable_structure"


def test_cache_answers_a_repeated_query(tmp_path):
    first = Recorded([(200, page(0), {}), (200, page(1), {})])
    list(iter_mp_api(client(tmp_path, first)))
    second = Recorded([])
    again = list(iter_mp_api(client(tmp_path, second)))
    assert len(again) == 3 and second.calls == []


def test_retries_with_backoff_on_429_and_5xx(tmp_path):
    waits: list[float] = []
    session = Recorded(
        [(429, "slow down", {"Retry-After": "7"}), (503, "busy", {}), (200, page(1), {})]
    )
    c = client(tmp_path, session, sleep=waits.append, backoff=0.5)
    assert c.get("/materials/summary/", {"q": 1})["meta"]["total_doc"] == 3
    assert waits == [7.0, 1.0]  # Retry-After honoured, then 0.5 * 2**1


def test_gives_up_after_the_last_retry_and_on_client_errors(tmp_path):
    session = Recorded([(500, "boom", {})] * 3)
    with pytest.raises(MPAPIError, match="after 3 attempts"):
        client(tmp_path, session, max_retries=2).get("/x", {})
    with pytest.raises(MPAPIError, match="HTTP 403"):
        client(tmp_path, Recorded([(403, "forbidden", {})])).get("/y", {})


def test_needs_a_key(monkeypatch):
    monkeypatch.delenv("MP_API_KEY", raising=False)
    with pytest.raises(MPAPIError, match="MP_API_KEY"):
        MPClient()
