"""The collector's status page, read by Debian's headless Chromium against
a real collector with three real agents: every configured check is on the
page with its state, an outage among them; a screenshot is saved under
.tmp/screenshots/ (git-ignored) for a human to look at."""

from __future__ import annotations

import json
import re
import subprocess
import urllib.request
from pathlib import Path

import pytest

from tests.support.binaries import require_binary
from tests.support.net import get_json, http_get, wait_for
from tests.support.procs import ROOT, Procs

pytestmark = pytest.mark.integration

REGIONS = ("eu-west", "us-east", "ap-south")
SHOTS = ROOT / ".tmp" / "screenshots"
CHECKS = {"home": "up", "api-health": "up", "checkout": "outage"}


def _config(path: Path, target: str) -> Path:
    path.write_text(f"""\
defaults: {{interval: 1s, timeout: 800ms, regions: [{", ".join(REGIONS)}]}}
checks:
  - {{name: home, type: http, url: "{target}/", release_header: X-Release, labels: {{service: portal}}}}
  - {{name: api-health, type: http, url: "{target}/healthz", labels: {{service: api}}}}
  - {{name: checkout, type: http, url: "{target}/r/checkout", release_header: X-Release,
      labels: {{service: shop, severity: critical}}}}
  - {{name: nightly-backup, type: heartbeat, period: 1d, grace: 1h}}
""")
    return path


def chromium(tmp: Path, *args: str) -> str:
    """Run headless Chromium on loopback pages only; returns its stdout."""
    binary = require_binary("chromium", "chromium")
    done = subprocess.run(
        [binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", f"--user-data-dir={tmp / 'chromium'}", *args],
        capture_output=True, text=True, timeout=90, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _fail_checkout(target: str) -> None:
    request = urllib.request.Request(
        f"{target}/admin/fail",
        data=json.dumps({"fail": True, "path": "/r/checkout"}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:  # loopback
        assert response.status == 200


def test_status_page_in_headless_chromium(procs: Procs, demo_target: str, tmp_path: Path) -> None:
    require_binary("chromium", "chromium")
    _fail_checkout(demo_target)
    _, grpc_port, http_port = procs.collector(_config(tmp_path / "checks.yaml", demo_target))
    for region in REGIONS:
        procs.agent(grpc_port, region, agent_id=f"agent-{region}")
    base = f"http://127.0.0.1:{http_port}"

    def settled() -> bool:
        open_ = get_json(f"{base}/api/v1/incidents?open=1")["incidents"]
        checks = get_json(f"{base}/api/v1/checks")["checks"]
        home = next(c for c in checks if c["name"] == "home")
        return any(i["check"] == "checkout" for i in open_) and all(
            home["regions"][r]["last"] for r in REGIONS
        )

    wait_for(settled, 30, "an open checkout incident and home results from every region")
    dom = chromium(tmp_path, "--dump-dom", f"{base}/")
    for name, state in {**CHECKS, "nightly-backup": "pending"}.items():
        card = re.search(rf'<article[^>]*data-check="{name}"[^>]*data-state="(\w+)"', dom)
        assert card, f"{name} is not on the page"
        assert card.group(1) == state, (name, card.group(1))
    for region in REGIONS:
        assert f'data-region="{region}" data-state="up"' in dom
    assert 'data-overall="outage"' in dom
    assert "<svg" in dom
    assert re.search(r"class=\"release\">[^<]*demo-1\.0\.0<", dom), "no release attribution"
    assert "<script" not in dom and "https://" not in dom  # nothing from elsewhere
    SHOTS.mkdir(parents=True, exist_ok=True)
    for name, size in {"desktop": "1280,900", "phone": "390,844", "4k": "3840,2160"}.items():
        shot = SHOTS / f"status-{name}.png"
        shot.unlink(missing_ok=True)
        chromium(tmp_path, f"--screenshot={shot}", f"--window-size={size}", f"{base}/status")
        assert shot.stat().st_size > 5000, shot


def test_status_page_and_reads_can_be_closed_with_a_token(
    procs: Procs, demo_target: str, tmp_path: Path
) -> None:
    token = "fake-api-token-for-tests"
    _, _, http_port = procs.collector(
        _config(tmp_path / "checks.yaml", demo_target),
        env={"VANTAGE_PRIVATE": "1", "VANTAGE_API_TOKENS": token},
    )
    base = f"http://127.0.0.1:{http_port}"
    for path in ("/", "/status", "/api/v1/checks", "/api/v1/checks/home", "/api/v1/incidents"):
        assert http_get(f"{base}{path}")[0] == 401, path
        assert http_get(f"{base}{path}?token=wrong")[0] == 401, path
        assert http_get(f"{base}{path}?token={token}")[0] == 200, path
    assert http_get(f"{base}/healthz")[0] == 200  # probes stay open
    _, body = http_get(f"{base}/?token={token}")
    assert f"url=?token={token}" in body  # the refresh keeps the token
