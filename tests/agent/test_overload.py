"""An overloaded agent sheds runs and counts them; it never reports a
healthy target as failing (issue 12). The decisions are pure and tested by
table; one test runs real probes against a real loopback HTTP server while
the agent's own loop is made to stall."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from agent.metrics import AgentMetrics
from agent.overload import LagMonitor, lagged, shed_reason
from agent.probe_kit.http_client import new_session
from agent.probes import ProbeContext
from agent.runner import ProbeRunner
from agent.scheduler import Scheduler
from common.config import CheckBase
from common.config.http import HttpCheck
from vantage.v1 import vantage_pb2 as pb


@pytest.mark.parametrize(
    ("now", "timeout", "why"),
    [
        (100.0, 10.0, None),
        (100.9, 10.0, None),
        (101.2, 10.0, "late"),
        (100.05, 0.3, "lagging"),
        (100.02, 0.3, None),
    ],
    ids=["on-time", "late-within-bound", "too-late", "lagging-short-timeout", "small-delay"],
)
def test_a_run_too_late_for_its_slot_is_shed_before_it_runs(
    now: float, timeout: float, why: str | None
) -> None:
    assert shed_reason(now, 100.0, 1.0, timeout) == why


@pytest.mark.parametrize(
    ("timeout", "lag", "shed"),
    [(10.0, 0.005, False), (10.0, 0.99, False), (10.0, 1.0, True), (0.3, 0.05, True)],
    ids=["healthy-loop", "under-a-tenth", "a-tenth-of-timeout", "short-timeout"],
)
def test_a_result_measured_during_loop_lag_is_shed(timeout: float, lag: float, shed: bool) -> None:
    assert lagged(timeout, lag) is shed


class _Ok(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *_args: object) -> None:
        pass


@contextmanager
def healthy_target() -> Iterator[str]:
    """A loopback HTTP server in its own thread: the agent's stalls never reach it."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def stall_the_loop(loop: asyncio.AbstractEventLoop, every: float, stall: float) -> None:
    """Block the agent's loop for `stall` seconds every `every` seconds, as
    a saturated CPU would."""

    def block() -> None:
        time.sleep(stall)  # the overload itself, not a wait in the test
        loop.call_later(every, block)

    loop.call_later(every, block)


async def test_an_overloaded_agent_sheds_runs_and_reports_no_false_failure() -> None:
    results: list[pb.Result] = []
    shed: list[str] = []
    with healthy_target() as url:
        checks = [
            HttpCheck(name=f"c{i}", url=f"{url}/c{i}", regions=("eu-west",), interval=1.0,
                      timeout=0.3, retry_after=0.5)
            for i in range(30)
        ]  # fmt: skip
        ctx = ProbeContext("agent-1", "eu-west", env={}, session_factory=new_session)
        lag = LagMonitor()
        lag.start()

        def on_shed(_check: CheckBase, why: str) -> None:
            shed.append(why)

        runner = ProbeRunner(ctx, results.append, AgentMetrics(), lag, on_shed)
        scheduler = Scheduler(runner, time.time, shed_after=0.5, on_shed=on_shed)
        scheduler.apply(checks)
        stall_the_loop(asyncio.get_running_loop(), every=0.3, stall=0.7)
        await asyncio.sleep(5.0)  # five intervals of an overloaded agent
        scheduler.stop()
        lag.stop()
        await ctx.close()
    failures = [(r.check, r.reason, r.message) for r in results if not r.success]
    assert failures == []
    assert len(shed) > 0
    assert len(results) > 0  # it still probes what it can
    assert {"late", "lagging", "loop_lag"} & set(shed)
