"""`vantage smoke` and `vantage validate` as a pipeline would run them."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.agent.portal import PASSWORD
from tests.support.net import free_port, http_get, wait_for
from tests.support.procs import ROOT, Procs

pytestmark = pytest.mark.integration


@pytest.fixture
def portal(procs: Procs) -> str:
    port = free_port()
    procs.start("portal", [sys.executable, "-m", "tests.agent.portal", f"127.0.0.1:{port}"])
    url = f"http://127.0.0.1:{port}"
    wait_for(lambda: http_get(f"{url}/www/")[0] == 200, 10, "portal")
    return url


def config(tmp_path: Path, base: str) -> Path:
    path = tmp_path / "smoke.yaml"
    path.write_text(f"""\
defaults: {{interval: 60s, timeout: 3s}}
checks:
  - name: home
    type: http
    url: {base}/www/
    expect: {{status: [200], body_contains: Welcome}}
  - name: apex-to-www
    type: http
    url: {base}/apex/
    redirects: {{expect_chain: [{{status: 301, location: /www/}}]}}
  - name: login
    type: http_flow
    steps:
      - name: login
        method: POST
        url: {base}/api/login
        json: {{user: ops@example.com, password: "${{env:PORTAL_PASSWORD}}"}}
        expect: {{status: [200]}}
        extract: {{token: {{json: token}}}}
      - name: dashboard
        url: {base}/api/dashboard
        headers: {{Authorization: "Bearer ${{token}}"}}
        expect: {{status: [200]}}
      - name: create-report
        method: POST
        url: {base}/api/reports
        bearer_token: "${{token}}"
        expect: {{status: [201]}}
""")
    return path


def smoke(*args: str, password: str = PASSWORD) -> subprocess.CompletedProcess[str]:
    env = {
        "PORTAL_PASSWORD": password,
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": f"{ROOT}:{ROOT}/proto",  # this tree's generated code, not an install's
    }
    return subprocess.run(
        [sys.executable, "-m", "cli", "smoke", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_healthy_target_passes_and_junit_parses(portal: str, tmp_path: Path) -> None:
    junit = tmp_path / "out.xml"
    done = smoke(str(config(tmp_path, portal)), "--junit", str(junit))
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["check", "result", "latency", "reason"]
    assert [line.split()[:2] for line in lines[1:4]] == [
        ["home", "PASS"],
        ["apex-to-www", "PASS"],
        ["login", "PASS"],
    ]
    assert "3 passed, 0 failed" in done.stdout
    suite = ET.parse(junit).getroot()
    cases = [(c.get("classname"), c.get("name")) for c in suite.iter("testcase")]
    assert cases == [
        ("vantage.http", "home"),
        ("vantage.http", "apex-to-www"),
        ("vantage.http_flow", "login"),
        ("vantage.http_flow.login", "login"),
        ("vantage.http_flow.login", "dashboard"),
        ("vantage.http_flow.login", "create-report"),
    ]
    assert suite.get("failures") == "0" and suite.get("tests") == "6"
    assert PASSWORD not in done.stdout + done.stderr + junit.read_text()


def test_broken_target_fails_and_names_the_step(portal: str, tmp_path: Path) -> None:
    junit = tmp_path / "out.xml"
    done = smoke(str(config(tmp_path, portal)), "--junit", str(junit), password="wrong")
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("login"))
    assert lines[at].split()[1::3] == ["FAIL", "http_status"]
    assert lines[at + 1] == "    - login.http.status: status 401, want 200"  # each finding
    suite = ET.parse(junit).getroot()
    failed = [
        (c.get("classname"), c.get("name"))
        for c in suite.iter("testcase")
        if c.find("failure") is not None
    ]
    assert failed == [("vantage.http_flow", "login"), ("vantage.http_flow.login", "login")]
    assert suite.get("failures") == "2"  # the flow and its login step


def test_fail_fast_stops_and_only_selects(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    junit = tmp_path / "out.xml"
    done = smoke(str(config(tmp_path, dead)), "--fail-fast", "--junit", str(junit))
    assert done.returncode == 1
    assert "0 passed, 1 failed, 2 skipped" in done.stdout
    assert "connect_refused" in done.stdout
    assert ET.parse(junit).getroot().get("skipped") == "2"
    only = smoke(str(config(tmp_path, dead)), "--only", "nope")
    assert only.returncode == 2 and "no check named 'nope'" in only.stderr
    beat = smoke("deploy/examples/checks.yaml", "--only", "nightly-backup")
    assert beat.returncode == 2
    assert "check 'nightly-backup' is a heartbeat: there is nothing to run from here" in beat.stderr


def test_validate_reports_problems_with_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("checks:\n  - name: a\n    type: http\n    url: http://x/\n    timeout: 2m\n")
    done = subprocess.run(
        [sys.executable, "-m", "cli", "validate", str(bad)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "bad.yaml:5: check 'a': field 'timeout': timeout 120s must be shorter than interval 60s"
    )
    good = subprocess.run(
        [sys.executable, "-m", "cli", "validate", "deploy/examples/checks.yaml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert good.returncode == 0 and "4 checks, 2 receivers OK" in good.stdout


def test_every_finding_in_table_junit_and_json(portal: str, tmp_path: Path) -> None:
    path = tmp_path / "many.yaml"
    path.write_text(f"""\
checks:
  - name: home
    type: http
    url: {portal}/www/
    expect:
      body_contains: [Goodbye, Farewell]
      headers: {{x-release: v9, x-frame-options: DENY}}
""")
    want = [
        "header.x-release: 'v1.4.2', want 'v9'",
        "header.x-frame-options: missing",
        "body.contains: missing 'Goodbye'",
        "body.contains: missing 'Farewell'",
    ]
    table = smoke(str(path))
    assert table.returncode == 1
    assert table.stdout.splitlines()[2:6] == [f"    - {line}" for line in want]
    junit = tmp_path / "out.xml"
    done = smoke(str(path), "--format", "json", "--junit", str(junit))
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert report["summary"] == {"passed": 0, "failed": 1, "skipped": 0}
    (home,) = report["checks"]
    assert (home["name"], home["status"], home["reason"]) == ("home", "fail", "assertion")
    assert home["findings"] == want
    failure = ET.parse(junit).getroot().find("testcase/failure")
    assert failure is not None and failure.text == "\n".join(want)
