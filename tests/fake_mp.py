"""A scripted Materials Project server on 127.0.0.1 that stops by itself, and recorded pages."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

RECORDED = Path(__file__).parent / "fixtures" / "mp_api"
KEY = "secret-test-key-123"


def page(i: int) -> dict:
    return json.loads((RECORDED / f"summary-page-{i}.json").read_text())


class FakeMP:
    """A scripted HTTP server: each request takes the next (status, body, headers, delay)."""

    def __init__(self, script: list[tuple]) -> None:
        self.script = list(script)
        self.requests: list[tuple[str, dict, dict]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                fake.requests.append((url.path, query, dict(self.headers)))
                status, body, headers, delay = fake.next_answer(query)
                time.sleep(delay)
                data = json.dumps(body).encode() if isinstance(body, dict | list) else body
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (read time-out test)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.deadline = threading.Timer(60, self.server.shutdown)  # stops by itself
        self.deadline.daemon = True

    def next_answer(self, query: dict) -> tuple:
        if not self.script:
            return 500, b"script exhausted", {}, 0.0
        status, body, *rest = self.script.pop(0)
        headers = rest[0] if rest else {}
        delay = rest[1] if len(rest) > 1 else 0.0
        return status, body, headers, delay

    def __enter__(self) -> FakeMP:
        self.thread.start()
        self.deadline.start()
        return self

    def __exit__(self, *exc) -> None:
        self.deadline.cancel()
        self.server.shutdown()
        self.server.server_close()


class FakeMPDatabase(FakeMP):
    """A Materials Project that answers queries from its documents, as the summary endpoint
    does: `_fields`, `_skip`, `_limit` (capped at `max_limit`), `material_ids` and
    `band_gap_min`. `withdrawn` ids are listed but never returned by id (an entry withdrawn
    between the listing and the fetch); `ignore_filter` answers every query with everything."""

    def __init__(self, documents: list[dict], max_limit: int = 1000) -> None:
        super().__init__([])
        self.documents, self.max_limit = documents, max_limit
        self.withdrawn: set[str] = set()
        self.ignore_filter = False

    def next_answer(self, query: dict) -> tuple:
        chosen = self.documents
        if "material_ids" in query and not self.ignore_filter:
            asked = set(query["material_ids"].split(",")) - self.withdrawn
            by_id = {}  # an id is one document, however often a listing gave it
            for d in chosen:
                by_id.setdefault(d["material_id"], d)
            chosen = [d for m, d in by_id.items() if m in asked]
        if "band_gap_min" in query:
            low = float(query["band_gap_min"])
            chosen = [d for d in chosen if not isinstance(d.get("band_gap"), float) or
                      d["band_gap"] >= low]  # fmt: skip
        skip, limit = int(query.get("_skip", 0)), min(int(query["_limit"]), self.max_limit)
        fields = query["_fields"].split(",")
        data = [{k: d[k] for k in fields if k in d} for d in chosen[skip : skip + limit]]
        return 200, {"data": data, "meta": {"total_doc": len(chosen)}}, {}, 0.0


def document(material_id: str, structure, band_gap: float | None, number: int = 225) -> dict:
    """A summary document as the API gives it (structure as pymatgen's dict)."""
    return {
        "material_id": material_id,
        "band_gap": band_gap,
        "symmetry": {"crystal_system": "Cubic", "number": number},
        "structure": structure.as_dict(),
    }
