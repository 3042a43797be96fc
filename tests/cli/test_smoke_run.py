"""`vantage smoke` runs checks concurrently but bounded, and keeps file order."""

from __future__ import annotations

import asyncio
import io
import time

from aiohttp import web

from cli.smoke import Progress, run_checks
from common.config.http import HttpCheck
from tests.agent.conftest import ServeApp, serve_app
from vantage.v1 import vantage_pb2 as pb

__all__ = ["serve_app"]

DELAY = 0.05


async def test_checks_run_concurrently_within_the_bound(serve_app: ServeApp) -> None:
    inflight = {"now": 0, "max": 0}

    async def slow(_request: web.Request) -> web.Response:
        inflight["now"] += 1
        inflight["max"] = max(inflight["max"], inflight["now"])
        await asyncio.sleep(DELAY)
        inflight["now"] -= 1
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/slow", slow)
    base = await serve_app(app)
    checks = [HttpCheck(name=f"c{i:02d}", url=f"{base}/slow") for i in range(64)]
    started = time.perf_counter()
    results = await run_checks(checks, fail_fast=False, agent_id="t", concurrency=8)
    wall = time.perf_counter() - started
    assert [r.check for r in results] == [c.name for c in checks]  # file order
    assert all(r.success for r in results)
    assert 1 < inflight["max"] <= 8
    # One at a time would take at least 64 x DELAY.
    assert wall < 64 * DELAY / 3


def test_progress_shows_only_on_a_terminal() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty, pipe = Tty(), io.StringIO()
    for stream in (tty, pipe):
        progress = Progress(2, stream)
        progress.count(pb.Result(success=True))
        progress.count(pb.Result(success=False))
        progress.clear()
    assert "2/2 checks done, 1 failed" in tty.getvalue()
    assert tty.getvalue().endswith("\r\033[K")
    assert pipe.getvalue() == ""
