"""Time from a target starting to fail to the page arriving at on-call.

One real collector, three real agents (eu-west, us-east, ap-south) and the
demo target. Five checks at a 10 s interval and five at 30 s, each on its
own path of the target, with the default `retry_after: 10s`. Each path is
switched to fail at a different moment, so each check is one independent
measurement with a random phase against its schedule; the clock stops when
the collector's webhook notification for that check reaches a local
receiver. Target: interval + retry_after + 5 s.

    python -m bench.detection
"""

from __future__ import annotations

import json
import random
import sys
import time
import urllib.request
from pathlib import Path

from bench._common import TOKEN as AGENT_TOKEN
from bench._common import (
    Procs,
    bench_procs,
    main_for,
    start_collector,
    wait_until,
)
from bench._figures import Row, median
from tests.support.net import free_port, http_get
from tests.support.recorder import Recorder, recorder

NAME = "detection"
INTERVALS = (10, 30)
RUNS = 5
RETRY_AFTER = 10
REGIONS = ("eu-west", "us-east", "ap-south")


def _config(path: Path, target: str, hook: str) -> Path:
    checks = [
        f"  - {{name: d{interval}-{i}, type: http, url: '{target}/r/d{interval}-{i}', "
        f"interval: {interval}s}}"
        for interval in INTERVALS
        for i in range(RUNS)
    ]
    path.write_text(
        f"defaults: {{timeout: 5s, retry_after: {RETRY_AFTER}s, regions: [{', '.join(REGIONS)}],"
        " labels: {severity: critical}}\n"
        "alerting:\n"
        "  route: {receivers: [oncall], group_by: [check], group_wait: 0s}\n"
        f"  receivers: [{{name: oncall, type: webhook, url: '{hook}'}}]\n"
        "checks:\n" + "\n".join(checks) + "\n"
    )
    return path


def _fail(target: str, name: str) -> None:
    body = json.dumps({"fail": True, "path": f"/r/{name}"}).encode()
    request = urllib.request.Request(f"{target}/admin/fail", data=body, method="POST")
    with urllib.request.urlopen(request, timeout=5):  # loopback only
        pass


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


def _measure(procs: Procs) -> dict[str, float]:
    port = free_port()
    procs.start(
        "target", [sys.executable, "-m", "deploy.demo.target", "--listen", f"127.0.0.1:{port}"]
    )
    target = f"http://127.0.0.1:{port}"
    wait_until(lambda: http_get(f"{target}/healthz")[0] == 200, 10, "demo target")
    with recorder() as rec:
        http_port = _start_fleet(procs, _config(procs.tmp / "checks.yaml", target, rec.url + "/p"))
        wait_until(lambda: _all_reporting(http_port), 60, "every check reporting from 3 regions")
        failed_at: dict[str, float] = {}
        names = [f"d{interval}-{i}" for interval in INTERVALS for i in range(RUNS)]
        random.Random(7).shuffle(names)
        for name in names:  # staggered: each failure meets its schedule at a random phase
            failed_at[name] = time.monotonic()
            _fail(target, name)
            time.sleep(random.uniform(0.5, 3.0))  # jitter, not crypto
        deadline = max(INTERVALS) + RETRY_AFTER + 30
        wait_until(lambda: len(_paged(rec)) == len(names), deadline, "a page for every check")
        paged = _paged(rec)
    return {name: paged[name] - failed_at[name] for name in names}


def run() -> list[Row]:
    """Measure every check's detection time and summarise per interval."""
    print(f"== {NAME}: target fails -> page at the webhook ({RUNS} runs per interval)")
    with bench_procs(NAME) as procs:
        delays = _measure(procs)
    rows = []
    for interval in INTERVALS:
        values = sorted(v for k, v in delays.items() if k.startswith(f"d{interval}-"))
        budget = interval + RETRY_AFTER + 5
        print(
            f"  interval {interval}s: min {values[0]:.1f}s  median {median(values):.1f}s  "
            f"max {values[-1]:.1f}s  (each: {', '.join(f'{v:.1f}' for v in values)})"
        )
        rows.append(
            Row(
                NAME,
                f"interval {interval}s, retry_after {RETRY_AFTER}s",
                f"median {median(values):.1f}s, max {values[-1]:.1f}s",
                f"min {values[0]:.1f}s",
                None,
                f"<= {budget}s",
                values[-1] <= budget,
            )
        )
    return rows


def main() -> None:
    """`python -m bench.detection`."""
    main_for(NAME, run)


if __name__ == "__main__":
    main()
