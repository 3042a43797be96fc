"""Fault-test parts that run in the test process: a counting HTTP target
and a TCP proxy that can cut or blackhole a link (both loopback only)."""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.support.net import http_get


class _QuietServer(ThreadingHTTPServer):
    """A probe cancelled mid-answer (an agent stopping) closes its socket;
    that is no error of the target's, so no traceback for it."""

    def handle_error(self, request: object, client_address: object) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class CountingTarget:
    """A threaded HTTP server answering 200 (500 while `failing`) and keeping
    each request's path, arrival time (time.monotonic()) and X-Request-ID."""

    def __init__(self) -> None:
        self.arrivals: dict[str, list[float]] = defaultdict(list)
        self.ids: list[str] = []
        self.failing = False
        self.lock = threading.Lock()
        target = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with target.lock:
                    target.arrivals[self.path].append(time.monotonic())
                    target.ids.append(self.headers.get("X-Request-ID", ""))
                    status = 500 if target.failing else 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *_args: object) -> None:
                pass

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def total(self) -> int:
        """Requests served so far."""
        with self.lock:
            return sum(len(times) for times in self.arrivals.values())

    def served(self) -> set[str]:
        """The request ids of the probes served so far."""
        with self.lock:
            return set(self.ids)

    def within(self, spans: list[tuple[float, float]]) -> int:
        """Requests that arrived within any of the (start, end) spans."""
        with self.lock:
            times = [t for ts in self.arrivals.values() for t in ts]
        return sum(1 for t in times if any(a <= t <= b for a, b in spans))

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()


class TcpProxy:
    """127.0.0.1:port -> 127.0.0.1:upstream_port, in a thread of its own.

    `partition("cut")` closes every connection and refuses new ones;
    `partition("blackhole")` keeps connections open and drops every byte, as
    a dead network path does. `heal()` closes what the partition touched and
    forwards again.
    """

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.mode: str | None = None
        self.loop = asyncio.new_event_loop()
        self.writers: set[asyncio.StreamWriter] = set()
        ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self.thread.start()
        ready.wait(5)

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(asyncio.start_server(self._accept, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        ready.set()
        self.loop.run_forever()
        server.close()
        tasks = asyncio.all_tasks(self.loop)
        for task in tasks:
            task.cancel()
        self.loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        self.loop.run_until_complete(server.wait_closed())
        self.loop.close()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.mode == "cut":
            writer.close()
            return
        self.writers.add(writer)
        if self.mode == "blackhole":
            await self._pipe(reader, None)
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.close()
            return
        self.writers.add(up_writer)
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter | None
    ) -> None:
        try:
            while data := await reader.read(65536):
                if writer is not None and self.mode is None:
                    writer.write(data)
                    await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            if writer is not None:
                writer.close()

    def _close_all(self) -> None:
        for writer in list(self.writers):
            writer.close()
        self.writers.clear()

    def partition(self, mode: str) -> None:
        """Start a partition: "cut" or "blackhole"."""
        self.mode = mode
        if mode == "cut":
            self.loop.call_soon_threadsafe(self._close_all)

    def heal(self) -> None:
        """End the partition; connections it touched are closed."""
        self.loop.call_soon_threadsafe(self._close_all)
        self.mode = None

    def close(self) -> None:
        """Stop the proxy."""
        self.loop.call_soon_threadsafe(self._close_all)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def collector_results(http_port: int) -> int:
    """Results the collector counted since it started (every check, region, outcome)."""
    status, body = http_get(f"http://127.0.0.1:{http_port}/metrics")
    assert status == 200
    return int(
        sum(
            float(line.rpartition(" ")[2])
            for line in body.splitlines()
            if line.startswith("vantage_probe_results_total{")
        )
    )


def agent_metric(http_port: int, name: str) -> float:
    """The sum of a metric's samples on an agent's /metrics; `name` may end
    with a label set (`name{why="late"}`) to pick one sample."""
    status, body = http_get(f"http://127.0.0.1:{http_port}/metrics")
    assert status == 200
    return sum(
        float(line.rpartition(" ")[2])
        for line in body.splitlines()
        if line.startswith((name + "{", name + " "))
    )
