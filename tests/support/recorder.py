"""A webhook recorder: a real HTTP server in a thread that keeps every POST."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Recorder:
    """Bodies received, per path, in arrival order."""

    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.posts: list[tuple[str, Any]] = []
        self.times: list[float] = []
        """time.monotonic() of each post's arrival."""
        self.lock = threading.Lock()

    def bodies(self, path: str) -> list[Any]:
        """The JSON bodies posted to `path` so far."""
        with self.lock:
            return [body for p, body in self.posts if p == path]


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[ThreadingHTTPServer]:
    """A real HTTP server with `handler` on a free loopback port, in a
    thread, until the block ends."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def recorder() -> Iterator[Recorder]:
    """Serve on a free loopback port until the block ends."""
    with serving(_Handler) as server:
        rec = Recorder(server.server_address[1])
        server.recorder = rec  # type: ignore[attr-defined]
        yield rec


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        raw = self.rfile.read(length)
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = raw.decode(errors="replace")
        rec: Recorder = self.server.recorder  # type: ignore[attr-defined]
        with rec.lock:
            rec.posts.append((self.path, body))
            rec.times.append(time.monotonic())
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean
