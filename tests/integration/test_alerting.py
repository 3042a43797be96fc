"""Outage detection and alert routing through real processes: a collector,
three agents, a target that can be switched to fail, webhook receivers, an
SMTP server, Alertmanager, and heartbeats."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message

from tests.support.net import free_port, get_json, wait_for
from tests.support.procs import Proc, Procs
from tests.support.prom import start_alertmanager
from tests.support.recorder import Recorder, recorder

pytestmark = pytest.mark.integration

REGIONS = ("eu-west", "us-east", "ap-south")
API_TOKEN = "api-secret-token"


def post(url: str, body: dict[str, Any], token: str | None = None) -> tuple[int, Any]:
    """POST JSON; returns (status, decoded body)."""
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def switch(target: str, failing: bool) -> None:
    """Make the demo target answer 503 everywhere, or recover."""
    assert post(f"{target}/admin/fail", {"fail": failing})[0] == 200


class Mailbox(Message):
    """Keeps every message aiosmtpd receives."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[Any] = []

    def handle_message(self, message: Any) -> None:
        self.messages.append(message)


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


@pytest.fixture
def hooks() -> Iterator[Recorder]:
    with recorder() as rec:
        yield rec


def write(path: Path, checks: str, receivers: str, routes: str) -> Path:
    path.write_text(f"""\
defaults: {{interval: 5s, timeout: 2s, retry_after: 2s, stale_grace: 3s,
           regions: [eu-west, us-east, ap-south]}}
alerting:
  route:
    receivers: [oncall]
    group_by: [check]
    group_wait: 0s
    group_interval: 2s
    routes:
{routes}
  receivers:
{receivers}
checks:
{checks}
""")
    return path


def home_check(target: str) -> str:
    return f"""\
  - name: home
    type: http
    url: {target}/
    release_header: X-Release
    labels: {{severity: critical, service: portal}}
"""


def webhook_receivers(hooks: Recorder) -> str:
    return f"""\
    - {{name: oncall, type: webhook, url: "{hooks.url}/oncall"}}
    - {{name: ops, type: webhook, url: "{hooks.url}/ops"}}
"""


def fleet(procs: Procs, config: Path, **kw: Any) -> tuple[Proc, int, int, dict[str, Proc]]:
    collector, grpc_port, http_port = procs.collector(config, **kw)
    agents = {r: procs.agent(grpc_port, r)[0] for r in REGIONS}
    return collector, grpc_port, http_port, agents


def all_reporting(http_port: int, check: str = "home") -> bool:
    state = get_json(f"http://127.0.0.1:{http_port}/api/v1/checks/{check}")
    return all(state["regions"][r]["last"] for r in REGIONS)


def states(hooks: Recorder, path: str) -> list[tuple[str, str]]:
    """(status, alertname) of every notification at `path`."""
    return [(b["status"], b["alerts"][0]["labels"]["alertname"]) for b in hooks.bodies(path)]


def test_outage_pages_once_survives_a_restart_and_resolves_once(
    procs: Procs, demo_target: str, hooks: Recorder, mailbox: tuple[Mailbox, int], tmp_path: Path
) -> None:
    box, smtp_port = mailbox
    receivers = (
        webhook_receivers(hooks)
        + f"""\
    - {{name: mail, type: email, smtp: {{host: 127.0.0.1, port: {smtp_port}}},
       from: vantage@example.com, to: [oncall@example.com]}}
"""
    )
    routes = """\
      - match: {severity: critical}
        receivers: [oncall, mail]
      - match: {severity: warning}
        receivers: [ops]
"""
    config = write(tmp_path / "checks.yaml", home_check(demo_target), receivers, routes)
    env = {"VANTAGE_API_TOKENS": API_TOKEN}
    collector, grpc_port, http_port, _ = fleet(procs, config, env=env)
    wait_for(lambda: all_reporting(http_port), 20, "all regions reporting")
    deploy = {"service": "portal", "version": "v1.4.2"}
    assert post(f"http://127.0.0.1:{http_port}/api/v1/deploys", deploy)[0] == 401
    assert post(f"http://127.0.0.1:{http_port}/api/v1/deploys", deploy, API_TOKEN)[0] == 201

    failed_at = time.monotonic()
    switch(demo_target, failing=True)
    wait_for(lambda: hooks.bodies("/oncall"), 30, "the page")
    paged_after = time.monotonic() - failed_at
    assert paged_after <= 5 + 2 + 5  # interval + retry_after + 5 s
    page = hooks.bodies("/oncall")[0]
    alert = page["alerts"][0]
    assert (page["status"], alert["labels"]["alertname"]) == ("firing", "CheckDown")
    # A majority of live regions confirms it; the last may still be retrying.
    assert set(alert["details"]["regions"]) <= set(REGIONS)
    assert len(alert["details"]["regions"]) >= 2
    assert "http_status" in alert["annotations"]["description"]
    # The text names the deploy that went out just before it broke.
    assert "after deploy portal v1.4.2" in alert["annotations"]["summary"]
    assert len(alert["details"]["request_id"]) == 32

    wait_for(lambda: box.messages, 10, "the email")
    subject = box.messages[0]["Subject"]
    regions = ", ".join(sorted(alert["details"]["regions"]))
    assert subject == f"[FIRING] CheckDown home ({regions})"

    # Restart the collector mid-incident: it must not page again.
    collector.stop()
    procs.collector(config, name="collector-2", grpc_port=grpc_port, http_port=http_port)
    wait_for(
        lambda: any(
            a["labels"]["alertname"] == "CheckDown"
            for a in get_json(f"http://127.0.0.1:{http_port}/api/v1/alerts")["alerts"]
        ),
        20,
        "the incident restored after the restart",
    )
    time.sleep(8)  # more than an interval of failures reaching the new collector
    assert states(hooks, "/oncall") == [("firing", "CheckDown")]

    switch(demo_target, failing=False)
    wait_for(lambda: len(hooks.bodies("/oncall")) == 2, 40, "the resolve")
    time.sleep(6)  # nothing more comes: no ErrorRatioHigh, no repeat
    assert states(hooks, "/oncall") == [("firing", "CheckDown"), ("resolved", "CheckDown")]
    assert hooks.bodies("/ops") == []
    incidents = get_json(f"http://127.0.0.1:{http_port}/api/v1/incidents")["incidents"]
    assert len(incidents) == 1 and incidents[0]["resolved_at"]


def test_a_dead_agent_raises_agent_down_not_an_outage(
    procs: Procs, demo_target: str, hooks: Recorder, tmp_path: Path
) -> None:
    routes = """\
      - match: {severity: warning}
        receivers: [ops]
"""
    config = write(
        tmp_path / "checks.yaml", home_check(demo_target), webhook_receivers(hooks), routes
    )
    _, _, http_port, agents = fleet(procs, config)
    wait_for(lambda: all_reporting(http_port), 20, "all regions reporting")
    agents["us-east"].stop()
    wait_for(lambda: hooks.bodies("/ops"), 30, "AgentDown")
    time.sleep(3)
    notes = hooks.bodies("/ops")
    assert [n["alerts"][0]["labels"]["alertname"] for n in notes] == ["AgentDown"]
    labels = notes[0]["alerts"][0]["labels"]
    assert (labels["agent"], labels["region"], labels["severity"]) == (
        "agent-us-east",
        "us-east",
        "warning",
    )
    assert hooks.bodies("/oncall") == []


def test_heartbeat_missed_fires_after_period_and_grace_and_survives_restarts(
    procs: Procs, hooks: Recorder, tmp_path: Path
) -> None:
    checks = """\
  - name: nightly-backup
    type: heartbeat
    period: 3s
    grace: 1s
    labels: {severity: critical}
"""
    config = write(tmp_path / "checks.yaml", checks, webhook_receivers(hooks), "      []")
    env = {"VANTAGE_API_TOKENS": API_TOKEN}
    collector, grpc_port, http_port = procs.collector(config, env=env)
    api = f"http://127.0.0.1:{http_port}"
    assert post(f"{api}/api/v1/heartbeats/nightly-backup/token", {})[0] == 401
    status, shown = post(f"{api}/api/v1/heartbeats/nightly-backup/token", {}, API_TOKEN)
    assert status == 200 and len(shown["token"]) >= 22  # >= 128 bits, url-safe base64
    again = post(f"{api}/api/v1/heartbeats/nightly-backup/token", {}, API_TOKEN)
    assert again[0] == 409  # shown once
    assert post(f"{api}/api/v1/heartbeats/no-such-job/token", {}, API_TOKEN)[0] == 404
    token = shown["token"]

    assert post(f"{api}/ping/{token}", {})[0] == 200
    assert post(f"{api}/ping/not-a-token", {})[0] == 404
    pinged = time.monotonic()
    assert post(f"{api}/ping/{token}", {})[0] == 200
    # The collector goes down before the deadline, and comes back after it:
    # the restart must not make the late job look healthy.
    collector.stop()
    time.sleep(max(0.0, 4.5 - (time.monotonic() - pinged)))
    collector, _, _ = procs.collector(
        config, name="collector-2", env=env, grpc_port=grpc_port, http_port=http_port
    )
    wait_for(lambda: hooks.bodies("/oncall"), 10, "HeartbeatMissed")
    assert states(hooks, "/oncall") == [("firing", "HeartbeatMissed")]
    assert time.monotonic() - pinged >= 4.0

    collector.stop()
    procs.collector(config, name="collector-3", env=env, grpc_port=grpc_port, http_port=http_port)
    time.sleep(3)
    assert states(hooks, "/oncall") == [("firing", "HeartbeatMissed")]  # no second page
    assert post(f"{api}/ping/{token}", {})[0] == 200  # the job is back
    wait_for(lambda: len(hooks.bodies("/oncall")) == 2, 10, "the resolve")
    assert states(hooks, "/oncall")[1] == ("resolved", "HeartbeatMissed")
    logs = "".join(p.output() for p in procs.started)
    assert token not in logs


def test_alertmanager_receives_and_routes_by_severity(
    procs: Procs, demo_target: str, hooks: Recorder, tmp_path: Path
) -> None:
    alertmanager = start_alertmanager(procs, tmp_path, hooks.url)
    receivers = f"""\
    - {{name: oncall, type: alertmanager, url: "{alertmanager}", resend_interval: 2s}}
"""
    config = write(tmp_path / "checks.yaml", home_check(demo_target), receivers, "      []")
    _, _, http_port, agents = fleet(procs, config)
    wait_for(lambda: all_reporting(http_port), 20, "all regions reporting")
    switch(demo_target, failing=True)
    agents["ap-south"].stop()
    wait_for(lambda: hooks.bodies("/am/a"), 30, "CheckDown routed to receiver a")
    wait_for(lambda: hooks.bodies("/am/b"), 30, "AgentDown routed to receiver b")
    critical, warning = hooks.bodies("/am/a")[0], hooks.bodies("/am/b")[0]
    assert critical["version"] == "4" and critical["status"] == "firing"
    assert {a["labels"]["alertname"] for a in critical["alerts"]} == {"CheckDown"}
    assert {a["labels"]["alertname"] for a in warning["alerts"]} == {"AgentDown"}
    assert warning["alerts"][0]["labels"]["region"] == "ap-south"
    switch(demo_target, failing=False)
    wait_for(
        lambda: any(b["status"] == "resolved" for b in hooks.bodies("/am/a")),
        40,
        "the resolve through Alertmanager",
    )


def test_a_silence_mutes_the_page_until_it_ends(
    procs: Procs, hooks: Recorder, tmp_path: Path
) -> None:
    checks = """\
  - name: nightly-backup
    type: heartbeat
    period: 2s
    grace: 1s
    labels: {severity: critical}
"""
    config = write(tmp_path / "checks.yaml", checks, webhook_receivers(hooks), "      []")
    _, _, http_port = procs.collector(config, env={"VANTAGE_API_TOKENS": API_TOKEN})
    api = f"http://127.0.0.1:{http_port}"
    silence = {
        "matchers": {"check": "nightly-backup"},
        "ends_at": time.time() + 6,
        "comment": "restore test",
    }
    assert post(f"{api}/api/v1/silences", silence)[0] == 401
    status, added = post(f"{api}/api/v1/silences", silence, API_TOKEN)
    assert status == 201
    listed = get_json(f"{api}/api/v1/silences")["silences"]
    assert [s["id"] for s in listed] == [added["id"]]
    # The job starts once and never reports: the deadline passes while the
    # silence holds. (A job that never pinged at all is `new` and never alerts.)
    token = post(f"{api}/api/v1/heartbeats/nightly-backup/token", {}, API_TOKEN)[1]["token"]
    assert post(f"{api}/ping/{token}/start", {})[0] == 200
    assert get_json(f"{api}/api/v1/heartbeats")["heartbeats"][0]["state"] == "up"
    wait_for(lambda: get_json(f"{api}/api/v1/alerts")["alerts"], 10, "HeartbeatMissed firing")
    firing = get_json(f"{api}/api/v1/alerts")["alerts"][0]
    assert (firing["labels"]["alertname"], firing["silenced"]) == ("HeartbeatMissed", True)
    assert hooks.bodies("/oncall") == []
    # When the silence ends, the still-firing alert is news and pages.
    wait_for(lambda: hooks.bodies("/oncall"), 15, "the page after the silence")
    assert states(hooks, "/oncall") == [("firing", "HeartbeatMissed")]
