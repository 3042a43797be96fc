"""Time from a target starting to fail to the page, in the worst phase,
against the detection budget the config loader computes.

One real collector, three real agents (eu-west, us-east, ap-south) and the
demo target. Each check has its own path of the target. The worst phase is
a failure that starts just after a probe passed: the bench computes each
check's probe slot (the agent's stable phase) and switches its path to fail
right after one, so the first failing probe is a whole interval away. Half
the checks fail fast (503), half hang until the probe's timeout. The clock
stops when the collector's webhook notification for the check arrives.
Target: every page within the check's computed budget
(`common.config.detection.time_to_page`), itself within 2 minutes.

    python -m bench.detection
"""

from __future__ import annotations

import json
import sys
import time
import urllib.request
from pathlib import Path

from agent.scheduler import next_due, phase
from bench._common import TOKEN as AGENT_TOKEN
from bench._common import (
    Procs,
    bench_procs,
    main_for,
    start_collector,
    wait_until,
)
from bench._figures import Row, median
from common.config import load_config
from common.config.detection import DEFAULT_BUDGET, time_to_page
from tests.support.net import free_port, http_get
from tests.support.recorder import Recorder, recorder

NAME = "detection"
INTERVAL = 10
TIMEOUT = 3
RETRY_AFTER = 2
KINDS = ("error", "hang")
RUNS = 3
REGIONS = ("eu-west", "us-east", "ap-south")
AFTER_PROBE = 0.3
"""Seconds after a check's slot at which its target starts failing: the
probe of the healthy local target has passed by then."""


def _names() -> list[str]:
    return [f"{kind}-{i}" for kind in KINDS for i in range(RUNS)]


def _config(path: Path, target: str, hook: str) -> Path:
    checks = [f"  - {{name: {n}, type: http, url: '{target}/r/{n}'}}" for n in _names()]
    path.write_text(
        f"defaults: {{interval: {INTERVAL}s, timeout: {TIMEOUT}s, retry_after: {RETRY_AFTER}s,"
        f" regions: [{', '.join(REGIONS)}], labels: {{severity: critical}}}}\n"
        "alerting:\n"
        "  route: {receivers: [oncall], group_by: [check], group_wait: 0s}\n"
        f"  receivers: [{{name: oncall, type: webhook, url: '{hook}'}}]\n"
        "checks:\n" + "\n".join(checks) + "\n"
    )
    return path


def _fail(target: str, name: str) -> None:
    body = json.dumps({"fail": True, "path": f"/r/{name}", "hang": name.startswith("hang")})
    request = urllib.request.Request(f"{target}/admin/fail", data=body.encode(), method="POST")
    with urllib.request.urlopen(request, timeout=5):  # loopback only
        pass


def _fail_after_probes(target: str) -> dict[str, float]:
    """Switch each check's path to fail just after its probe; returns when
    (monotonic) each started failing. Slots are the agent's stable phases."""
    started: dict[str, float] = {}
    for name in sorted(_names(), key=lambda n: next_due(time.time(), INTERVAL, _offset(n))):
        slot = next_due(time.time() - AFTER_PROBE, INTERVAL, _offset(name))
        time.sleep(max(0.0, slot + AFTER_PROBE - time.time()))
        started[name] = time.monotonic()
        _fail(target, name)
    return started


def _offset(name: str) -> float:
    return phase(name, INTERVAL)


def _paged(rec: Recorder) -> dict[str, float]:
    """Check -> arrival time of its first firing page (recorder clock)."""
    firsts: dict[str, float] = {}
    with rec.lock:
        for (_, body), at in zip(rec.posts, rec.times, strict=True):
            if isinstance(body, dict) and body.get("status") == "firing":
                check = body["alerts"][0]["labels"].get("check", "")
                firsts.setdefault(check, at)
    return firsts


def _start_fleet(procs: Procs, config: Path) -> int:
    _, grpc_port, http_port = start_collector(procs, config)
    for region in REGIONS:
        argv = [
            sys.executable,
            "-m",
            "agent",
            "--collector",
            f"127.0.0.1:{grpc_port}",
            "--region",
            region,
            "--agent-id",
            f"bench-{region}",
            "--http-listen",
            f"127.0.0.1:{free_port()}",
            "--token",
            AGENT_TOKEN,
        ]
        procs.start(f"agent-{region}", argv)
    return http_port


def _all_reporting(http_port: int) -> bool:
    status, body = http_get(f"http://127.0.0.1:{http_port}/api/v1/checks")
    if status != 200:
        return False
    checks = json.loads(body)["checks"]
    return all(c["regions"][r]["last"] for c in checks for r in REGIONS)


def _measure(procs: Procs, config: Path) -> dict[str, float]:
    port = free_port()
    procs.start(
        "target", [sys.executable, "-m", "deploy.demo.target", "--listen", f"127.0.0.1:{port}"]
    )
    target = f"http://127.0.0.1:{port}"
    wait_until(lambda: http_get(f"{target}/healthz")[0] == 200, 10, "demo target")
    with recorder() as rec:
        http_port = _start_fleet(procs, _config(config, target, rec.url + "/p"))
        wait_until(lambda: _all_reporting(http_port), 60, "every check reporting from 3 regions")
        failed_at = _fail_after_probes(target)
        wait_until(lambda: len(_paged(rec)) == len(failed_at), 120, "a page for every check")
        paged = _paged(rec)
    return {name: paged[name] - failed_at[name] for name in failed_at}


def run() -> list[Row]:
    """Each kind's worst measured detection time against its computed budget."""
    print(f"== {NAME}: target fails just after a probe -> page at the webhook")
    with bench_procs(NAME) as procs:
        config = procs.tmp / "checks.yaml"
        delays = _measure(procs, config)
        budgets = {c.name: time_to_page(c) for c in load_config(config).checks}
    rows = []
    for kind in KINDS:
        names = [n for n in delays if n.startswith(kind)]
        worst, budget = max(delays[n] for n in names), max(budgets[n] for n in names)
        each = ", ".join(f"{delays[n]:.1f}" for n in sorted(names))
        print(f"  {kind}: worst {worst:.1f}s, budget {budget:.0f}s  (each: {each})")
        rows.append(
            Row(
                NAME,
                f"{kind}, worst phase (interval {INTERVAL}s, timeout {TIMEOUT}s, "
                f"retry_after {RETRY_AFTER}s)",
                f"worst {worst:.1f}s",
                f"median {median([delays[n] for n in names]):.1f}s",
                None,
                f"<= {budget:.0f}s (computed budget)",
                worst <= budget <= DEFAULT_BUDGET,
            )
        )
    return rows


def main() -> None:
    """`python -m bench.detection`."""
    main_for(NAME, run)


if __name__ == "__main__":
    main()
