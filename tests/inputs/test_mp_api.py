"""The Materials Project client against a scripted local server on 127.0.0.1 (no network).

The server answers from a script of recorded pages and hostile answers, records every request,
and stops at the end of each test (and by itself after a minute, whatever happens).
"""

from __future__ import annotations

import time
from email.utils import formatdate

import pytest
from fake_mp import KEY, FakeMP, page

from elastic_atlas.inputs.cif import parse_cif
from elastic_atlas.inputs.mp_api import CappedRetry, MPAPIError, MPClient, iter_mp_api


def client(tmp_path, server: FakeMP, **kw) -> MPClient:
    options = {"retries": 3, "backoff": 0.001, "max_wait": 0.01, "timeout": (2.0, 2.0)}
    return MPClient(
        api_key=KEY, cache_dir=tmp_path / "cache", base_url=server.url, page_size=2,
        **{**options, **kw},
    )  # fmt: skip


def test_pagination_metadata_and_structures(tmp_path):
    with FakeMP([(200, page(0)), (200, page(1))]) as server:
        raws = list(iter_mp_api(client(tmp_path, server), band_gap_min=0.1))
    assert [r.material_id for r in raws] == ["mp-22862", "mp-66", "mp-1"]
    assert [q["_skip"] for _, q, _ in server.requests] == ["0", "2"]
    path, query, headers = server.requests[0]
    assert path == "/materials/summary/"
    assert query["band_gap_min"] == "0.1"
    assert query["_fields"] == "material_id,structure,band_gap,symmetry"
    assert headers["X-API-KEY"] == KEY
    nacl = raws[0]
    assert nacl.metadata == {"band_gap": 5.0, "crystal_system": "cubic", "space_group_number": 225}
    assert parse_cif(nacl.text).composition.reduced_formula == "NaCl"
    assert raws[2].text is None and raws[2].reason == "unreadable_structure"


def test_cache_answers_a_repeated_query_and_a_damaged_cache_is_refetched(tmp_path):
    with FakeMP([(200, page(0)), (200, page(1))] * 2) as server:
        list(iter_mp_api(client(tmp_path, server)))
        again = list(iter_mp_api(client(tmp_path, server)))
        assert len(again) == 3 and len(server.requests) == 2  # the second run asked nothing
        for cached in (tmp_path / "cache").glob("*.json"):
            cached.write_text(cached.read_text()[:100])  # a run killed while writing
        assert len(list(iter_mp_api(client(tmp_path, server)))) == 3
        assert len(server.requests) == 4  # the damaged pages were asked for again


def test_retries_429_and_5xx_honouring_retry_after_in_any_form(tmp_path):
    future = formatdate(time.time() + 3600, usegmt=True)  # an HTTP date, an hour ahead
    script = [
        (429, b"slow down", {"Retry-After": "7"}),
        (503, b"busy", {"Retry-After": future}),
        (502, b"bad gateway", {"Retry-After": "-5"}),
        (200, page(1)),
    ]
    with FakeMP(script) as server:
        start = time.monotonic()
        payload = client(tmp_path, server).get("/materials/summary/", {"q": 1})
    assert payload["meta"]["total_doc"] == 3
    assert len(server.requests) == 4
    assert time.monotonic() - start < 10  # the hour-long wait was capped


def test_retry_after_parsing_is_bounded():
    retry = CappedRetry(max_wait=60)
    assert retry.parse_retry_after("7") == 7
    assert retry.parse_retry_after("-5") == 0  # negative: no wait (backoff applies)
    assert retry.parse_retry_after("99999999") == 60  # huge: capped
    assert retry.parse_retry_after("tomorrow-ish") == 0  # unparsable: backoff applies
    in_30_s = formatdate(time.time() + 30, usegmt=True)
    assert 25 <= retry.parse_retry_after(in_30_s) <= 31
    assert retry.new(total=1).max_wait == 60  # the cap survives urllib3's copies


def test_read_timeouts_are_retried(tmp_path):
    with FakeMP([(200, page(1), {}, 1.0), (200, page(1))]) as server:
        payload = client(tmp_path, server, timeout=(2.0, 0.3)).get("/x", {})
    assert payload["meta"]["total_doc"] == 3 and len(server.requests) == 2


def test_gives_up_after_the_last_retry(tmp_path):
    with FakeMP([(500, b"boom")] * 4) as server, pytest.raises(MPAPIError) as error:
        client(tmp_path, server).get("/x", {})
    assert "HTTP 500" in str(error.value) and "after every retry" in str(error.value)
    assert len(server.requests) == 4  # the first try and 3 retries


@pytest.mark.parametrize(
    ("status", "body", "headers", "message"),
    [
        (401, f"<html>invalid key {KEY}</html>".encode(), {}, "key was refused"),
        (403, f'{{"detail": "key {KEY} forbidden"}}'.encode(), {}, "key was refused"),
        (200, b"<html>maintenance</html>", {"Content-Type": "text/html"}, "not JSON"),
        (200, b'{"data": [', {}, "not JSON"),  # malformed JSON
        (200, {"data": None}, {}, "no list of documents"),
        (200, {"data": ["mp-1", "mp-2"]}, {}, "no list of documents"),
        (200, [1, 2, 3], {}, "no list of documents"),
    ],
)
def test_bad_answers_are_one_clear_error_that_never_repeats_the_body(
    tmp_path, status, body, headers, message
):
    with FakeMP([(status, body, headers)]) as server, pytest.raises(MPAPIError) as error:
        client(tmp_path, server).get("/x", {})
    assert message in str(error.value)
    assert KEY not in str(error.value) and "html" not in str(error.value).lower().split("(")[0]
    assert not list((tmp_path / "cache").glob("*.json"))  # nothing bad was cached


def test_a_failure_after_the_first_page_is_an_error_not_a_short_table(tmp_path):
    with FakeMP([(200, page(0))] + [(503, b"down")] * 4) as server:
        raws = iter_mp_api(client(tmp_path, server))
        assert next(raws).material_id == "mp-22862"
        with pytest.raises(MPAPIError, match="HTTP 503"):
            list(raws)


def test_a_server_that_ignores_skip_is_detected(tmp_path):
    with FakeMP([(200, page(0))] * 3) as server, pytest.raises(MPAPIError, match="pagination"):
        list(iter_mp_api(client(tmp_path, server)))
    assert len(server.requests) == 2


def test_documents_with_text_for_numbers_are_rejected_inputs(tmp_path):
    bad = page(0)
    bad["data"][0]["band_gap"] = "1,5"
    bad["data"][1]["symmetry"]["number"] = "Fm-3m"
    bad["meta"]["total_doc"] = 2
    with FakeMP([(200, bad)]) as server:
        raws = list(iter_mp_api(client(tmp_path, server)))
    assert [r.reason for r in raws] == ["unreadable_structure", "unreadable_structure"]
    assert "band_gap" in raws[0].detail and "symmetry.number" in raws[1].detail


def test_needs_a_key(monkeypatch):
    monkeypatch.delenv("MP_API_KEY", raising=False)
    with pytest.raises(MPAPIError, match="MP_API_KEY"):
        MPClient()


def test_cache_goes_to_the_user_cache_folder_not_the_current_one(monkeypatch, tmp_path):
    monkeypatch.delenv("ELASTIC_ATLAS_CACHE", raising=False)
    monkeypatch.chdir(tmp_path)
    default = MPClient(api_key=KEY).cache_dir
    assert not default.resolve().is_relative_to(tmp_path.resolve())
    monkeypatch.setenv("ELASTIC_ATLAS_CACHE", str(tmp_path / "c"))
    assert MPClient(api_key=KEY).cache_dir == tmp_path / "c" / "mp_api"
