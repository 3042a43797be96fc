"""What on-call must get, through real processes: a collector, three agents,
a real target and a webhook recorder standing in for the pager.

- every agent dead: `MonitoringBlind` pages the pager (critical route);
- a collector restart while `LatencyHigh` fires: the restored SLO window
  keeps it firing although the target is fast again;
- one region failing is no page; a second one (the majority) pages once,
  naming those two regions, and resolves once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.integration.test_alerting import REGIONS, all_reporting, fleet, post
from tests.support.net import get_json, wait_for
from tests.support.procs import Procs
from tests.support.recorder import Recorder, recorder, serving

pytestmark = pytest.mark.integration


class _Slow(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        time.sleep(self.server.delay)  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Length", "3")
        self.end_headers()
        self.wfile.write(b"ok\n")

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def target() -> Iterator[ThreadingHTTPServer]:
    """A loopback target whose response delay the test sets (`.delay`)."""
    with serving(_Slow) as server:
        server.delay = 0.0  # type: ignore[attr-defined]
        yield server


@pytest.fixture
def hooks() -> Iterator[Recorder]:
    with recorder() as rec:
        yield rec


def _config(path: Path, url: str, hooks: Recorder) -> Path:
    path.write_text(f"""\
defaults: {{interval: 1s, timeout: 900ms, retry_after: 1s, stale_grace: 1s,
           regions: [eu-west, us-east, ap-south]}}
alerting:
  route:
    receivers: [chat]
    group_by: [alertname, check]
    group_wait: 0s
    group_interval: 1s
    routes:
      - match: {{severity: critical}}
        receivers: [pager]
  receivers:
    - {{name: pager, type: webhook, url: "{hooks.url}/pager"}}
    - {{name: chat, type: webhook, url: "{hooks.url}/chat"}}
checks:
  - name: home
    type: http
    url: {url}
    slo: {{p95_warning: 150ms, p95_critical: 250ms}}
    labels: {{severity: critical}}
""")
    return path


def _pages(hooks: Recorder, path: str) -> list[tuple[str, str]]:
    return [
        (b["status"], a["labels"]["alertname"]) for b in hooks.bodies(path) for a in b["alerts"]
    ]


def test_all_agents_dead_pages_the_pager(
    procs: Procs, target: ThreadingHTTPServer, hooks: Recorder, tmp_path: Path
) -> None:
    url = f"http://127.0.0.1:{target.server_address[1]}/"
    _, _, http_port, agents = fleet(procs, _config(tmp_path / "checks.yaml", url, hooks))
    wait_for(lambda: all_reporting(http_port), 20, "all regions reporting")
    for region in REGIONS:
        agents[region].stop()
    wait_for(lambda: ("firing", "MonitoringBlind") in _pages(hooks, "/pager"), 20, "the page")
    [page] = [
        b
        for b in hooks.bodies("/pager")
        if b["alerts"][0]["labels"]["alertname"] == "MonitoringBlind"
    ]
    assert page["alerts"][0]["annotations"]["checks"] == "home"
    assert page["summary"].startswith("[FIRING] MonitoringBlind")
    # The agents' own alerts are warnings for chat, never the pager.
    assert ("firing", "AgentDown") not in _pages(hooks, "/pager")
    assert ("firing", "CheckDown") not in _pages(hooks, "/pager")


def test_a_restart_keeps_slo_alerts(
    procs: Procs, target: ThreadingHTTPServer, hooks: Recorder, tmp_path: Path
) -> None:
    url = f"http://127.0.0.1:{target.server_address[1]}/"
    config = _config(tmp_path / "checks.yaml", url, hooks)
    target.delay = 0.3  # type: ignore[attr-defined]  # over p95_critical
    collector, grpc_port, http_port, _ = fleet(procs, config)
    wait_for(lambda: ("firing", "LatencyHigh") in _pages(hooks, "/pager"), 30, "LatencyHigh")
    target.delay = 0.0  # type: ignore[attr-defined]  # fast again: only the window remembers
    collector.stop()
    procs.collector(config, name="collector-2", grpc_port=grpc_port, http_port=http_port)
    wait_for(lambda: all_reporting(http_port), 20, "agents back")
    # Fresh results are fast; without the restored window the alert would
    # resolve at the first SLO evaluation with 5 fast samples (about 5 s).
    deadline = time.monotonic() + 12
    while time.monotonic() < deadline:
        assert ("resolved", "LatencyHigh") not in _pages(hooks, "/pager")
        time.sleep(0.5)
    assert _pages(hooks, "/pager").count(("firing", "LatencyHigh")) == 1  # no second page
    assert ("firing", "MonitoringBlind") not in _pages(hooks, "/pager")  # starts are not blind


def test_one_region_failing_is_no_page_two_are(
    procs: Procs, demo_target: str, hooks: Recorder, tmp_path: Path
) -> None:
    # Each agent probes its own path (the URL takes the region from the
    # agent's environment), so the target can fail for one region only.
    url = demo_target + "/r/${env:PROBE_REGION}"
    config = _config(tmp_path / "checks.yaml", url, hooks)
    _, grpc_port, http_port = procs.collector(config)
    for region in REGIONS:
        procs.agent(grpc_port, region, env={"PROBE_REGION": region})
    wait_for(lambda: all_reporting(http_port), 20, "all regions reporting")

    def fail(region: str, failing: bool) -> None:
        body = {"fail": failing, "path": f"/r/{region}"}
        assert post(f"{demo_target}/admin/fail", body)[0] == 200

    fail("us-east", True)
    api = f"http://127.0.0.1:{http_port}/api/v1/checks/home"
    # down after 2 failures at a 1 s interval; then 3 s more of it being down
    wait_for(lambda: not get_json(api)["regions"]["us-east"]["last"]["success"], 10, "failing")
    time.sleep(5)
    assert _pages(hooks, "/pager") == []
    fail("eu-west", True)
    wait_for(lambda: _pages(hooks, "/pager"), 15, "the page")
    [page] = hooks.bodies("/pager")
    assert page["alerts"][0]["annotations"]["regions"] == "eu-west, us-east"
    fail("eu-west", False)
    fail("us-east", False)
    wait_for(lambda: len(_pages(hooks, "/pager")) >= 2, 15, "the resolve")
    time.sleep(2)
    assert _pages(hooks, "/pager") == [("firing", "CheckDown"), ("resolved", "CheckDown")]
