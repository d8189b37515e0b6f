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
                status, body, headers, delay = fake.next_answer()
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

    def next_answer(self) -> tuple:
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
